//! Pricing a basket with the promotions that apply to it.
//!
//! Promotions are tried by priority (higher first, then id). Each checks its conditions
//! against the basket at list price, then discounts what the ones before it left of the
//! lines. An exclusive promotion applies only to a basket nothing applied to yet, and stops
//! the rest. Every discount is a whole number of minor units on one line (a cart-wide
//! amount is split over the lines in proportion), never more than the line has left, so a
//! returned unit refunds what was paid for it. Lines are evaluated in SKU order: the result
//! does not depend on the order of the basket.

use std::collections::{BTreeMap, BTreeSet};

use kernel::{Currency, Timestamp};
use serde::{Deserialize, Serialize};

use crate::allocate::split_pro_rata;
use crate::promotion::{Effect, MAX_PERCENT_BP, Promotion, Stacking};

/// One line of a basket at list price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketLine {
    pub sku: String,
    pub product_id: String,
    pub category: String,
    pub brand: Option<String>,
    pub unit_price_minor: i64,
    pub quantity: i64,
}

/// What is being priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket {
    pub currency: Currency,
    pub lines: Vec<BasketLine>,
    /// The shipping fee before promotions (0 when nothing ships).
    pub shipping_minor: i64,
}

/// Who buys, where, and with which codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shopper {
    pub channel: String,
    /// The store of the order (pickup, reservation, kiosk, till); none for a parcel.
    pub store: Option<String>,
    pub customer_id: Option<String>,
    pub segments: BTreeSet<String>,
    /// Whether the customer has no order yet.
    pub first_order: bool,
    /// Coupon codes presented, by the promotion each unlocks.
    pub coupons: BTreeMap<String, String>,
}

/// What a promotion has given so far (its budget's use).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub uses: i64,
    pub discount_minor: i64,
    /// Uses by this basket's customer.
    pub customer_uses: i64,
}

/// A discount on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LineDiscount {
    pub promotion_id: String,
    pub name: String,
    pub amount_minor: i64,
}

/// A basket line, priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// `unit_price_minor × quantity`.
    pub base_minor: i64,
    pub discounts: Vec<LineDiscount>,
    /// What the line costs after its discounts.
    pub total_minor: i64,
}

/// A promotion that applied, with why and how much in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Applied {
    pub promotion_id: String,
    pub name: String,
    /// What earned it, in words.
    pub why: String,
    pub coupon: Option<String>,
    /// Off the items (the line discounts' sum) and off shipping.
    pub amount_minor: i64,
    pub shipping_minor: i64,
}

/// A promotion the basket was looked at for but did not get, and why (shown for coupons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub promotion_id: String,
    pub coupon: Option<String>,
    pub reason: String,
}

/// A basket with its promotions: lines in the basket's order, and the totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedBasket {
    pub currency: Currency,
    pub lines: Vec<PricedLine>,
    pub applied: Vec<Applied>,
    pub skipped: Vec<Skipped>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub shipping_minor: i64,
    pub shipping_discount_minor: i64,
    pub total_minor: i64,
}

/// Prices `basket` for `shopper` at `at`; `usage` is each promotion's budget use so far.
pub fn evaluate(
    promotions: &[Promotion],
    basket: &Basket,
    shopper: &Shopper,
    at: Timestamp,
    usage: &BTreeMap<String, Usage>,
) -> PricedBasket {
    // SKU order, whatever the basket's: the same basket always gets the same discounts.
    let mut order: Vec<usize> = (0..basket.lines.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&basket.lines[a], &basket.lines[b]);
        (&x.sku, x.unit_price_minor, x.quantity).cmp(&(&y.sku, y.unit_price_minor, y.quantity))
    });
    let lines: Vec<&BasketLine> = order.iter().map(|&i| &basket.lines[i]).collect();
    let mut tally = Tally {
        left: lines.iter().map(|l| base(l)).collect(),
        discounts: vec![Vec::new(); lines.len()],
        shipping_left: basket.shipping_minor.max(0),
        applied: Vec::new(),
        skipped: Vec::new(),
        exclusive: false,
    };
    let mut ranked: Vec<&Promotion> = promotions.iter().filter(|p| p.active).collect();
    ranked.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    for p in ranked {
        if tally.exclusive {
            break;
        }
        let coupon = shopper
            .coupons
            .iter()
            .find(|(_, id)| **id == p.id)
            .map(|(code, _)| code.clone());
        let used = usage.get(&p.id).copied().unwrap_or_default();
        let outcome = qualifies(p, basket.currency, &lines, shopper, at, coupon.is_some())
            .and_then(|()| tally.room_for(p, shopper, used))
            .and_then(|room| tally.take(p, &lines, room, coupon.clone()));
        if let Err(reason) = outcome {
            tally.skipped.push(Skipped {
                promotion_id: p.id.clone(),
                coupon,
                reason,
            });
        }
    }
    assemble(basket, &order, &lines, tally)
}

