-- Which events belong to which profile, kept apart from the events. Events are appended in
-- sequence order and nothing else indexes them, so a batch's commit writes only the pages at
-- the log's end instead of one random page of a per-customer index per event. On SQLite the
-- keys are filled behind the log in large runs (`store::customer_events::index_tail`: before
-- any read that needs them, and every 5 seconds); on PostgreSQL in the ingesting command.
-- Merges move keys, never events: an event's `customer_id` is the profile it resolved to
-- when it arrived, the key names the profile it belongs to now.
DROP INDEX customer_events_by_customer;
-- Every event's profile is resolved, and written first, in the ingesting command.
ALTER TABLE customer_events DROP CONSTRAINT IF EXISTS customer_events_customer_id_fkey;

CREATE TABLE customer_event_keys (
    customer_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (customer_id, seq)
);

-- The last event sequence number with a key (one row).
CREATE TABLE customer_event_index (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto BIGINT NOT NULL
);

INSERT INTO customer_event_keys (customer_id, seq) SELECT customer_id, seq FROM customer_events;
INSERT INTO customer_event_index (id, indexed_upto) SELECT 1, COALESCE(MAX(seq), 0) FROM customer_events;
