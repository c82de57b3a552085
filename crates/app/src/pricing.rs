//! What a basket costs on a channel: each line at the channel's price, then the promotions
//! in force as the `promotions` crate decides them. Checkout charges it and writes it on
//! the order; a cart shows it. Every channel gets the same answer for the same basket,
//! customer and store, unless a promotion is scoped to a channel or store.

use std::collections::{BTreeMap, BTreeSet};

use kernel::{Currency, Error, ErrorCode, Timestamp};
use promotions::tax::{PriceBasis, TaxTable};
use promotions::{Basket, BasketLine, LineDiscount, PricedBasket, Promotion, Shopper, Usage};
use std::sync::Arc;

use store::catalog::ItemFacts;

use crate::reference::Reference;

/// What pricing a basket needs, read once: list prices, the promotions in force with their
/// use so far, the items' product, category, brand and VAT category, the customer's
/// standing, and the VAT tables.
#[derive(Debug, Clone)]
pub struct Pricing {
    /// The channel's price of each SKU.
    pub list: BTreeMap<String, i64>,
    currency: Currency,
    promotions: Arc<Vec<Promotion>>,
    usage: BTreeMap<String, Usage>,
    facts: BTreeMap<String, ItemFacts>,
    customer: Option<String>,
    segments: BTreeSet<String>,
    first_order: bool,
    /// Codes presented that may be used, by the promotion each unlocks.
    coupons: BTreeMap<String, String>,
    /// Codes presented that may not be used here, with why.
    pub refused: Vec<(String, String)>,
    /// Every country's VAT table.
    tax_tables: Arc<BTreeMap<String, TaxTable>>,
}

/// A line's VAT: its rate, the tax in what it costs, the tax added on top of its price
/// (tax-exclusive countries only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTax {
    pub rate_bp: i64,
    pub tax_minor: i64,
    pub added_minor: i64,
}