/// What the promotions tried so far have left and given.
struct Tally {
    /// What each line (in evaluation order) has left to discount.
    left: Vec<i64>,
    discounts: Vec<Vec<LineDiscount>>,
    shipping_left: i64,
    applied: Vec<Applied>,
    skipped: Vec<Skipped>,
    /// An exclusive promotion applied: no other may.
    exclusive: bool,
}

impl Tally {
    /// The most `p` may give here (`None`: no limit), or why it may not apply at all.
    fn room_for(
        &self,
        p: &Promotion,
        shopper: &Shopper,
        used: Usage,
    ) -> Result<Option<i64>, String> {
        if p.stacking == Stacking::Exclusive
            && let Some(first) = self.applied.first()
        {
            return Err(format!("not combined with {}", first.name));
        }
        budget_room(p, shopper, used)
    }

    /// Applies `p` to what is left, within `room`.
    fn take(
        &mut self,
        p: &Promotion,
        lines: &[&BasketLine],
        room: Option<i64>,
        coupon: Option<String>,
    ) -> Result<(), String> {
        let scope: Vec<bool> = lines.iter().map(|l| in_scope(p, l)).collect();
        let mut off = effect_amounts(&p.effect, lines, &self.left, &scope);
        let mut shipping_off = match p.effect {
            Effect::FreeShipping => self.shipping_left,
            _ => 0,
        };
        cap(&mut off, &mut shipping_off, room);
        let total: i64 = off.iter().sum();
        if total == 0 && shipping_off == 0 {
            return Err(match &p.effect {
                Effect::FreeGift { sku, .. } if !scope.contains(&true) => {
                    format!("add {sku} to the basket to get it free")
                }
                _ => "nothing in the basket for it to take off".into(),
            });
        }
        for (i, amount) in off.iter().enumerate().filter(|(_, a)| **a > 0) {
            self.left[i] -= amount;
            self.discounts[i].push(LineDiscount {
                promotion_id: p.id.clone(),
                name: p.name.clone(),
                amount_minor: *amount,
            });
        }
        self.shipping_left -= shipping_off;
        self.exclusive = p.stacking == Stacking::Exclusive;
        self.applied.push(Applied {
            promotion_id: p.id.clone(),
            name: p.name.clone(),
            why: why(&p.effect, scope.iter().filter(|s| **s).count()),
            coupon,
            amount_minor: total,
            shipping_minor: shipping_off,
        });
        Ok(())
    }
}

fn base(l: &BasketLine) -> i64 {
    l.unit_price_minor.max(0).saturating_mul(l.quantity.max(0))
}

fn in_scope(p: &Promotion, l: &BasketLine) -> bool {
    match &p.effect {
        // The gift is what is discounted; the scope says what must be bought for it.
        Effect::FreeGift { sku, .. } => l.sku == *sku,
        _ => p
            .conditions
            .items
            .covers(&l.sku, &l.product_id, &l.category, l.brand.as_deref()),
    }
}

