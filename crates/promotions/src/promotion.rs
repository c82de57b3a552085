//! What a promotion is: who and what it is for ([`Conditions`]), what it gives ([`Effect`]),
//! how it stacks with others and how much of it there is ([`Budget`]). [`NewPromotion`]
//! is validated once, when the retailer writes it.

use std::collections::BTreeSet;

use kernel::{Currency, Error, Timestamp};
use serde::{Deserialize, Serialize};

/// 100 % in basis points: percents are whole basis points (2000 = 20 %).
pub const MAX_PERCENT_BP: i64 = 10_000;
/// Upper bound on an amount in a promotion, as for prices.
const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// Which lines a promotion looks at and discounts. Empty lists mean every item; a line
/// counts when it matches any list (a SKU, a product, a category or a category under it,
/// a brand).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ItemScope {
    #[serde(default)]
    pub skus: BTreeSet<String>,
    #[serde(default)]
    pub products: BTreeSet<String>,
    /// Category paths: `running` covers `running/shoes`.
    #[serde(default)]
    pub categories: BTreeSet<String>,
    #[serde(default)]
    pub brands: BTreeSet<String>,
}

impl ItemScope {
    pub fn is_everything(&self) -> bool {
        self.skus.is_empty()
            && self.products.is_empty()
            && self.categories.is_empty()
            && self.brands.is_empty()
    }

    pub fn covers(&self, sku: &str, product: &str, category: &str, brand: Option<&str>) -> bool {
        self.is_everything()
            || self.skus.contains(sku)
            || self.products.contains(product)
            || brand.is_some_and(|b| self.brands.contains(b))
            || self.categories.iter().any(|c| {
                category == c
                    || category
                        .strip_prefix(c.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

/// When a promotion runs: between two instants, and optionally only on some days and hours
/// in the retailer's time zone (a happy hour, a weekend).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Schedule {
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    /// ISO weekdays, 1 = Monday … 7 = Sunday; empty = every day.
    #[serde(default)]
    pub days: BTreeSet<u8>,
    /// Local `HH:MM` from (inclusive) and to (exclusive); absent = all day.
    pub from_time: Option<String>,
    pub to_time: Option<String>,
    /// IANA time zone of `days` and the times, e.g. `Europe/Paris`.
    pub time_zone: String,
}

/// Who, where and what a basket must be for the promotion to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Conditions {
    /// Channel codes; empty = every channel.
    #[serde(default)]
    pub channels: BTreeSet<String>,
    /// Stores where the order is collected, reserved or sold; empty = anywhere (a ship order
    /// has no store and qualifies only when this is empty).
    #[serde(default)]
    pub stores: BTreeSet<String>,
    /// Customer segments; the customer must be in one. Empty = anyone, signed in or not.
    #[serde(default)]
    pub segments: BTreeSet<String>,
    #[serde(default)]
    pub items: ItemScope,
    /// The qualifying items must cost at least this much (list price).
    pub min_subtotal_minor: Option<i64>,
    /// At least this many qualifying units.
    pub min_quantity: Option<i64>,
    pub schedule: Option<Schedule>,
    /// Only a customer's first order.
    #[serde(default)]
    pub first_order: bool,
    /// Only with one of its coupon codes.
    #[serde(default)]
    pub coupon_required: bool,
}

/// What a qualifying basket gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// A percentage off every qualifying item.
    PercentOffItems { percent_bp: i64 },
    /// An amount off each qualifying unit (never below zero).
    AmountOffItems { amount_minor: i64 },
    /// A percentage off the qualifying items together, spread over them.
    PercentOffCart { percent_bp: i64 },
    /// An amount off the qualifying items together, spread over them.
    AmountOffCart { amount_minor: i64 },
    /// A percentage off the cheapest qualifying unit.
    PercentOffCheapest { percent_bp: i64 },
    /// Of every `buy + get` qualifying units (dearest first), the `get` cheapest are
    /// `percent_bp` off: "buy 2, get 1 free" is `buy: 2, get: 1, percent_bp: 10000`.
    BuyXGetY { buy: i64, get: i64, percent_bp: i64 },
    /// Every `quantity` qualifying units (dearest first) cost `price_minor` together.
    BundlePrice { quantity: i64, price_minor: i64 },
    /// Up to `quantity` units of `sku` in the basket are free.
    FreeGift { sku: String, quantity: i64 },
    /// No shipping fee.
    FreeShipping,
}

/// How a promotion combines with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Applies only to a basket no other promotion applied to, and alone.
    Exclusive,
    /// Applies after those of higher priority, on what they left.
    Combinable,
}

/// How much of a promotion there is; each limit is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Budget {
    /// Orders that may use it.
    pub max_uses: Option<i64>,
    /// Discount it may give in all.
    pub max_discount_minor: Option<i64>,
    /// Orders one customer may use it on (a customer must be known).
    pub max_uses_per_customer: Option<i64>,
}

