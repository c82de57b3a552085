-- Coupon codes: each unlocks a promotion that needs one. `uses` counts the orders holding a
-- use (reserved at checkout, redeemed once the customer has the goods); one conditional
-- UPDATE takes a use, so the last use of a code goes to exactly one order. Each order's use
-- is a row, released when the order is cancelled or lapses.
CREATE TABLE coupons (
    code                  TEXT PRIMARY KEY,
    promotion_id          TEXT NOT NULL REFERENCES promotions (id),
    batch                 TEXT,
    customer_id           TEXT REFERENCES customers (id),
    max_uses              BIGINT NOT NULL,
    max_uses_per_customer BIGINT,
    uses                  BIGINT NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    created_at            TEXT NOT NULL
);
CREATE INDEX coupons_by_promotion ON coupons (promotion_id, code);
CREATE INDEX coupons_by_customer ON coupons (customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE coupon_uses (
    code        TEXT NOT NULL REFERENCES coupons (code),
    order_id    TEXT NOT NULL REFERENCES orders (id),
    customer_id TEXT,
    status      TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (code, order_id)
);
CREATE INDEX coupon_uses_by_order ON coupon_uses (order_id);
CREATE INDEX coupon_uses_by_customer ON coupon_uses (customer_id) WHERE customer_id IS NOT NULL;

-- Uses move with a merged profile (store::customers::merge probes by customer).
CREATE INDEX promotion_uses_customer ON promotion_uses (customer_id) WHERE customer_id IS NOT NULL;