/// Reads what pricing the SKUs of `list` needs for `customer` with the coupon codes
/// presented: the promotions in force and the VAT tables from the reference cache, their
/// budgets' use fresh (only when one has a limit), the customer's segments and first order
/// only when a promotion asks. An unknown code is refused; a code this customer may not use
/// is listed in `refused`.
pub async fn read(
    reference: &Reference,
    currency: Currency,
    list: BTreeMap<String, i64>,
    customer: Option<&str>,
    coupons: &[String],
) -> Result<Pricing, Error> {
    let promotions = reference.promotions(currency).await?;
    let mut pricing = Pricing {
        list: BTreeMap::new(),
        currency,
        promotions: Arc::default(),
        usage: BTreeMap::new(),
        facts: BTreeMap::new(),
        customer: customer.map(str::to_owned),
        segments: BTreeSet::new(),
        first_order: false,
        coupons: BTreeMap::new(),
        refused: Vec::new(),
        tax_tables: reference.tax_tables().await?,
    };
    let mut conn = reference.db().read().await?;
    pricing
        .coupons_presented(&mut conn, coupons, customer)
        .await?;
    let skus: Vec<String> = list.keys().cloned().collect();
    pricing.facts = store::catalog::item_facts(&mut conn, &skus).await?;
    pricing.list = list;
    if promotions.is_empty() {
        return Ok(pricing);
    }
    // Budget use is read fresh, and only when a limit can matter: a global one, or one per
    // customer when the customer is known.
    let limited = |b: &promotions::Budget| {
        b.max_uses.is_some()
            || b.max_discount_minor.is_some()
            || (b.max_uses_per_customer.is_some() && customer.is_some())
    };
    if promotions.iter().any(|p| limited(&p.budget)) {
        pricing.usage = store::promotions::usage_of_limited(&mut conn, customer).await?;
    }
    if let Some(c) = customer {
        if promotions.iter().any(|p| p.conditions.first_order) {
            pricing.first_order = store::orders::is_first_order(&mut conn, c).await?;
        }
        if promotions.iter().any(|p| !p.conditions.segments.is_empty()) {
            drop(conn);
            let segments = store::segments::segments_of(reference.db(), c).await?;
            pricing.segments = segments.into_iter().collect();
        }
    }
    pricing.promotions = promotions;
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
    /// What the catalogue says of the basket's SKUs (category, VAT category, attributes).
    pub fn facts(&self) -> &BTreeMap<String, ItemFacts> {
        &self.facts
    }

    /// The applied promotions limited per customer: the order counts against its customer.
    pub fn limited_per_customer(&self, applied: &[promotions::Applied]) -> Vec<String> {
        applied
            .iter()
            .filter(|a| {
                self.promotions
                    .iter()
                    .any(|p| p.id == a.promotion_id && p.budget.max_uses_per_customer.is_some())
            })
            .map(|a| a.promotion_id.clone())
            .collect()
    }

    /// Sorts the codes presented into those that may be used and those refused, with why.
    async fn coupons_presented(
        &mut self,
        conn: &mut store::Conn,
        coupons: &[String],
        customer: Option<&str>,
    ) -> Result<(), Error> {
        for (i, typed) in coupons.iter().enumerate() {
            let field = format!("coupons[{i}]");
            let code = promotions::coupon::normalise(&field, typed)?;
            let coupon = store::coupons::find(conn, &code)
                .await?
                .ok_or_else(|| Error::unknown_reference(&field, "coupon", &code))?;
            match coupon_refusal(conn, &coupon, customer).await? {
                Some(why) => self.refused.push((code, why)),
                None => {
                    self.coupons.insert(code, coupon.promotion_id);
                }
            }
        }
        Ok(())
    }

    /// The VAT of a line of `sku` costing `paid` in `country` (none: untaxed, e.g. a store
    /// without an address country); a country without a table, or a tax category its table
    /// lacks, refuses the sale until an admin sets them.
    pub fn tax_line(&self, country: Option<&str>, sku: &str, paid: i64) -> Result<LineTax, Error> {
        let category = self
            .facts
            .get(sku)
            .map_or(catalog::product::STANDARD_TAX_CATEGORY, |f| {
                f.tax_category.as_str()
            });
        self.tax_at(country, category, paid)
    }

    /// The VAT of `paid` in tax category `category` in `country` (none: untaxed).
    pub fn tax_at(
        &self,
        country: Option<&str>,
        category: &str,
        paid: i64,
    ) -> Result<LineTax, Error> {
        let Some(country) = country else {
            return Ok(LineTax {
                rate_bp: 0,
                tax_minor: 0,
                added_minor: 0,
            });
        };
        let unset = |what: String| {
            Error::new(
                ErrorCode::Conflict,
                format!("{what}: an admin sets it (PUT /v1/tax-tables/{country})"),
            )
            .with("country", country)
        };
        let table = self
            .tax_tables
            .get(country)
            .ok_or_else(|| unset(format!("{country} has no VAT table")))?;
        let rate = table.rates.get(category).copied().ok_or_else(|| {
            unset(format!(
                "{country}'s VAT table has no rate for `{category}`"
            ))
        })?;
        let taxed = promotions::tax::tax_of(paid, rate, table.basis);
        Ok(LineTax {
            rate_bp: rate,
            tax_minor: taxed.tax_minor,
            added_minor: match table.basis {
                PriceBasis::Inclusive => 0,
                PriceBasis::Exclusive => taxed.tax_minor,
            },
        })
    }

    /// The currency the basket is priced in.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether a promotion in force may take something off a delivery fee.
    pub fn discounts_shipping(&self) -> bool {
        self.promotions
            .iter()
            .any(|p| p.effect == promotions::Effect::FreeShipping)
    }

    /// Whether the retailer charges `country`'s VAT (has its table).
    pub fn taxes_in(&self, country: &str) -> bool {
        self.tax_tables.contains_key(country)
    }

    /// What `lines` (`(sku, quantity)`) weigh packed; a variant without a weight counts 0 g.
    pub fn weight_grams(&self, lines: &[(String, i64)]) -> i64 {
        lines
            .iter()
            .map(|(sku, q)| {
                self.facts
                    .get(sku)
                    .and_then(|f| f.weight_grams)
                    .unwrap_or(0)
                    * q
            })
            .sum()
    }

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
            currency: self.currency,
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

/// One unit of a SKU on each channel of `prices` (one SKU, one currency), after the
/// promotions it gets there on its own: no code, no customer, no basket threshold it does
/// not meet — what a product page shows.
pub async fn unit_prices(
    reference: &Reference,
    prices: Vec<pricing::ChannelPrice>,
) -> Result<Vec<(pricing::ChannelPrice, PricedBasket)>, Error> {
    let Some(first) = prices.first() else {
        return Ok(Vec::new());
    };
    let list = BTreeMap::from([(first.sku.clone(), first.amount_minor)]);
    let mut reading = read(reference, first.currency, list, None, &[]).await?;
    let now = crate::clock::now();
    Ok(prices
        .into_iter()
        .map(|p| {
            reading.list.insert(p.sku.clone(), p.amount_minor);
            let priced = reading.price(&p.channel, None, &[(p.sku.clone(), 1)], 0, now);
            (p, priced)
        })
        .collect())
}
