-- Events the resolver set aside: an event that fails resolution on its own (a corrupt row,
-- a bug) no longer holds every later event unresolved. Its error is kept for the operator;
-- the event stays in the log, without a profile.
CREATE TABLE customer_event_quarantine (
    seq        INTEGER PRIMARY KEY,
    code       TEXT NOT NULL,
    message    TEXT NOT NULL,
    set_at     TEXT NOT NULL
);
