-- Customers: profiles, the identities that point to them (each to exactly one), behavioural
-- events, merges and merge reviews, the consent log, service interactions, segments.
-- A merged profile stays as a forwarding address (`merged_into`); an erased one keeps its id
-- and nothing personal, so orders and ledgers that name it stay consistent.

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    merged_into TEXT REFERENCES customers (id),
    given_name  TEXT,
    family_name TEXT,
    home_store  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     BIGINT NOT NULL
);
CREATE INDEX customers_by_home_store ON customers (home_store, id) WHERE home_store IS NOT NULL;
CREATE INDEX customers_by_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE customer_identities (
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    verified    BIGINT NOT NULL,
    channel     TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX customer_identities_by_customer ON customer_identities (customer_id);

CREATE TABLE customer_events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    channel       TEXT NOT NULL,
    type          TEXT NOT NULL,
    location_code TEXT,
    identifiers   TEXT NOT NULL,
    properties    TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,
    received_at   TEXT NOT NULL
);
CREATE INDEX customer_events_by_customer ON customer_events (customer_id, occurred_at);

CREATE TABLE customer_merges (
    id          TEXT PRIMARY KEY,
    survivor_id TEXT NOT NULL REFERENCES customers (id),
    absorbed_id TEXT NOT NULL REFERENCES customers (id),
    cause       TEXT NOT NULL,
    identifiers TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX customer_merges_by_survivor ON customer_merges (survivor_id);
CREATE INDEX customer_merges_by_absorbed ON customer_merges (absorbed_id);

CREATE TABLE merge_reviews (
    id          TEXT PRIMARY KEY,
    customer_a  TEXT NOT NULL REFERENCES customers (id),
    customer_b  TEXT NOT NULL REFERENCES customers (id),
    reason      TEXT NOT NULL,
    identifiers TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    decided_at  TEXT,
    decided_by  TEXT
);
CREATE UNIQUE INDEX merge_reviews_open_pair ON merge_reviews (customer_a, customer_b) WHERE status = 'open';

CREATE TABLE consents (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    customer_id    TEXT NOT NULL REFERENCES customers (id),
    purpose        TEXT NOT NULL,
    status         TEXT NOT NULL,
    channel        TEXT,
    method         TEXT NOT NULL,
    location_code  TEXT,
    notice_version TEXT NOT NULL,
    request_id     TEXT,
    staff_id       TEXT,
    recorded_at    TEXT NOT NULL,
    actor          TEXT NOT NULL
);
CREATE INDEX consents_by_customer ON consents (customer_id, seq);

CREATE TABLE interactions (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    medium        TEXT NOT NULL,
    direction     TEXT NOT NULL,
    summary       TEXT NOT NULL,
    agent         TEXT,
    location_code TEXT,
    refs          TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    actor         TEXT NOT NULL
);
CREATE INDEX interactions_by_customer ON interactions (customer_id, occurred_at);

CREATE TABLE segments (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     BIGINT NOT NULL
);