/// A promotion as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Promotion {
    pub id: String,
    /// Shown to customers on carts, orders and receipts.
    pub name: String,
    pub description: Option<String>,
    /// The currency of its amounts (and of the baskets it applies to).
    pub currency: Currency,
    pub conditions: Conditions,
    pub effect: Effect,
    pub stacking: Stacking,
    /// Higher first; ties in id order.
    pub priority: i64,
    pub budget: Budget,
    pub active: bool,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A promotion to create, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPromotion {
    pub name: String,
    pub description: Option<String>,
    pub currency: Currency,
    pub conditions: Conditions,
    pub effect: Effect,
    pub stacking: Stacking,
    pub priority: i64,
    pub budget: Budget,
    pub active: bool,
}

fn percent(field: &str, bp: i64) -> Result<(), Error> {
    if !(1..=MAX_PERCENT_BP).contains(&bp) {
        return Err(Error::validation(
            field,
            "percent_bp is in basis points, 1 to 10000 (100 %)",
        ));
    }
    Ok(())
}

fn amount(field: &str, minor: i64, min: i64) -> Result<(), Error> {
    if !(min..=MAX_AMOUNT_MINOR).contains(&minor) {
        return Err(Error::validation(
            field,
            format!("must be between {min} and {MAX_AMOUNT_MINOR} minor units"),
        ));
    }
    Ok(())
}

fn count(field: &str, n: i64) -> Result<(), Error> {
    if !(1..=10_000).contains(&n) {
        return Err(Error::validation(field, "must be between 1 and 10000"));
    }
    Ok(())
}

impl Effect {
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Effect::PercentOffItems { percent_bp }
            | Effect::PercentOffCart { percent_bp }
            | Effect::PercentOffCheapest { percent_bp } => {
                percent("effect.percent_bp", *percent_bp)
            }
            Effect::AmountOffItems { amount_minor } | Effect::AmountOffCart { amount_minor } => {
                amount("effect.amount_minor", *amount_minor, 1)
            }
            Effect::BuyXGetY {
                buy,
                get,
                percent_bp,
            } => {
                count("effect.buy", *buy)?;
                count("effect.get", *get)?;
                percent("effect.percent_bp", *percent_bp)
            }
            Effect::BundlePrice {
                quantity,
                price_minor,
            } => {
                if *quantity < 2 {
                    return Err(Error::validation(
                        "effect.quantity",
                        "a bundle is 2 units or more",
                    ));
                }
                count("effect.quantity", *quantity)?;
                amount("effect.price_minor", *price_minor, 0)
            }
            Effect::FreeGift { sku, quantity } => {
                if sku.trim().is_empty() {
                    return Err(Error::validation("effect.sku", "name the gift's SKU"));
                }
                count("effect.quantity", *quantity)
            }
            Effect::FreeShipping => Ok(()),
        }
    }
}

/// `HH:MM` as minutes after midnight.
pub(crate) fn minutes_of(text: &str) -> Option<i64> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && text.len() == 5).then_some(h * 60 + m)
}

impl Schedule {
    pub fn validate(&self) -> Result<(), Error> {
        jiff::tz::TimeZone::get(&self.time_zone).map_err(|_| {
            Error::validation("conditions.schedule.time_zone", "not an IANA time zone")
                .with("value", self.time_zone.clone())
        })?;
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && e.unix_ms() <= s.unix_ms()
        {
            return Err(Error::validation(
                "conditions.schedule.ends_at",
                "ends before it starts",
            ));
        }
        if self.days.iter().any(|d| !(1..=7).contains(d)) {
            return Err(Error::validation(
                "conditions.schedule.days",
                "days are 1 (Monday) to 7 (Sunday)",
            ));
        }
        for (field, t) in [("from_time", &self.from_time), ("to_time", &self.to_time)] {
            if let Some(t) = t
                && minutes_of(t).is_none()
            {
                return Err(Error::validation(
                    &format!("conditions.schedule.{field}"),
                    "a local time is HH:MM",
                ));
            }
        }
        Ok(())
    }

