-- Loyalty: the programme is one document; a member is a profile enrolled in it, with a tier
-- and a balance that a conditional write keeps at or above zero; the ledger appends one entry
-- per movement of points, unique per (kind, source) so an order earns once however often it
-- is retried.
CREATE TABLE loyalty_programme (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    document   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version    BIGINT NOT NULL
);

CREATE TABLE loyalty_members (
    customer_id      TEXT PRIMARY KEY REFERENCES customers (id),
    tier             TEXT NOT NULL,
    balance          BIGINT NOT NULL CHECK (balance >= 0),
    status           TEXT NOT NULL,
    channel          TEXT,
    next_expiry_at   TEXT,
    enrolled_at      TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    version          BIGINT NOT NULL
);
CREATE INDEX loyalty_members_expiring ON loyalty_members (next_expiry_at) WHERE next_expiry_at IS NOT NULL;

CREATE TABLE loyalty_entries (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    customer_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    points        BIGINT NOT NULL CHECK (points <> 0),
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    source        TEXT NOT NULL,
    order_id      TEXT,
    channel       TEXT,
    location      TEXT,
    reason        TEXT,
    expires_at    TEXT,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL
);
CREATE UNIQUE INDEX loyalty_entries_once ON loyalty_entries (kind, source);
CREATE INDEX loyalty_entries_by_member ON loyalty_entries (customer_id, seq);
CREATE INDEX loyalty_entries_by_order ON loyalty_entries (order_id) WHERE order_id IS NOT NULL;
