//! The loyalty programme: one per retailer, set by an administrator. A sale earns points per
//! whole currency unit paid (after discounts, before nothing else), multiplied by percentages
//! that stack — the channel it was sold on, the product's category, a bonus period, the
//! member's tier — plus flat points per promotion applied. Fractions are dropped once, on the
//! order's total, so splitting a basket into lines never costs a member a point.
//!
//! A member's tier is the highest whose threshold the points earned over the last
//! `tier_months` reach. Spent points are worth `point_value_minor` each. Points expire
//! `expiry_months` after they were earned (oldest spent first, see [`crate::ledger`]).
//!
//! Points are spent at any checkout (each worth `point_value_minor`), or on a [`Reward`]: a
//! voucher of a fixed value for a fixed number of points, issued as store credit.

use std::collections::BTreeMap;

use kernel::{Currency, Error, Timestamp};
use serde::{Deserialize, Serialize};

/// A period in which sales earn more (a double-points weekend).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BonusPeriod {
    pub code: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Percent of the usual points (200 doubles them).
    pub earn_pct: i64,
}

/// A tier: reached with `threshold` points earned over the programme's period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Short code, e.g. `gold`; segments name it (`{"loyalty_tier": "gold"}`).
    pub code: String,
    pub threshold: i64,
    /// Percent of the usual points its members earn (125 gives a quarter more).
    pub earn_pct: i64,
}

/// What members may redeem points for: a voucher worth `value_minor`, paid with `points`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reward {
    /// Short code, e.g. `voucher-5`.
    pub code: String,
    pub name: String,
    pub points: i64,
    /// In minor units of the programme's currency.
    pub value_minor: i64,
    /// Months the voucher stays valid.
    pub valid_months: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programme {
    pub currency: Currency,
    /// Points per whole unit of `currency` paid (1: a point per euro).
    pub points_per_unit: i64,
    /// Percent by sales channel code (a missing channel earns 100 %).
    pub channel_pct: BTreeMap<String, i64>,
    /// Percent by product category.
    pub category_pct: BTreeMap<String, i64>,
    /// Flat points when a promotion (by id) applied to the order.
    pub promotion_points: BTreeMap<String, i64>,
    pub bonus_periods: Vec<BonusPeriod>,
    /// Ascending thresholds; the first is 0 (every member has a tier).
    pub tiers: Vec<Tier>,
    /// The period, in months, over which earned points count toward a tier.
    pub tier_months: i64,
    /// Months after which earned points expire; 0: never.
    pub expiry_months: i64,
    /// What one point pays, in minor units of `currency`.
    pub point_value_minor: i64,
    /// The fewest points spent at once.
    pub min_spend_points: i64,
    /// Vouchers members may redeem points for (none in a programme saved before rewards).
    #[serde(default)]
    pub rewards: Vec<Reward>,
}

impl Default for Programme {
    /// A point per euro, 100 points pay 1 €, three tiers over 12 months, two-year expiry.
    fn default() -> Programme {
        let tier = |code: &str, threshold, earn_pct| Tier {
            code: code.into(),
            threshold,
            earn_pct,
        };
        Programme {
            currency: Currency::EUR,
            points_per_unit: 1,
            channel_pct: BTreeMap::new(),
            category_pct: BTreeMap::new(),
            promotion_points: BTreeMap::new(),
            bonus_periods: Vec::new(),
            tiers: vec![
                tier("member", 0, 100),
                tier("silver", 500, 125),
                tier("gold", 1500, 150),
            ],
            tier_months: 12,
            expiry_months: 24,
            point_value_minor: 1,
            min_spend_points: 1,
            rewards: Vec::new(),
        }
    }
}

/// One line of a sale as the programme sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarnLine {
    /// What the customer paid for the line, after discounts, in minor units.
    pub paid_minor: i64,
    pub category: Option<String>,
}

/// What a sale earns, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Earned {
    pub points: i64,
    /// Each multiplier and bonus that applied, for the member's history.
    pub reasons: Vec<String>,
}

const PCT_MAX: i64 = 1000;

