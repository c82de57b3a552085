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
}

/// Reads what pricing the SKUs of `list` needs for `customer` (the customer's segments and
/// first order only when a promotion in force asks).
pub async fn read(
    db: &Db,
    currency: Currency,
    list: BTreeMap<String, i64>,
    customer: Option<&str>,
) -> Result<Pricing, Error> {
    let mut conn = db.read().await?;
    let (promotions, usage) = store::promotions::in_force(&mut conn, currency, customer).await?;
    let mut pricing = Pricing {
        currency: Some(currency),
        customer: customer.map(str::to_owned),
        ..Pricing::default()
    };
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

impl Pricing {
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
            coupons: BTreeMap::new(),
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
