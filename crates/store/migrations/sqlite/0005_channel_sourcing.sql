-- Which locations each channel may promise from, and the stock it keeps back (a JSON
-- `SourcingPolicy`). A channel without a row uses the default for its kind.
CREATE TABLE channel_sourcing (
    channel    TEXT PRIMARY KEY REFERENCES channels (code),
    policy     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The channel a hold was promised on (its sourcing policy and safety stock applied).
ALTER TABLE holds ADD COLUMN channel TEXT;
