-- Loyalty and the offline till.
--
-- The programme is one document. A member is a profile enrolled in it, with a tier and a
-- balance that a conditional write keeps at or above zero; the ledger appends one entry per
-- movement of points, unique per (kind, source) so an order earns once however often it is
-- retried. A till's offline work arrives in batches of numbered operations: the till's
-- high-water mark makes every operation apply once, in order; the sales it records may take
-- a store's stock below zero (so stock_levels loses `held <= on_hand`), and what it could not
-- honour becomes a conflict for the store to resolve.
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

CREATE TABLE tills (
    till       TEXT PRIMARY KEY,
    location   TEXT NOT NULL REFERENCES locations (code),
    channel    TEXT NOT NULL,
    last_seq   BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE till_batches (
    till        TEXT NOT NULL,
    batch_id    TEXT NOT NULL,
    first_seq   BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL,
    applied     BIGINT NOT NULL,
    duplicates  BIGINT NOT NULL,
    conflicts   BIGINT NOT NULL,
    outcomes    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (till, batch_id)
);

CREATE TABLE pos_conflicts (
    id          TEXT PRIMARY KEY,
    location    TEXT NOT NULL,
    till        TEXT NOT NULL,
    till_seq    BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    order_id    TEXT,
    sku         TEXT,
    customer_id TEXT,
    detail      TEXT NOT NULL,
    status      TEXT NOT NULL,
    resolution  TEXT,
    note        TEXT,
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT
);
CREATE INDEX pos_conflicts_open ON pos_conflicts (location, created_at) WHERE status = 'open';

ALTER TABLE orders ADD COLUMN till TEXT;
ALTER TABLE orders ADD COLUMN till_seq BIGINT;
CREATE UNIQUE INDEX orders_by_till ON orders (till, till_seq) WHERE till IS NOT NULL;

-- An offline sale may take a store below what is held, or below zero.
ALTER TABLE stock_levels DROP CONSTRAINT stock_levels_check;
ALTER TABLE stock_levels ADD CONSTRAINT stock_levels_check CHECK (held >= 0 AND safety >= 0);
