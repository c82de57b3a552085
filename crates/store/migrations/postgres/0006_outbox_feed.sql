-- Reading the outbox in commit order. Sequence numbers are taken when rows are inserted, not
-- when they commit, so on PostgreSQL a reader that followed `seq` alone could pass a number
-- whose transaction commits later and miss it. Each row records its transaction id; a reader
-- reads in (txid, seq) order and only transactions older than every running one (below the
-- snapshot's xmin), which can no longer gain rows.
ALTER TABLE outbox ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX outbox_in_commit_order ON outbox (txid, seq);

-- Where each outbox reader (the NATS publisher) has got to.
CREATE TABLE outbox_cursors (
    name       TEXT PRIMARY KEY,
    txid       BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
