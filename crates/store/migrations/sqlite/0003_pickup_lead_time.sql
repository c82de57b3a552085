-- Minutes a location needs to prepare a click & collect order (its pickup promise).
ALTER TABLE locations ADD COLUMN pickup_lead_min BIGINT NOT NULL DEFAULT 120;
