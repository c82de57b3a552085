-- Where each outbox reader (the NATS publisher) has got to. On SQLite one writer commits in
-- sequence order, so a position is the sequence number alone (`txid` stays 0).
CREATE TABLE outbox_cursors (
    name       TEXT PRIMARY KEY,
    txid       BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