/// Whether the basket meets every condition, or the first it misses.
fn qualifies(
    p: &Promotion,
    currency: Currency,
    lines: &[&BasketLine],
    shopper: &Shopper,
    at: Timestamp,
    has_coupon: bool,
) -> Result<(), String> {
    let c = &p.conditions;
    if p.currency != currency {
        return Err(format!("runs in {}", p.currency.code()));
    }
    if c.coupon_required && !has_coupon {
        return Err("needs its coupon code".into());
    }
    if !c.channels.is_empty() && !c.channels.contains(&shopper.channel) {
        return Err(format!("not on {}", shopper.channel));
    }
    if !c.stores.is_empty() && !shopper.store.as_ref().is_some_and(|s| c.stores.contains(s)) {
        return Err("not at this store".into());
    }
    if !c.segments.is_empty() && c.segments.is_disjoint(&shopper.segments) {
        return Err("for some customers only".into());
    }
    if c.first_order && !(shopper.customer_id.is_some() && shopper.first_order) {
        return Err("for a customer's first order".into());
    }
    if let Some(s) = &c.schedule
        && !s.runs_at(at)
    {
        return Err("not running now".into());
    }
    let bought = |l: &&&BasketLine| {
        c.items
            .covers(&l.sku, &l.product_id, &l.category, l.brand.as_deref())
    };
    let units: i64 = lines.iter().filter(bought).map(|l| l.quantity).sum();
    let subtotal: i64 = lines.iter().filter(bought).map(|l| base(l)).sum();
    if units == 0 {
        return Err("no item of the basket is in it".into());
    }
    if let Some(min) = c.min_quantity
        && units < min
    {
        return Err(format!("needs {min} items"));
    }
    if let Some(min) = c.min_subtotal_minor
        && subtotal < min
    {
        return Err(format!("needs {min} (minor units) of items"));
    }
    Ok(())
}

/// The most the promotion may still give (`None`: no limit), or why it cannot be used.
fn budget_room(p: &Promotion, shopper: &Shopper, used: Usage) -> Result<Option<i64>, String> {
    let b = &p.budget;
    if b.max_uses.is_some_and(|max| used.uses >= max) {
        return Err("all its uses are taken".into());
    }
    if let Some(max) = b.max_uses_per_customer {
        if shopper.customer_id.is_none() {
            return Err("for signed-in customers".into());
        }
        if used.customer_uses >= max {
            return Err("already used by this customer".into());
        }
    }
    match b.max_discount_minor {
        Some(max) if used.discount_minor >= max => Err("its budget is spent".into()),
        Some(max) => Ok(Some(max - used.discount_minor)),
        None => Ok(None),
    }
}

/// Scales the discount down to what the budget has left, spread as it was.
fn cap(off: &mut [i64], shipping: &mut i64, room: Option<i64>) {
    let Some(room) = room else { return };
    let total = off.iter().sum::<i64>() + *shipping;
    if total <= room {
        return;
    }
    let mut weights = off.to_vec();
    weights.push(*shipping);
    let parts = split_pro_rata(room, &weights);
    let (items, ship) = parts.split_at(off.len());
    off.copy_from_slice(items);
    *shipping = ship[0];
}

/// `amount × bp / 10000`, rounded half up.
fn percent_of(amount: i64, bp: i64) -> i64 {
    let bp = bp.clamp(0, MAX_PERCENT_BP);
    ((i128::from(amount) * i128::from(bp) + 5_000) / 10_000) as i64
}

/// The discount per line (in the evaluation's order), never above what a line has left.
fn effect_amounts(
    effect: &Effect,
    lines: &[&BasketLine],
    left: &[i64],
    scope: &[bool],
) -> Vec<i64> {
    let eligible = |i: usize| scope[i] && left[i] > 0;
    let weights: Vec<i64> = (0..lines.len())
        .map(|i| if eligible(i) { left[i] } else { 0 })
        .collect();
    let mut off = match effect {
        Effect::PercentOffItems { percent_bp } => weights
            .iter()
            .map(|&w| percent_of(w, *percent_bp))
            .collect(),
        Effect::AmountOffItems { amount_minor } => (0..lines.len())
            .map(|i| match eligible(i) {
                true => amount_minor.saturating_mul(lines[i].quantity),
                false => 0,
            })
            .collect(),
        Effect::PercentOffCart { percent_bp } => {
            split_pro_rata(percent_of(weights.iter().sum(), *percent_bp), &weights)
        }
        Effect::AmountOffCart { amount_minor } => {
            split_pro_rata((*amount_minor).min(weights.iter().sum()), &weights)
        }
        Effect::FreeShipping => vec![0; lines.len()],
        _ => unit_amounts(effect, &units(lines, left, scope), lines.len()),
    };
    for (o, l) in off.iter_mut().zip(left) {
        *o = (*o).clamp(0, *l);
    }
    off
}

