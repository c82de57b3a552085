-- Inventory: stock levels per (variant, location), the append-only movement ledger, holds.
-- on_hand is the sum of the movements of its (sku, location); the level row caches it and is
-- updated in the same transaction as the movement, by conditional writes only.

CREATE TABLE stock_levels (
    sku        TEXT NOT NULL REFERENCES variants (sku),
    location   TEXT NOT NULL REFERENCES locations (code),
    on_hand    BIGINT NOT NULL,
    held       BIGINT NOT NULL,
    safety     BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (sku, location),
    CHECK (held >= 0 AND held <= on_hand AND safety >= 0)
);
CREATE INDEX stock_levels_by_location ON stock_levels (location, sku);

CREATE TABLE stock_movements (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL,
    sku        TEXT NOT NULL,
    location   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    delta      BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    reference  TEXT,
    actor      TEXT NOT NULL,
    client_key TEXT,
    at         TEXT NOT NULL,
    FOREIGN KEY (sku, location) REFERENCES stock_levels (sku, location)
);
CREATE INDEX stock_movements_by_item ON stock_movements (sku, location, seq);
CREATE UNIQUE INDEX stock_movements_by_client_key ON stock_movements (client_key) WHERE client_key IS NOT NULL;

CREATE TABLE holds (
    id                 TEXT PRIMARY KEY,
    sku                TEXT NOT NULL,
    location           TEXT NOT NULL,
    quantity           BIGINT NOT NULL CHECK (quantity > 0),
    purpose            TEXT NOT NULL,
    owner_ref          TEXT NOT NULL,
    status             TEXT NOT NULL,
    committed_quantity BIGINT NOT NULL,
    expires_at         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    ended_at           TEXT,
    FOREIGN KEY (sku, location) REFERENCES stock_levels (sku, location)
);
CREATE INDEX holds_pending_by_expiry ON holds (expires_at) WHERE status = 'pending';
CREATE INDEX holds_by_owner ON holds (owner_ref);