    /// Whether the promotion runs at `at`.
    pub fn runs_at(&self, at: Timestamp) -> bool {
        let ms = at.unix_ms();
        if self.starts_at.is_some_and(|s| ms < s.unix_ms())
            || self.ends_at.is_some_and(|e| ms >= e.unix_ms())
        {
            return false;
        }
        if self.days.is_empty() && self.from_time.is_none() && self.to_time.is_none() {
            return true;
        }
        let Ok(tz) = jiff::tz::TimeZone::get(&self.time_zone) else {
            return false;
        };
        let Ok(instant) = jiff::Timestamp::from_millisecond(ms) else {
            return false;
        };
        let local = instant.to_zoned(tz);
        let day = local.weekday().to_monday_one_offset() as u8;
        let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
        let from = self.from_time.as_deref().and_then(minutes_of).unwrap_or(0);
        let to = self
            .to_time
            .as_deref()
            .and_then(minutes_of)
            .unwrap_or(24 * 60);
        (self.days.is_empty() || self.days.contains(&day)) && minute >= from && minute < to
    }
}

impl NewPromotion {
    /// The promotion as stored, or the first thing wrong with it.
    pub fn validate(self, id: String, now: Timestamp) -> Result<Promotion, Error> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(Error::validation(
                "name",
                "a name of 1 to 120 characters, shown to customers",
            ));
        }
        self.effect.validate()?;
        let c = &self.conditions;
        if let Some(m) = c.min_subtotal_minor {
            amount("conditions.min_subtotal_minor", m, 0)?;
        }
        if let Some(q) = c.min_quantity {
            count("conditions.min_quantity", q)?;
        }
        if let Some(s) = &c.schedule {
            s.validate()?;
        }
        let b = &self.budget;
        for (field, v) in [
            ("budget.max_uses", b.max_uses),
            ("budget.max_uses_per_customer", b.max_uses_per_customer),
        ] {
            if v.is_some_and(|v| v < 1) {
                return Err(Error::validation(field, "a limit is 1 or more"));
            }
        }
        if let Some(d) = b.max_discount_minor {
            amount("budget.max_discount_minor", d, 1)?;
        }
        if !(-1_000_000..=1_000_000).contains(&self.priority) {
            return Err(Error::validation(
                "priority",
                "between -1000000 and 1000000",
            ));
        }
        Ok(Promotion {
            id,
            name,
            description: self.description,
            currency: self.currency,
            conditions: self.conditions,
            effect: self.effect,
            stacking: self.stacking,
            priority: self.priority,
            budget: self.budget,
            active: self.active,
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }
}

/// Fields to change on a promotion; `None` leaves one as it is. The result is validated
/// again as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromotionPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub conditions: Option<Conditions>,
    pub effect: Option<Effect>,
    pub stacking: Option<Stacking>,
    pub priority: Option<i64>,
    pub budget: Option<Budget>,
    pub active: Option<bool>,
}

impl PromotionPatch {
    /// `p` with the changes, validated, its version one up.
    pub fn apply(self, p: &Promotion, now: Timestamp) -> Result<Promotion, Error> {
        if self == PromotionPatch::default() {
            return Err(Error::validation("body", "the patch changes nothing"));
        }
        let new = NewPromotion {
            name: self.name.unwrap_or_else(|| p.name.clone()),
            description: self.description.unwrap_or_else(|| p.description.clone()),
            currency: p.currency,
            conditions: self.conditions.unwrap_or_else(|| p.conditions.clone()),
            effect: self.effect.unwrap_or_else(|| p.effect.clone()),
            stacking: self.stacking.unwrap_or(p.stacking),
            priority: self.priority.unwrap_or(p.priority),
            budget: self.budget.unwrap_or_else(|| p.budget.clone()),
            active: self.active.unwrap_or(p.active),
        };
        let mut changed = new.validate(p.id.clone(), now)?;
        changed.version = p.version + 1;
        changed.created_at = p.created_at;
        Ok(changed)
    }
}
