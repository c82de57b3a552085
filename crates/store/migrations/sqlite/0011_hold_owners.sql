-- Who owns a hold decides how it ends: a cart's or an order's hold ends only through that
-- cart or order; a hold made through /v1/holds ends by the key that made it (or an admin).
ALTER TABLE holds ADD COLUMN owner_kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE holds ADD COLUMN created_by TEXT;
UPDATE holds SET owner_kind = 'order' WHERE owner_ref IN (SELECT id FROM orders);
UPDATE holds SET owner_kind = 'cart' WHERE owner_ref IN (SELECT id FROM carts);

-- Which customers a channel key may see: those with an identifier, a cart or an order on
-- its channel (`store::customers::known_on_channel`).
CREATE INDEX carts_by_customer ON carts (customer_id, channel) WHERE customer_id IS NOT NULL;

-- Channels a customer signed in on (an identifier already known elsewhere makes no identity
-- row of the channel's own); moves with merges like every table owned by a profile.
CREATE TABLE customer_channels (
    customer_id TEXT NOT NULL REFERENCES customers (id),
    channel     TEXT NOT NULL,
    first_at    TEXT NOT NULL
);
CREATE INDEX customer_channels_by_customer ON customer_channels (customer_id, channel);
