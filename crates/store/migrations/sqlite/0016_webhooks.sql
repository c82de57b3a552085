-- Webhooks: subscriptions (URL, event types, secret and the previous one while rotated,
-- status), and one delivery per subscription and event: its attempts, when the next is due,
-- and the lease a node holds while it sends it (so several nodes deliver each once).
CREATE TABLE webhook_subscriptions (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT,
    event_types     TEXT NOT NULL,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  TEXT,
    status          TEXT NOT NULL,
    disabled_reason TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id),
    seq             BIGINT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    PRIMARY KEY (subscription_id, seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
-- What holds a delivery back: earlier pending ones of its subject (only those: a subject's
-- delivered rows would make every claim scan its whole history).
CREATE INDEX webhook_deliveries_pending_by_subject ON webhook_deliveries (subscription_id, subject, seq)
    WHERE status = 'pending';