fn check_pct(field: &str, pct: i64) -> Result<(), Error> {
    if (0..=PCT_MAX).contains(&pct) {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            format!("a percentage from 0 to {PCT_MAX}"),
        ))
    }
}

fn check_range(field: &str, value: i64, range: std::ops::RangeInclusive<i64>) -> Result<(), Error> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            format!("from {} to {}", range.start(), range.end()),
        ))
    }
}

impl Programme {
    /// Refuses a programme that could not be applied as written.
    pub fn validate(&self) -> Result<(), Error> {
        check_range("points_per_unit", self.points_per_unit, 0..=1000)?;
        check_range("point_value_minor", self.point_value_minor, 1..=10_000)?;
        check_range("min_spend_points", self.min_spend_points, 1..=1_000_000)?;
        check_range("tier_months", self.tier_months, 1..=60)?;
        check_range("expiry_months", self.expiry_months, 0..=120)?;
        for (code, pct) in &self.channel_pct {
            check_pct(&format!("channel_pct.{code}"), *pct)?;
        }
        for (code, pct) in &self.category_pct {
            check_pct(&format!("category_pct.{code}"), *pct)?;
        }
        for (id, points) in &self.promotion_points {
            check_range(&format!("promotion_points.{id}"), *points, 0..=1_000_000)?;
        }
        for (i, b) in self.bonus_periods.iter().enumerate() {
            check_pct(&format!("bonus_periods[{i}].earn_pct"), b.earn_pct)?;
            if b.ends_at <= b.starts_at {
                return Err(Error::validation(
                    &format!("bonus_periods[{i}].ends_at"),
                    "ends after it starts",
                ));
            }
        }
        self.validate_rewards()?;
        self.validate_tiers()
    }

    fn validate_rewards(&self) -> Result<(), Error> {
        if self.rewards.len() > 50 {
            return Err(Error::validation("rewards", "at most 50 rewards"));
        }
        for (i, r) in self.rewards.iter().enumerate() {
            let field = |f: &str| format!("rewards[{i}].{f}");
            kernel::text::code(
                &field("code"),
                &r.code,
                1,
                32,
                |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_',
                "lower-case letters, digits, `-` and `_`",
            )?;
            kernel::text::bounded(&field("name"), &r.name, 1, 100)?;
            check_range(&field("points"), r.points, 1..=10_000_000)?;
            check_range(&field("value_minor"), r.value_minor, 1..=10_000_000)?;
            check_range(&field("valid_months"), r.valid_months, 1..=120)?;
            if self.rewards[..i].iter().any(|o| o.code == r.code) {
                return Err(Error::validation(&field("code"), "reward codes are unique"));
            }
        }
        Ok(())
    }

    /// The reward with this code.
    pub fn reward(&self, code: &str) -> Result<&Reward, Error> {
        self.rewards.iter().find(|r| r.code == code).ok_or_else(|| {
            Error::validation("reward", format!("the programme has no reward `{code}`"))
        })
    }

    fn validate_tiers(&self) -> Result<(), Error> {
        if self.tiers.first().map(|t| t.threshold) != Some(0) {
            return Err(Error::validation(
                "tiers",
                "the first tier starts at 0 points (every member has one)",
            ));
        }
        for (i, t) in self.tiers.iter().enumerate() {
            kernel::text::code(
                &format!("tiers[{i}].code"),
                &t.code,
                1,
                32,
                |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_',
                "lower-case letters, digits, `-` and `_`",
            )?;
            check_pct(&format!("tiers[{i}].earn_pct"), t.earn_pct)?;
            if i > 0 && t.threshold <= self.tiers[i - 1].threshold {
                return Err(Error::validation(
                    &format!("tiers[{i}].threshold"),
                    "thresholds rise from one tier to the next",
                ));
            }
            if self.tiers[..i].iter().any(|o| o.code == t.code) {
                return Err(Error::validation(
                    &format!("tiers[{i}].code"),
                    "named twice",
                ));
            }
        }
        Ok(())
    }

    /// The tier of a member who earned `points` over the period.
    pub fn tier_for(&self, points: i64) -> &Tier {
        self.tiers
            .iter()
            .rev()
            .find(|t| points >= t.threshold)
            .unwrap_or(&self.tiers[0])
    }

