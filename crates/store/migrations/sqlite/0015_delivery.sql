-- Delivery: each variant's weight (for weight-band rates); shipping methods with their rate
-- and promise (JSON, decided by the `orders::delivery` rules); customers' saved postal
-- addresses; a ship order's delivery (method, address, fee, discount, VAT, window) and
-- what of its price went back; each return's share of it, and why a discounted line came
-- back at less than its list price.
ALTER TABLE variants ADD COLUMN weight_grams BIGINT;

CREATE TABLE shipping_methods (
    code       TEXT PRIMARY KEY,
    method     TEXT NOT NULL,
    position   BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE customer_addresses (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    label       TEXT,
    address     TEXT NOT NULL,
    is_default  BIGINT NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE INDEX customer_addresses_by_customer ON customer_addresses (customer_id, id);

ALTER TABLE orders ADD COLUMN shipping TEXT;
ALTER TABLE orders ADD COLUMN shipping_refunded_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE returns ADD COLUMN shipping_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE return_lines ADD COLUMN note TEXT;
