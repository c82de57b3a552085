-- A store lists the transfers arriving there and leaving it, oldest first.
CREATE INDEX transfers_by_destination ON transfers (to_location, id);
CREATE INDEX transfers_by_source ON transfers (from_location, id);
