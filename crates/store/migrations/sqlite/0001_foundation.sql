-- Foundation: catalogue, locations, channels, prices, API keys, idempotency, outbox.
-- Portable types only: TEXT, BIGINT, DOUBLE PRECISION. Timestamps are fixed-width UTC text,
-- money is BIGINT minor units, JSON documents are TEXT.

CREATE TABLE products (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT,
    brand       TEXT,
    category    TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    images      TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX products_by_category ON products (category, id);

CREATE TABLE variants (
    sku         TEXT PRIMARY KEY,
    product_id  TEXT NOT NULL REFERENCES products (id),
    position    BIGINT NOT NULL,
    gtin        TEXT UNIQUE,
    title       TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX variants_by_product ON variants (product_id, position);

CREATE TABLE locations (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    address       TEXT NOT NULL,
    latitude      DOUBLE PRECISION NOT NULL,
    longitude     DOUBLE PRECISION NOT NULL,
    time_zone     TEXT NOT NULL,
    opening_hours TEXT NOT NULL,
    owner_kind    TEXT NOT NULL,
    owner_name    TEXT NOT NULL,
    capabilities  TEXT NOT NULL,
    phone         TEXT,
    email         TEXT,
    active        BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE channels (
    code          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    location_code TEXT REFERENCES locations (code),
    created_at    TEXT NOT NULL
);

CREATE TABLE prices (
    sku          TEXT NOT NULL REFERENCES variants (sku),
    currency     TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (sku, currency)
);

CREATE TABLE price_overrides (
    sku          TEXT NOT NULL,
    currency     TEXT NOT NULL,
    channel      TEXT NOT NULL REFERENCES channels (code),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    reason       TEXT NOT NULL CHECK (length(reason) >= 3),
    starts_at    TEXT,
    ends_at      TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (sku, currency, channel),
    FOREIGN KEY (sku, currency) REFERENCES prices (sku, currency)
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- UUIDv7 made by Relais: unique by construction, so no index is paid for on every write.
    id           TEXT NOT NULL,
    type         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    time         TEXT NOT NULL,
    envelope     TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
