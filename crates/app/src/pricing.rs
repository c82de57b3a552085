//! What a basket costs on a channel: each line at the channel's price, then the promotions
//! in force as the `promotions` crate decides them. Checkout charges it and writes it on
//! the order; a cart shows it. Every channel gets the same answer for the same basket,
//! customer and store, unless a promotion is scoped to a channel or store.

use std::collections::{BTreeMap, BTreeSet};

use kernel::{Currency, Error, Timestamp};
use promotions::{Basket, BasketLine, LineDiscount, PricedBasket, Promotion, Shopper, Usage};
use store::Db;
use store::catalog::ItemFacts;

/// What pricing a basket needs, read once: list prices, the promotions in force with their
/// use so far, the items' product, category and brand, and the customer's standing.
#[derive(Debug, Clone, Default)]
pub struct Pricing {
    /// The channel's price of each SKU.
    pub list: BTreeMap<String, i64>,
    currency: Option<Currency>,
    promotions: Vec<Promotion>,
    usage: BTreeMap<String, Usage>,
    facts: BTreeMap<String, ItemFacts>,
    customer: Option<String>,
    segments: BTreeSet<String>,
    first_order: bool,
    /// Codes presented that may be used, by the promotion each unlocks.
    coupons: BTreeMap<String, String>,
    /// Codes presented that may not be used here, with why.
    pub refused: Vec<(String, String)>,
}

/// Reads what pricing the SKUs of `list` needs for `customer` with the coupon codes
/// presented (the customer's segments and first order only when a promotion in force asks).
/// An unknown code is refused; a code this customer may not use is listed in `refused`.
pub async fn read(
    db: &Db,
    currency: Currency,
    list: BTreeMap<String, i64>,
    customer: Option<&str>,
    coupons: &[String],
) -> Result<Pricing, Error> {
    let mut conn = db.read().await?;
    let (promotions, usage) = store::promotions::in_force(&mut conn, currency, customer).await?;
    let mut pricing = Pricing {
        currency: Some(currency),
        customer: customer.map(str::to_owned),
        ..Pricing::default()
    };
    for (i, typed) in coupons.iter().enumerate() {
        let field = format!("coupons[{i}]");
        let code = promotions::coupon::normalise(&field, typed)?;
        let coupon = store::coupons::find(&mut conn, &code)
            .await?
            .ok_or_else(|| Error::unknown_reference(&field, "coupon", &code))?;
        match coupon_refusal(&mut conn, &coupon, customer).await? {
            Some(why) => pricing.refused.push((code, why)),
            None => {
                pricing.coupons.insert(code, coupon.promotion_id);
            }
        }
    }
    if promotions.is_empty() {
        pricing.list = list;
        return Ok(pricing);
    }
    let skus: Vec<String> = list.keys().cloned().collect();
    pricing.facts = store::catalog::item_facts(&mut conn, &skus).await?;
    if let Some(c) = customer {
        if promotions.iter().any(|p| p.conditions.first_order) {
            pricing.first_order = store::orders::is_first_order(&mut conn, c).await?;
        }
        if promotions.iter().any(|p| !p.conditions.segments.is_empty()) {
            drop(conn);
            pricing.segments = store::segments::segments_of(db, c)
                .await?
                .into_iter()
                .collect();
        }
    }
    pricing.list = list;
    pricing.promotions = promotions;
    pricing.usage = usage;
    Ok(pricing)
}

/// Why `customer` may not use `coupon` now, if they may not.
async fn coupon_refusal(
    conn: &mut store::Conn,
    coupon: &promotions::Coupon,
    customer: Option<&str>,
) -> Result<Option<String>, Error> {
    if coupon.uses >= coupon.max_uses {
        return Ok(Some("has been used as often as it may".into()));
    }
    if let Some(holder) = &coupon.customer_id {
        return Ok(match customer {
            None => Some("is a customer's own: sign in to use it".into()),
            Some(c) if store::profiles::active_id(conn, c).await? != *holder => {
                Some("was issued to another customer".into())
            }
            Some(_) => None,
        });
    }
    if let (Some(max), Some(c)) = (coupon.max_uses_per_customer, customer)
        && store::coupons::customer_uses(conn, &coupon.code, c).await? >= max
    {
        return Ok(Some("was used as often as a customer may".into()));
    }
    Ok(None)
}

