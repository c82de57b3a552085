-- Orders: carts (one active per customer; an anonymous cart is known by its id, its token),
-- orders with a fulfilment mode and state, their lines (with the hold that keeps their stock
-- and what was sold and returned), payments (amounts authorised, captured, refunded),
-- state history, returns and their lines, store credit.

CREATE TABLE carts (
    id                 TEXT PRIMARY KEY,
    customer_id        TEXT REFERENCES customers (id),
    channel            TEXT NOT NULL,
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL,
    merged_into        TEXT,
    order_id           TEXT,
    handoff_code       TEXT,
    handoff_expires_at TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    version            BIGINT NOT NULL
);
CREATE UNIQUE INDEX carts_active_by_customer ON carts (customer_id) WHERE status = 'active' AND customer_id IS NOT NULL;
CREATE UNIQUE INDEX carts_by_handoff_code ON carts (handoff_code) WHERE handoff_code IS NOT NULL;

CREATE TABLE cart_lines (
    cart_id       TEXT NOT NULL REFERENCES carts (id),
    sku           TEXT NOT NULL REFERENCES variants (sku),
    quantity      BIGINT NOT NULL CHECK (quantity > 0),
    hold_id       TEXT,
    hold_location TEXT,
    position      BIGINT NOT NULL,
    PRIMARY KEY (cart_id, sku)
);

CREATE TABLE orders (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT REFERENCES customers (id),
    cart_id       TEXT,
    channel       TEXT NOT NULL,
    mode          TEXT NOT NULL,
    state         TEXT NOT NULL,
    location      TEXT REFERENCES locations (code),
    owner_kind    TEXT,
    owner_name    TEXT,
    currency      TEXT NOT NULL,
    total_minor   BIGINT NOT NULL CHECK (total_minor >= 0),
    pickup_code   TEXT,
    receipt_token TEXT NOT NULL UNIQUE,
    deadline_at   TEXT,
    routing       TEXT,
    exchange_of   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       BIGINT NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, id) WHERE customer_id IS NOT NULL;
CREATE INDEX orders_by_queue ON orders (location, state, id);
CREATE INDEX orders_due ON orders (deadline_at) WHERE deadline_at IS NOT NULL;

CREATE TABLE order_lines (
    order_id         TEXT NOT NULL REFERENCES orders (id),
    line_no          BIGINT NOT NULL,
    sku              TEXT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    location         TEXT NOT NULL,
    hold_id          TEXT,
    sold             BIGINT NOT NULL,
    returned         BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no),
    CHECK (sold >= 0 AND sold <= quantity AND returned >= 0 AND returned <= sold)
);

CREATE TABLE payments (
    id           TEXT NOT NULL,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    method       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    authorised   BIGINT NOT NULL,
    captured     BIGINT NOT NULL,
    refunded     BIGINT NOT NULL,
    voided       BIGINT NOT NULL,
    provider_ref TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (order_id, id),
    CHECK (captured >= 0 AND captured <= authorised AND refunded >= 0 AND refunded <= captured)
);

CREATE TABLE order_history (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   TEXT NOT NULL REFERENCES orders (id),
    transition TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    location   TEXT,
    actor      TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX order_history_by_order ON order_history (order_id, seq);

CREATE TABLE returns (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders (id),
    location        TEXT NOT NULL REFERENCES locations (code),
    by_mail         BIGINT NOT NULL,
    method          TEXT NOT NULL,
    value_minor     BIGINT NOT NULL,
    refund_minor    BIGINT NOT NULL,
    paid_minor      BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    exchange_order  TEXT,
    store_credit_id TEXT,
    actor           TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX returns_by_order ON returns (order_id);

CREATE TABLE return_lines (
    return_id    TEXT NOT NULL REFERENCES returns (id),
    line_no      BIGINT NOT NULL,
    sku          TEXT NOT NULL,
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    condition    TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (return_id, line_no)
);

CREATE TABLE store_credits (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT REFERENCES customers (id),
    currency      TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    balance_minor BIGINT NOT NULL CHECK (balance_minor >= 0),
    return_id     TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX store_credits_by_customer ON store_credits (customer_id);

-- Nothing reads these, yet every event and every hold paid for them (the NATS publisher
-- keeps a cursor; holds are found by id, an order's through its lines).
DROP INDEX outbox_unpublished;
DROP INDEX holds_by_owner;
