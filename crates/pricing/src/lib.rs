//! One price everywhere, and the explicit, explained exceptions.
//!
//! `pricing` owns the base price of each variant per currency and the channel overrides. The
//! invariant of "one catalogue, one price": every channel sees the base price unless an
//! override exists for that channel, and an override always carries a reason shown to
//! customers (e.g. "Web exclusive: -10 % until Sunday"). An override may have a validity
//! window; outside it the base price applies. Amounts are integer minor units.

use kernel::{Currency, Error, Timestamp};
use serde::Serialize;

/// Upper bound on a unit price, to catch unit mistakes (10 billion in major units for EUR).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BasePrice {
    pub sku: String,
    pub currency: Currency,
    pub amount_minor: i64,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PriceOverride {
    pub sku: String,
    pub currency: Currency,
    pub channel: String,
    pub amount_minor: i64,
    /// Shown to customers wherever the overridden price is shown.
    pub reason: String,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// The price a channel charges, with the base price and reason when they differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelPrice {
    pub sku: String,
    pub channel: String,
    pub currency: Currency,
    pub amount_minor: i64,
    pub base_amount_minor: i64,
    /// Present when an override applies.
    pub override_reason: Option<String>,
    pub override_ends_at: Option<Timestamp>,
}

/// A unit price must be between 0 and [`MAX_AMOUNT_MINOR`].
pub fn validate_amount(field: &str, amount_minor: i64) -> Result<i64, Error> {
    if !(0..=MAX_AMOUNT_MINOR).contains(&amount_minor) {
        return Err(Error::validation(
            field,
            format!("amount_minor must be between 0 and {MAX_AMOUNT_MINOR}"),
        )
        .with("value", amount_minor));
    }
    Ok(amount_minor)
}

/// The customer-facing reason of an override: 3 to 200 characters, no control characters.
pub fn validate_reason(field: &str, reason: &str) -> Result<String, Error> {
    let reason = reason.trim();
    let len = reason.chars().count();
    if !(3..=200).contains(&len) || reason.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "an override needs a customer-facing reason of 3 to 200 characters",
        ));
    }
    Ok(reason.to_owned())
}

impl PriceOverride {
    /// Validates amount, reason and window of a new override.
    pub fn validate(mut self) -> Result<PriceOverride, Error> {
        self.amount_minor = validate_amount("amount_minor", self.amount_minor)?;
        self.reason = validate_reason("reason", &self.reason)?;
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && s >= e
        {
            return Err(Error::validation(
                "ends_at",
                "ends_at must be after starts_at",
            ));
        }
        Ok(self)
    }

    /// Whether the override applies at `at`.
    pub fn is_active_at(&self, at: Timestamp) -> bool {
        self.starts_at.is_none_or(|s| s <= at) && self.ends_at.is_none_or(|e| at < e)
    }
}

/// The price of `base`'s variant on `channel` at `at`, given the channel's override if any.
pub fn resolve(
    base: &BasePrice,
    channel: &str,
    override_: Option<&PriceOverride>,
    at: Timestamp,
) -> ChannelPrice {
    let applying = override_
        .filter(|o| o.channel == channel && o.currency == base.currency && o.is_active_at(at));
    ChannelPrice {
        sku: base.sku.clone(),
        channel: channel.to_owned(),
        currency: base.currency,
        amount_minor: applying.map_or(base.amount_minor, |o| o.amount_minor),
        base_amount_minor: base.amount_minor,
        override_reason: applying.map(|o| o.reason.clone()),
        override_ends_at: applying.and_then(|o| o.ends_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn base(amount: i64) -> BasePrice {
        BasePrice {
            sku: "TR500-42".into(),
            currency: Currency::EUR,
            amount_minor: amount,
            updated_at: Timestamp::now(),
        }
    }

    fn web_override(amount: i64) -> PriceOverride {
        PriceOverride {
            sku: "TR500-42".into(),
            currency: Currency::EUR,
            channel: "web".into(),
            amount_minor: amount,
            reason: "Web exclusive".into(),
            starts_at: None,
            ends_at: None,
            updated_at: Timestamp::now(),
        }
    }

    #[test]
    fn override_needs_reason_and_sane_amount() {
        assert!(web_override(100).validate().is_ok());
        let mut o = web_override(100);
        o.reason = "  ".into();
        assert_eq!(o.validate().unwrap_err().details["field"], "reason");
        assert_eq!(
            web_override(-1).validate().unwrap_err().details["field"],
            "amount_minor"
        );
    }

    #[test]
    fn window_bounds_the_override() {
        let t = |s: &str| Timestamp::parse(s).unwrap();
        let mut o = web_override(4000);
        o.starts_at = Some(t("2026-11-27T00:00:00Z"));
        o.ends_at = Some(t("2026-11-30T00:00:00Z"));
        let before = resolve(&base(5000), "web", Some(&o), t("2026-11-26T12:00:00Z"));
        let during = resolve(&base(5000), "web", Some(&o), t("2026-11-28T12:00:00Z"));
        let after = resolve(&base(5000), "web", Some(&o), t("2026-11-30T00:00:00Z"));
        assert_eq!(
            (before.amount_minor, during.amount_minor, after.amount_minor),
            (5000, 4000, 5000)
        );
        assert_eq!(during.override_reason.as_deref(), Some("Web exclusive"));
        assert!(before.override_reason.is_none());
        o.ends_at = o.starts_at;
        assert!(o.validate().is_err());
    }

    proptest! {
        /// One price: without an applicable override every channel gets the base price, and a
        /// price that differs from the base always comes with a reason.
        #[test]
        fn channels_agree_unless_explained(amount in 0i64..1_000_000, o_amount in 0i64..1_000_000, ch in "(web|app|pos|kiosk)") {
            let b = base(amount);
            let o = web_override(o_amount);
            let p = resolve(&b, &ch, Some(&o), Timestamp::now());
            if ch != "web" {
                prop_assert_eq!(p.amount_minor, amount);
                prop_assert!(p.override_reason.is_none());
            }
            if p.amount_minor != p.base_amount_minor {
                prop_assert!(p.override_reason.is_some());
            }
        }
    }
}
