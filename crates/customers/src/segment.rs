//! Segments: rules over a customer's attributes and aggregates, evaluated when asked, so
//! membership is always current — an event stored a moment ago already counts.
//!
//! A rule is JSON, externally tagged:
//! `{"all": [{"home_store": ["LYS-BELLECOUR"]}, {"event_count": {"type": "product_view",
//! "channel": "app", "within_days": 30, "at_least": 3}}, {"consent": {"purpose":
//! "email_marketing", "channel": "email"}}]}`. Purchases are events of type `purchase` until
//! orders are part of Relais.

use kernel::Error;
use serde::{Deserialize, Serialize};

use crate::consent::Purpose;
use crate::identity::IdentityKind;

/// Most conditions in one rule, and how deep rules may nest.
pub const MAX_CONDITIONS: usize = 32;
pub const MAX_DEPTH: usize = 4;

/// A segment rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Every sub-rule holds.
    All(Vec<Rule>),
    /// At least one sub-rule holds.
    Any(Vec<Rule>),
    /// The sub-rule does not hold.
    Not(Box<Rule>),
    /// The home store is one of these.
    HomeStore(Vec<String>),
    /// The profile was created within the last N days.
    CreatedWithinDays(u32),
    /// The profile holds an identifier of this kind (an e-mail, a loyalty card…).
    HasIdentity(IdentityKind),
    /// Events matching the filter within a window number between `at_least` and `at_most`.
    EventCount(EventCount),
    /// Consent for the purpose on the channel (the same rule as the consent check).
    Consent(ConsentCondition),
    /// An active loyalty member in one of these tiers (tier-only promotions name such a
    /// segment).
    LoyaltyTier(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventCount {
    /// Only events of this type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Only events on this channel.
    pub channel: Option<String>,
    /// Only events of the last N days (1 to 730).
    pub within_days: u32,
    #[serde(default = "one")]
    pub at_least: u32,
    pub at_most: Option<u32>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentCondition {
    pub purpose: Purpose,
    pub channel: String,
    /// `true` (default): the customer consents; `false`: they do not.
    #[serde(default = "yes")]
    pub granted: bool,
}

fn yes() -> bool {
    true
}

impl Rule {
    /// Checks sizes, windows and words; `field` is where the rule sits in the request.
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        let mut conditions = 0;
        self.check(field, 1, &mut conditions)
    }

    fn check(&self, field: &str, depth: usize, conditions: &mut usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::validation(
                field,
                format!("rules nest at most {MAX_DEPTH} deep"),
            ));
        }
        *conditions += 1;
        if *conditions > MAX_CONDITIONS {
            return Err(Error::validation(
                field,
                format!("at most {MAX_CONDITIONS} conditions"),
            ));
        }
        match self {
            Rule::All(rules) | Rule::Any(rules) => {
                if rules.is_empty() {
                    return Err(Error::validation(
                        field,
                        "`all` and `any` need at least one rule",
                    ));
                }
                for (i, r) in rules.iter().enumerate() {
                    r.check(&format!("{field}[{i}]"), depth + 1, conditions)?;
                }
                Ok(())
            }
            Rule::Not(r) => r.check(&format!("{field}.not"), depth + 1, conditions),
            Rule::HomeStore(codes) if codes.is_empty() || codes.len() > 100 => Err(
                Error::validation(field, "home_store lists 1 to 100 store codes"),
            ),
            Rule::LoyaltyTier(tiers) if tiers.is_empty() || tiers.len() > 20 => Err(
                Error::validation(field, "loyalty_tier lists 1 to 20 tier codes"),
            ),
            Rule::HomeStore(_) | Rule::HasIdentity(_) | Rule::LoyaltyTier(_) => Ok(()),
            Rule::CreatedWithinDays(days) => check_days(field, *days),
            Rule::EventCount(c) => {
                check_days(field, c.within_days)?;
                if let Some(kind) = &c.kind {
                    crate::event::validate_type(kind).map_err(|e| e.with("field", field))?;
                }
                if c.at_most.is_some_and(|most| most < c.at_least) {
                    return Err(Error::validation(field, "at_most is below at_least"));
                }
                Ok(())
            }
            Rule::Consent(_) => Ok(()),
        }
    }
}

fn check_days(field: &str, days: u32) -> Result<(), Error> {
    if (1..=730).contains(&days) {
        Ok(())
    } else {
        Err(Error::validation(field, "a window is 1 to 730 days"))
    }
}

/// A saved segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Segment {
    pub code: String,
    pub name: String,
    pub rule: Rule,
    pub created_at: kernel::Timestamp,
    pub updated_at: kernel::Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_as_json_and_are_bounded() {
        let rule: Rule = serde_json::from_str(
            r#"{"all": [{"home_store": ["LYS-BELLECOUR"]},
                        {"event_count": {"type": "product_view", "channel": "app", "within_days": 30, "at_least": 3}},
                        {"not": {"consent": {"purpose": "email_marketing", "channel": "email"}}},
                        {"has_identity": "loyalty_card"}, {"loyalty_tier": ["gold"]}]}"#,
        )
        .unwrap();
        assert!(rule.validate("rule").is_ok());
        let bad = Rule::All(vec![Rule::EventCount(EventCount {
            kind: None,
            channel: None,
            within_days: 0,
            at_least: 1,
            at_most: None,
        })]);
        assert_eq!(
            bad.validate("rule").unwrap_err().details["field"],
            "rule[0]"
        );
        let mut deep = Rule::HasIdentity(IdentityKind::Email);
        for _ in 0..5 {
            deep = Rule::Not(Box::new(deep));
        }
        assert!(deep.validate("rule").is_err());
        let wide = Rule::Any((0..40).map(|_| Rule::CreatedWithinDays(3)).collect());
        assert!(wide.validate("rule").is_err());
        assert!(serde_json::from_str::<Rule>(r#"{"shoe_size": 42}"#).is_err());
    }
}