    fn tier_pct(&self, tier: &str) -> i64 {
        self.tiers
            .iter()
            .find(|t| t.code == tier)
            .map_or(100, |t| t.earn_pct)
    }

    /// The points a sale earns: `lines` sold on `channel` at `at` to a member of `tier`, with
    /// the promotions (ids) that applied.
    pub fn earn(
        &self,
        lines: &[EarnLine],
        channel: &str,
        promotions: &[String],
        tier: &str,
        at: Timestamp,
    ) -> Earned {
        let mut reasons = Vec::new();
        let channel_pct = self.channel_pct.get(channel).copied().unwrap_or(100);
        if channel_pct != 100 {
            reasons.push(format!("{channel_pct} % on channel {channel}"));
        }
        let bonus_pct: i64 = self
            .bonus_periods
            .iter()
            .filter(|b| b.starts_at <= at && at < b.ends_at)
            .map(|b| {
                reasons.push(format!("{} % during {}", b.earn_pct, b.code));
                b.earn_pct
            })
            .max()
            .unwrap_or(100);
        let tier_pct = self.tier_pct(tier);
        if tier_pct != 100 {
            reasons.push(format!("{tier_pct} % as {tier}"));
        }
        // Σ paid × category % in minor units × 100, then every other factor, floored once.
        let weighted: i128 = lines
            .iter()
            .map(|l| {
                let pct = l
                    .category
                    .as_ref()
                    .and_then(|c| self.category_pct.get(c))
                    .copied()
                    .unwrap_or(100);
                i128::from(l.paid_minor.max(0)) * i128::from(pct)
            })
            .sum();
        let unit = 10i128.pow(u32::from(self.currency.exponent()));
        let numerator = weighted
            * i128::from(self.points_per_unit)
            * i128::from(channel_pct)
            * i128::from(bonus_pct)
            * i128::from(tier_pct);
        let from_spend = numerator / (unit * 100 * 100 * 100 * 100);
        let mut points = i64::try_from(from_spend).unwrap_or(i64::MAX);
        for id in promotions {
            if let Some(extra) = self.promotion_points.get(id) {
                reasons.push(format!("{extra} points with promotion {id}"));
                points = points.saturating_add(*extra);
            }
        }
        Earned { points, reasons }
    }

    /// What `points` pay, in minor units.
    pub fn value_of(&self, points: i64) -> i64 {
        points.saturating_mul(self.point_value_minor)
    }

    /// The points that pay exactly `amount_minor` (refused when it is not a whole number of
    /// points, or fewer than the programme allows at once).
    pub fn points_for(&self, amount_minor: i64) -> Result<i64, Error> {
        if amount_minor <= 0 || amount_minor % self.point_value_minor != 0 {
            return Err(Error::validation(
                "payment.points",
                format!(
                    "a positive multiple of {} (what a point pays)",
                    self.point_value_minor
                ),
            ));
        }
        Ok(amount_minor / self.point_value_minor)
    }

    /// When points earned at `at` expire, if they do.
    pub fn expiry_of(&self, at: Timestamp) -> Option<Timestamp> {
        (self.expiry_months > 0).then(|| add_months(at, self.expiry_months))
    }

    /// The start of the period whose earnings decide a tier at `now`.
    pub fn tier_period_start(&self, now: Timestamp) -> Timestamp {
        add_months(now, -self.tier_months)
    }
}

