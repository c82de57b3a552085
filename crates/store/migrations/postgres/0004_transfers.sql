-- Transfers between locations (ship-to-store): out at the source when shipped, in transit,
-- in at the destination when received. In-transit units are shown, never promised.
CREATE TABLE transfers (
    id            TEXT PRIMARY KEY,
    sku           TEXT NOT NULL,
    from_location TEXT NOT NULL,
    to_location   TEXT NOT NULL REFERENCES locations (code),
    quantity      BIGINT NOT NULL CHECK (quantity > 0),
    status        TEXT NOT NULL,
    reference     TEXT,
    created_at    TEXT NOT NULL,
    received_at   TEXT,
    FOREIGN KEY (sku, from_location) REFERENCES stock_levels (sku, location)
);
CREATE INDEX transfers_in_transit ON transfers (sku, to_location) WHERE status = 'in_transit';
