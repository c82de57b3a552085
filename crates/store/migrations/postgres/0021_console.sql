-- Console users: named staff with one role, bound to stores, signing in with a password kept
-- as an argon2id hash. Five wrong passwords in a row lock an account for a while
-- (`locked_until`). A session is found by the SHA-256 of its random token (the cookie holds
-- the token itself) and ends at `expires_at` or when it is signed out.
CREATE TABLE staff_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'store_manager', 'associate', 'service_agent', 'marketer')),
    stores        TEXT NOT NULL,
    language      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active        BIGINT NOT NULL,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       BIGINT NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES staff_users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX staff_sessions_by_user ON staff_sessions (user_id);

-- The KPIs read a store's orders of a period — from the index alone for orders not yet
-- handed over (it holds every column they need) — and a channel's carts of a period.
CREATE INDEX orders_by_location_created ON orders (location, created_at, state, mode, channel, currency, total_minor, customer_id, owner_kind, owner_name);
CREATE INDEX carts_by_channel_created ON carts (channel, created_at);
CREATE INDEX returns_by_created ON returns (created_at);