/// `at` moved by `months` calendar months (the day clamped to the target month's length).
pub fn add_months(at: Timestamp, months: i64) -> Timestamp {
    let dt = at.datetime();
    let index = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month())) - 1 + months;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u8 + 1);
    let month = time::Month::try_from(month).unwrap_or(time::Month::January);
    let year = i32::try_from(year).unwrap_or(9999);
    let day = dt.day().min(time::util::days_in_month(month, year));
    let date = time::Date::from_calendar_date(year, month, day).unwrap_or(dt.date());
    Timestamp::from_datetime(dt.replace_date(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn rewards_are_unique_and_worth_something() {
        let voucher = Reward {
            code: "voucher-5".into(),
            name: "5 € voucher".into(),
            points: 500,
            value_minor: 500,
            valid_months: 6,
        };
        let mut p = Programme {
            rewards: vec![voucher.clone()],
            ..Programme::default()
        };
        assert!(p.validate().is_ok());
        assert_eq!(p.reward("voucher-5").unwrap().points, 500);
        assert!(p.reward("voucher-50").is_err());
        p.rewards.push(voucher.clone());
        assert!(p.validate().is_err(), "the same code twice");
        p.rewards = vec![Reward {
            points: 0,
            ..voucher
        }];
        assert!(p.validate().is_err(), "a reward for no points");
    }

    fn line(paid: i64, category: Option<&str>) -> EarnLine {
        EarnLine {
            paid_minor: paid,
            category: category.map(str::to_owned),
        }
    }

    #[test]
    fn a_point_per_euro_floored_once_on_the_total() {
        let p = Programme::default();
        let now = at("2026-12-01T10:00:00.000Z");
        let e = p.earn(
            &[line(1050, None), line(1050, None)],
            "web",
            &[],
            "member",
            now,
        );
        assert_eq!(e.points, 21, "10.50 + 10.50 € is 21 points, not 10 + 10");
        assert!(e.reasons.is_empty());
    }

    #[test]
    fn multipliers_stack_and_are_explained() {
        let mut p = Programme::default();
        p.channel_pct.insert("app".into(), 200);
        p.category_pct.insert("running".into(), 150);
        p.promotion_points.insert("prm_1".into(), 50);
        p.bonus_periods.push(BonusPeriod {
            code: "double-weekend".into(),
            starts_at: at("2026-12-05T00:00:00.000Z"),
            ends_at: at("2026-12-07T00:00:00.000Z"),
            earn_pct: 200,
        });
        let inside = at("2026-12-06T10:00:00.000Z");
        let lines = [line(10_000, Some("running")), line(10_000, None)];
        // (100 × 1.5 + 100) × 2 (app) × 2 (weekend) × 1.25 (silver) + 50
        let e = p.earn(&lines, "app", &["prm_1".into()], "silver", inside);
        assert_eq!(e.points, 1300);
        assert_eq!(e.reasons.len(), 4, "{:?}", e.reasons);
        let after = at("2026-12-07T00:00:00.000Z");
        assert_eq!(p.earn(&lines, "web", &[], "member", after).points, 250);
    }

    #[test]
    fn tiers_follow_thresholds() {
        let p = Programme::default();
        assert_eq!(p.tier_for(0).code, "member");
        assert_eq!(p.tier_for(499).code, "member");
        assert_eq!(p.tier_for(500).code, "silver");
        assert_eq!(p.tier_for(10_000).code, "gold");
    }

    #[test]
    fn what_points_pay() {
        let mut p = Programme::default();
        p.point_value_minor = 5;
        assert_eq!(p.value_of(100), 500);
        assert_eq!(p.points_for(500).unwrap(), 100);
        assert!(p.points_for(501).is_err());
        assert!(p.points_for(0).is_err());
    }

    #[test]
    fn months_are_calendar_months() {
        let t = add_months(at("2026-01-31T08:00:00.000Z"), 1);
        assert_eq!(t, at("2026-02-28T08:00:00.000Z"));
        assert_eq!(
            add_months(at("2026-12-15T00:00:00.000Z"), -12),
            at("2025-12-15T00:00:00.000Z")
        );
        assert_eq!(
            add_months(at("2026-11-15T00:00:00.000Z"), 24),
            at("2028-11-15T00:00:00.000Z")
        );
    }

    #[test]
    fn bad_programmes_are_refused() {
        let mut p = Programme::default();
        p.tiers[1].threshold = 0;
        assert!(p.validate().is_err());
        let mut p = Programme::default();
        p.tiers.remove(0);
        assert!(p.validate().is_err());
        let mut p = Programme::default();
        p.channel_pct.insert("web".into(), -1);
        assert!(p.validate().is_err());
        assert!(Programme::default().validate().is_ok());
    }
}
