-- The offline till: a till belongs to one store and uploads what it did while offline as
-- numbered batches; a batch applies once, in the till's order (`last_seq`), and its answer is
-- kept for replays. A sale that found the store short, points or a gift card spent beyond
-- their balance, or a coupon used elsewhere is recorded anyway and opens a conflict in the
-- store's queue.
CREATE TABLE tills (
    id            TEXT PRIMARY KEY,
    location      TEXT NOT NULL REFERENCES locations (code),
    channel       TEXT NOT NULL,
    last_seq      BIGINT NOT NULL CHECK (last_seq >= 0),
    last_batch_at TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE till_batches (
    till_id     TEXT NOT NULL REFERENCES tills (id),
    seq         BIGINT NOT NULL,
    digest      TEXT NOT NULL,
    answer      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    actor       TEXT NOT NULL,
    PRIMARY KEY (till_id, seq)
);

CREATE TABLE pos_conflicts (
    id          TEXT PRIMARY KEY,
    location    TEXT NOT NULL REFERENCES locations (code),
    till_id     TEXT NOT NULL,
    batch_seq   BIGINT NOT NULL,
    receipt     TEXT NOT NULL,
    order_id    TEXT,
    kind        TEXT NOT NULL CHECK (kind IN ('stock', 'points', 'coupon', 'gift_card')),
    sku         TEXT,
    customer_id TEXT,
    reference   TEXT,
    short       BIGINT NOT NULL,
    detail      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution  TEXT CHECK (resolution IN ('transfer', 'cancel_online', 'accept')),
    resolved_by TEXT,
    resolved_at TEXT,
    note        TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX pos_conflicts_queue ON pos_conflicts (location, status, created_at);

-- A member's tier counts the points earned over a period: read from the index alone, however
-- long the member's history (every sale that earns re-reads it).
CREATE INDEX loyalty_entries_toward_tier ON loyalty_entries (customer_id, at, kind, points);

ALTER TABLE orders ADD COLUMN till_id TEXT;
ALTER TABLE orders ADD COLUMN till_receipt TEXT;
CREATE UNIQUE INDEX orders_by_till_receipt ON orders (till_id, till_receipt) WHERE till_id IS NOT NULL;

-- An offline sale may take a store below what is held, or below zero.
ALTER TABLE stock_levels DROP CONSTRAINT IF EXISTS stock_levels_check;
ALTER TABLE stock_levels ADD CONSTRAINT stock_levels_check CHECK (held >= 0 AND safety >= 0);
