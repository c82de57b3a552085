-- Which events belong to which profile, kept apart from the events. Events are appended in
-- sequence order and nothing else indexes them, so a batch's commit writes only the pages at
-- the log's end instead of one random page of a per-customer index per event. On SQLite the
-- keys are filled behind the log in large runs (`store::customer_events::index_tail`: before
-- any read that needs them, and every 5 seconds); on PostgreSQL in the ingesting command.
-- Merges move keys, never events: an event's `customer_id` is the profile it resolved to
-- when it arrived, the key names the profile it belongs to now.
--
-- The log itself loses its foreign key and AUTOINCREMENT: every event's profile is resolved,
-- and written first, in the ingesting command (the check cost a look-up per row), and events
-- are never deleted, so the largest sequence number + 1 never reuses one (AUTOINCREMENT kept
-- a counter row updated by every insert).
CREATE TABLE customer_events_log (
    seq           INTEGER PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    channel       TEXT NOT NULL,
    type          TEXT NOT NULL,
    location_code TEXT,
    identifiers   TEXT NOT NULL,
    properties    TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,
    received_at   TEXT NOT NULL
);
INSERT INTO customer_events_log
SELECT seq, customer_id, channel, type, location_code, identifiers, properties, occurred_at, received_at
  FROM customer_events;
DROP TABLE customer_events;
ALTER TABLE customer_events_log RENAME TO customer_events;

-- Identities are found by (kind, value) for every event: stored in that key's order, one
-- look-up reads the row (no second look-up by rowid) and an insert writes one tree, not two.
CREATE TABLE customer_identities_by_key (
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    verified    BIGINT NOT NULL,
    channel     TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
INSERT INTO customer_identities_by_key
SELECT kind, value, customer_id, verified, channel, created_at FROM customer_identities;
DROP TABLE customer_identities;
ALTER TABLE customer_identities_by_key RENAME TO customer_identities;
CREATE INDEX customer_identities_by_customer ON customer_identities (customer_id);

CREATE TABLE customer_event_keys (
    customer_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (customer_id, seq)
) WITHOUT ROWID;

-- The last event sequence number with a key (one row).
CREATE TABLE customer_event_index (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto BIGINT NOT NULL
);

INSERT INTO customer_event_keys (customer_id, seq) SELECT customer_id, seq FROM customer_events;
INSERT INTO customer_event_index (id, indexed_upto) SELECT 1, COALESCE(MAX(seq), 0) FROM customer_events;

-- Keying the log looks up, for each event, whether its profile was merged since: merged
-- profiles only, and the survivor beside the id, so the look-up reads this index alone.
CREATE INDEX customers_merged ON customers (id, merged_into) WHERE merged_into IS NOT NULL;