impl Pricing {
    /// The codes still to use, once `code` went to an order of the checkout (a code serves
    /// one order).
    pub fn spend(&mut self, code: &str) {
        self.coupons.remove(code);
    }

    /// Every code presented that may be used.
    pub fn usable_codes(&self) -> impl Iterator<Item = &str> {
        self.coupons.keys().map(String::as_str)
    }

    /// Prices `lines` (`(sku, quantity)`, every SKU in `list`) on `channel` for an order at
    /// `store` (none for a parcel), with `shipping_minor` to pay, at `at`.
    pub fn price(
        &self,
        channel: &str,
        store: Option<&str>,
        lines: &[(String, i64)],
        shipping_minor: i64,
        at: Timestamp,
    ) -> PricedBasket {
        let basket = Basket {
            currency: self.currency.unwrap_or(Currency::EUR),
            lines: lines
                .iter()
                .map(|(sku, quantity)| {
                    let facts = self.facts.get(sku);
                    BasketLine {
                        sku: sku.clone(),
                        product_id: facts.map(|f| f.product_id.clone()).unwrap_or_default(),
                        category: facts.map(|f| f.category.clone()).unwrap_or_default(),
                        brand: facts.and_then(|f| f.brand.clone()),
                        unit_price_minor: self.list.get(sku).copied().unwrap_or(0),
                        quantity: *quantity,
                    }
                })
                .collect(),
            shipping_minor,
        };
        let shopper = Shopper {
            channel: channel.to_owned(),
            store: store.map(str::to_owned),
            customer_id: self.customer.clone(),
            segments: self.segments.clone(),
            first_order: self.first_order,
            coupons: self.coupons.clone(),
        };
        promotions::evaluate(&self.promotions, &basket, &shopper, at, &self.usage)
    }
}

/// The discounts of `priced`'s line for `sku`, shared over the allocations of that SKU
/// (`quantities`, e.g. a parcel shipped from two warehouses) in proportion to their units:
/// one list of discounts per allocation.
pub fn share_discounts(
    priced: &PricedBasket,
    sku: &str,
    quantities: &[i64],
) -> Vec<Vec<LineDiscount>> {
    let mut shares = vec![Vec::new(); quantities.len()];
    let Some(line) = priced.lines.iter().find(|l| l.sku == sku) else {
        return shares;
    };
    for d in &line.discounts {
        for (i, amount) in promotions::split_pro_rata(d.amount_minor, quantities)
            .into_iter()
            .enumerate()
            .filter(|(_, a)| *a > 0)
        {
            shares[i].push(LineDiscount {
                amount_minor: amount,
                ..d.clone()
            });
        }
    }
    shares
}

/// The discounts of each allocation `(sku, quantity, location)` of a priced basket: a SKU's
/// discounts shared over its allocations in proportion to their units.
pub fn discounts_by_allocation(
    priced: &PricedBasket,
    allocations: &[(String, i64, String)],
) -> Vec<Vec<LineDiscount>> {
    let mut out = vec![Vec::new(); allocations.len()];
    let skus: BTreeSet<&str> = allocations.iter().map(|a| a.0.as_str()).collect();
    for sku in skus {
        let at: Vec<usize> = (0..allocations.len())
            .filter(|&i| allocations[i].0 == sku)
            .collect();
        let quantities: Vec<i64> = at.iter().map(|&i| allocations[i].1).collect();
        for (i, share) in at
            .into_iter()
            .zip(share_discounts(priced, sku, &quantities))
        {
            out[i] = share;
        }
    }
    out
}