/// The discount per line of the effects that pick units (dearest first).
fn unit_amounts(effect: &Effect, units: &[(usize, i64)], lines: usize) -> Vec<i64> {
    let mut off = vec![0i64; lines];
    match effect {
        Effect::PercentOffCheapest { percent_bp } => {
            if let Some(&(i, price)) = units.last() {
                off[i] = percent_of(price, *percent_bp);
            }
        }
        Effect::BuyXGetY {
            buy,
            get,
            percent_bp,
        } => {
            let group = (buy + get) as usize;
            for chunk in units.chunks(group).filter(|c| c.len() == group) {
                for &(i, price) in &chunk[*buy as usize..] {
                    off[i] += percent_of(price, *percent_bp);
                }
            }
        }
        Effect::BundlePrice {
            quantity,
            price_minor,
        } => {
            let n = *quantity as usize;
            for chunk in units.chunks(n).filter(|c| c.len() == n) {
                let prices: Vec<i64> = chunk.iter().map(|&(_, p)| p).collect();
                let saving = (prices.iter().sum::<i64>() - price_minor).max(0);
                for (&(i, _), part) in chunk.iter().zip(split_pro_rata(saving, &prices)) {
                    off[i] += part;
                }
            }
        }
        Effect::FreeGift { quantity, .. } => {
            for &(i, price) in units.iter().rev().take(*quantity as usize) {
                off[i] += price;
            }
        }
        _ => {}
    }
    off
}

/// Every eligible unit as `(line, what the unit has left)`, dearest first (ties by line).
/// A line's units share what it has left evenly, the odd units first.
fn units(lines: &[&BasketLine], left: &[i64], scope: &[bool]) -> Vec<(usize, i64)> {
    let mut out = Vec::new();
    for (i, l) in lines
        .iter()
        .enumerate()
        .filter(|(i, _)| scope[*i] && left[*i] > 0)
    {
        let q = l.quantity.max(1);
        for k in 0..q {
            out.push((i, left[i] / q + i64::from(k < left[i] % q)));
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// What earned the discount, in words shown with it.
fn why(effect: &Effect, lines: usize) -> String {
    let pct = |bp: i64| {
        if bp % 100 == 0 {
            format!("{} %", bp / 100)
        } else {
            format!("{}.{:02} %", bp / 100, bp % 100)
        }
    };
    match effect {
        Effect::PercentOffItems { percent_bp } => {
            format!("{} off {lines} qualifying line(s)", pct(*percent_bp))
        }
        Effect::AmountOffItems { amount_minor } => {
            format!("{amount_minor} off each qualifying item")
        }
        Effect::PercentOffCart { percent_bp } => {
            format!("{} off the qualifying items together", pct(*percent_bp))
        }
        Effect::AmountOffCart { amount_minor } => {
            format!("{amount_minor} off the qualifying items together")
        }
        Effect::PercentOffCheapest { percent_bp } => {
            format!("{} off the cheapest qualifying item", pct(*percent_bp))
        }
        Effect::BuyXGetY {
            buy,
            get,
            percent_bp,
        } => {
            format!(
                "buy {buy}, get {get} at {} off: the cheapest of each {} items",
                pct(*percent_bp),
                buy + get
            )
        }
        Effect::BundlePrice {
            quantity,
            price_minor,
        } => format!("{quantity} qualifying items for {price_minor}"),
        Effect::FreeGift { sku, quantity } => format!("{quantity} × {sku} free"),
        Effect::FreeShipping => "free shipping".into(),
    }
}

/// The priced basket, lines back in the basket's order.
fn assemble(basket: &Basket, order: &[usize], lines: &[&BasketLine], tally: Tally) -> PricedBasket {
    let mut priced: Vec<Option<PricedLine>> = vec![None; lines.len()];
    for ((&original, line), discounts) in order.iter().zip(lines).zip(tally.discounts) {
        let base_minor = base(line);
        let off: i64 = discounts.iter().map(|d| d.amount_minor).sum();
        priced[original] = Some(PricedLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price_minor: line.unit_price_minor,
            base_minor,
            discounts,
            total_minor: base_minor - off,
        });
    }
    let lines: Vec<PricedLine> = priced.into_iter().flatten().collect();
    let subtotal_minor = lines.iter().map(|l| l.base_minor).sum();
    let discount_minor = lines
        .iter()
        .map(|l| l.base_minor - l.total_minor)
        .sum::<i64>();
    let shipping_minor = basket.shipping_minor.max(0);
    PricedBasket {
        currency: basket.currency,
        total_minor: subtotal_minor - discount_minor + tally.shipping_left,
        lines,
        applied: tally.applied,
        skipped: tally.skipped,
        subtotal_minor,
        discount_minor,
        shipping_minor,
        shipping_discount_minor: shipping_minor - tally.shipping_left,
    }
}
