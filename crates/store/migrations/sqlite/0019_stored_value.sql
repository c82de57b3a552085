-- Stored value: gift cards and store credit are accounts of one kind, each with a balance that
-- a conditional write keeps at or above zero and a ledger that appends one entry per movement.
-- A gift card is found by the SHA-256 of its code (random, 16 characters) and proven by its
-- PIN, kept as an argon2 hash; neither is stored in clear.
CREATE TABLE stored_value (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('credit', 'gift_card')),
    status        TEXT NOT NULL CHECK (status IN ('active', 'void')),
    customer_id   TEXT REFERENCES customers (id),
    currency      TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    balance_minor BIGINT NOT NULL CHECK (balance_minor >= 0),
    code_hash     TEXT UNIQUE,
    code_hint     TEXT,
    pin_hash      TEXT,
    pin_failures  BIGINT NOT NULL DEFAULT 0,
    expires_at    TEXT,
    return_id     TEXT,
    order_id      TEXT,
    reason        TEXT,
    issued_by     TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX stored_value_by_customer ON stored_value (customer_id);
CREATE INDEX stored_value_by_order ON stored_value (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX stored_value_expiring ON stored_value (expires_at) WHERE expires_at IS NOT NULL AND balance_minor > 0;

CREATE TABLE stored_value_entries (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL REFERENCES stored_value (id),
    kind          TEXT NOT NULL CHECK (kind IN ('issue', 'spend', 'give_back', 'expire', 'void')),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor <> 0),
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    order_id      TEXT,
    reason        TEXT,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL
);
CREATE INDEX stored_value_entries_by_account ON stored_value_entries (account_id, seq);

-- Credits issued by returns before this ledger: one issue entry each, and what was spent since
-- as one spend.
INSERT INTO stored_value (id, kind, status, customer_id, currency, amount_minor, balance_minor, return_id, issued_by, created_at)
SELECT id, 'credit', 'active', customer_id, currency, amount_minor, balance_minor, return_id, 'system', created_at FROM store_credits;
INSERT INTO stored_value_entries (account_id, kind, amount_minor, balance_after, at, actor)
SELECT id, 'issue', amount_minor, amount_minor, created_at, 'system' FROM store_credits;
INSERT INTO stored_value_entries (account_id, kind, amount_minor, balance_after, reason, at, actor)
SELECT id, 'spend', balance_minor - amount_minor, balance_minor, 'before the ledger', created_at, 'system'
FROM store_credits WHERE balance_minor <> amount_minor;
DROP TABLE store_credits;
