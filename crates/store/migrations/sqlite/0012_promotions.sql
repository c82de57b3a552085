-- Promotions: what baskets get off, on every channel. A promotion's conditions, effect and
-- budget are one JSON definition, read whole and decided by the `promotions` crate; its
-- running use is in columns, so a checkout takes a use with one conditional UPDATE that no
-- concurrent checkout can push past the budget; cancel and lapse give it back. An order's
-- use of a promotion limited per customer is also a row, counted against its customer.
CREATE TABLE promotions (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    currency       TEXT NOT NULL,
    definition     TEXT NOT NULL,
    priority       BIGINT NOT NULL,
    active         BIGINT NOT NULL,
    max_uses       BIGINT,
    max_discount   BIGINT,
    max_uses_per_customer BIGINT,
    uses           BIGINT NOT NULL DEFAULT 0 CHECK (uses >= 0),
    discount_minor BIGINT NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        BIGINT NOT NULL
);
CREATE INDEX promotions_active ON promotions (active, priority);

CREATE TABLE promotion_uses (
    promotion_id TEXT NOT NULL REFERENCES promotions (id),
    order_id     TEXT NOT NULL REFERENCES orders (id),
    customer_id  TEXT,
    coupon       TEXT,
    amount_minor BIGINT NOT NULL,
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (promotion_id, order_id)
);
CREATE INDEX promotion_uses_by_customer ON promotion_uses (promotion_id, customer_id)
    WHERE customer_id IS NOT NULL AND status = 'taken';
CREATE INDEX promotion_uses_by_order ON promotion_uses (order_id);

-- What each order and line got off (the line's discount is for its units together).
ALTER TABLE orders ADD COLUMN discount_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN promotions TEXT;
ALTER TABLE order_lines ADD COLUMN discount_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN discounts TEXT;
