-- Schema parity with SQLite, where the resolver behind the log sets aside an event that
-- fails resolution on its own. PostgreSQL resolves events as it stores them (a failure
-- fails the request), so nothing is set aside here.
CREATE TABLE customer_event_quarantine (
    seq        BIGINT PRIMARY KEY,
    code       TEXT NOT NULL,
    message    TEXT NOT NULL,
    set_at     TEXT NOT NULL
);
