-- Notifications: the retailer's rules (one row per rule that was configured; the others run
-- on their defaults), every firing of a rule (keyed so an occasion fires once, scheduled until
-- due, then sent, skipped with its reason, or cancelled), the last offer per person for rules
-- limited per person, customers' back-in-stock requests, and how a customer likes to be
-- written to.
CREATE TABLE notification_rules (
    rule       TEXT PRIMARY KEY,
    config     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version    BIGINT NOT NULL
);

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    dedup_key   TEXT NOT NULL UNIQUE,
    rule        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    subject     TEXT NOT NULL,
    channel     TEXT,
    status      TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    lease_until TEXT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    medium      TEXT,
    recipient   TEXT,
    language    TEXT,
    title       TEXT,
    reason      TEXT,
    outcome     TEXT,
    context     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX notifications_due ON notifications (due_at) WHERE status = 'scheduled';
CREATE INDEX notifications_by_customer ON notifications (customer_id, created_at);
CREATE INDEX notifications_by_rule ON notifications (rule, created_at);

CREATE TABLE notification_throttle (
    rule        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    PRIMARY KEY (rule, customer_id)
);

CREATE TABLE stock_alerts (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    sku         TEXT NOT NULL REFERENCES variants (sku),
    location    TEXT NOT NULL REFERENCES locations (code),
    channel     TEXT,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    notified_at TEXT
);
CREATE UNIQUE INDEX stock_alerts_open ON stock_alerts (customer_id, sku, location) WHERE status = 'open';
CREATE INDEX stock_alerts_by_item ON stock_alerts (sku, location) WHERE status = 'open';

ALTER TABLE customers ADD COLUMN language TEXT;
ALTER TABLE customers ADD COLUMN contact_medium TEXT;
ALTER TABLE customers ADD COLUMN time_zone TEXT;

-- Webhook claims: the deliveries that hold a subject back (leased; retrying ones are found
-- through webhook_deliveries_due) and the pending ones in order, so a claim costs what it
-- takes, not the backlog behind a receiver that was down or a dispatcher that gave way.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (subscription_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (subscription_id, lease_until)
    WHERE status = 'pending' AND lease_until IS NOT NULL;
DROP INDEX webhook_deliveries_pending_by_subject;
