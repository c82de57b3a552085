-- VAT: each product's tax category; each country's rates by category and whether its prices
-- include them (France, seeded here: 20 / 10 / 5.5 / 2.1 %, prices tax-inclusive); each order
-- line's rate, its tax and the tax added on top of its price (tax-exclusive countries only);
-- each order's country of tax and total tax; each return's share of it.
ALTER TABLE products ADD COLUMN tax_category TEXT NOT NULL DEFAULT 'standard';

CREATE TABLE tax_tables (
    country    TEXT PRIMARY KEY,
    basis      TEXT NOT NULL,
    rates      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO tax_tables (country, basis, rates, updated_at) VALUES
    ('FR', 'inclusive', '{"intermediate":1000,"reduced":550,"standard":2000,"super_reduced":210}',
     '2026-12-06T00:00:00.000000Z');

ALTER TABLE orders ADD COLUMN tax_country TEXT;
ALTER TABLE orders ADD COLUMN tax_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN tax_rate_bp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN tax_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN tax_added_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE returns ADD COLUMN tax_minor BIGINT NOT NULL DEFAULT 0;
