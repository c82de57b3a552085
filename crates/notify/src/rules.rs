//! Automation rules: the fixed set of occasions Relais writes to a customer on, and how the
//! retailer tunes each one (on or off, delay, media, its own wording, how often).

use std::collections::BTreeMap;

use kernel::Error;
use serde::{Deserialize, Serialize};

use crate::reach::{Language, Medium};
use crate::templates::Wording;

/// Why a message is sent: a service message answers something the customer did (an order,
/// a request); marketing needs their consent for the medium and waits out quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Service,
    Marketing,
}

/// The occasions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A click & collect order is ready: the pickup code, the store, until when.
    PickupReady,
    /// Still not collected `delay` after it was ready.
    PickupReminder,
    /// The last day before the order becomes a no-show (`delay` before the deadline).
    PickupLastDay,
    /// A click & reserve hold ends in `delay`.
    ReservationExpiring,
    /// `delay` after the customer signed up.
    Welcome,
    /// A signed-in customer's cart untouched for `delay`.
    AbandonedCart,
    /// A product the customer asked to be told about is back at their store.
    BackInStock,
    /// `delay` after a return taken back in a store.
    AfterReturn,
    /// A product viewed online is in stock at the customer's nearest store.
    NearestStoreOffer,
}

impl RuleKind {
    pub const ALL: [RuleKind; 9] = [
        RuleKind::PickupReady,
        RuleKind::PickupReminder,
        RuleKind::PickupLastDay,
        RuleKind::ReservationExpiring,
        RuleKind::Welcome,
        RuleKind::AbandonedCart,
        RuleKind::BackInStock,
        RuleKind::AfterReturn,
        RuleKind::NearestStoreOffer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::PickupReady => "pickup_ready",
            RuleKind::PickupReminder => "pickup_reminder",
            RuleKind::PickupLastDay => "pickup_last_day",
            RuleKind::ReservationExpiring => "reservation_expiring",
            RuleKind::Welcome => "welcome",
            RuleKind::AbandonedCart => "abandoned_cart",
            RuleKind::BackInStock => "back_in_stock",
            RuleKind::AfterReturn => "after_return",
            RuleKind::NearestStoreOffer => "nearest_store_offer",
        }
    }

    pub fn parse(text: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn class(self) -> Class {
        match self {
            RuleKind::AbandonedCart | RuleKind::AfterReturn | RuleKind::NearestStoreOffer => {
                Class::Marketing
            }
            _ => Class::Service,
        }
    }

    /// Whether a send waits for the end of the customer's quiet hours: marketing, and the
    /// reminders a sweep would otherwise send at night. What the customer is waiting for
    /// (the order is ready, the product is back, the welcome) goes at once.
    pub fn waits_out_quiet_hours(self) -> bool {
        self.class() == Class::Marketing
            || matches!(
                self,
                RuleKind::PickupReminder | RuleKind::PickupLastDay | RuleKind::ReservationExpiring
            )
    }

    /// What `delay_minutes` means for this rule, for the API's documentation and errors.
    pub fn delay_meaning(self) -> &'static str {
        match self {
            RuleKind::PickupLastDay | RuleKind::ReservationExpiring => "before the deadline",
            RuleKind::PickupReady | RuleKind::BackInStock | RuleKind::NearestStoreOffer => {
                "after the occurrence (0: at once)"
            }
            _ => "after the occurrence",
        }
    }

    /// The configuration a fresh database starts with: service rules on, marketing off
    /// until the retailer turns it on.
    pub fn default_config(self) -> RuleConfig {
        let (enabled, delay_minutes) = match self {
            RuleKind::PickupReady => (true, 0),
            RuleKind::PickupReminder => (true, 24 * 60),
            RuleKind::PickupLastDay => (true, 24 * 60),
            RuleKind::ReservationExpiring => (true, 6 * 60),
            RuleKind::Welcome => (true, 10),
            RuleKind::AbandonedCart => (false, 4 * 60),
            RuleKind::BackInStock => (true, 0),
            RuleKind::AfterReturn => (false, 24 * 60),
            RuleKind::NearestStoreOffer => (false, 0),
        };
        RuleConfig {
            enabled,
            delay_minutes,
            media: vec![Medium::Email, Medium::Push, Medium::Sms],
            every_days: (self == RuleKind::NearestStoreOffer).then_some(14),
            wording: BTreeMap::new(),
        }
    }
}

/// How the retailer set a rule up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleConfig {
    pub enabled: bool,
    /// Minutes after the occurrence (or before the deadline, for deadline rules).
    pub delay_minutes: i64,
    /// The media it may use, in the retailer's order of preference.
    pub media: Vec<Medium>,
    /// At most once per this many days per person (the nearest-store offer).
    pub every_days: Option<i64>,
    /// The retailer's own wording per language, in place of Relais's.
    pub wording: BTreeMap<Language, Wording>,
}

/// The longest delay a rule may have: 30 days.
pub const MAX_DELAY_MINUTES: i64 = 30 * 24 * 60;

impl RuleConfig {
    /// Checks a configuration for `kind`; templates must compile.
    pub fn validate(&self, kind: RuleKind) -> Result<(), Error> {
        if !(0..=MAX_DELAY_MINUTES).contains(&self.delay_minutes) {
            return Err(Error::validation(
                "delay_minutes",
                format!(
                    "must be 0 to {MAX_DELAY_MINUTES} minutes {}",
                    kind.delay_meaning()
                ),
            ));
        }
        if self.media.is_empty() {
            return Err(Error::validation("media", "name at least one medium"));
        }
        let mut seen = self.media.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.media.len() {
            return Err(Error::validation("media", "a medium is named twice"));
        }
        match (kind, self.every_days) {
            (RuleKind::NearestStoreOffer, Some(1..=365)) | (RuleKind::NearestStoreOffer, None) => {}
            (RuleKind::NearestStoreOffer, Some(_)) => {
                return Err(Error::validation("every_days", "must be 1 to 365"));
            }
            (_, Some(_)) => {
                return Err(Error::validation(
                    "every_days",
                    "only the nearest-store offer is limited per person",
                ));
            }
            (_, None) => {}
        }
        for (language, wording) in &self.wording {
            wording.validate(&format!("wording.{}", language.as_str()))?;
        }
        Ok(())
    }
}

/// The key that makes a firing unique: one rule, one subject (order, cart, customer…), one
/// occurrence. A second insert with the same key changes nothing, so an event delivered
/// twice, or read by two nodes, fires once.
pub fn dedup_key(kind: RuleKind, subject: &str, occurrence: Option<&str>) -> String {
    match occurrence {
        Some(o) => format!("{}:{subject}:{o}", kind.as_str()),
        None => format!("{}:{subject}", kind.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_defaults_are_valid() {
        for k in RuleKind::ALL {
            assert_eq!(RuleKind::parse(k.as_str()), Some(k));
            k.default_config().validate(k).unwrap();
        }
    }

    #[test]
    fn marketing_is_off_by_default_and_waits_out_the_night() {
        for k in RuleKind::ALL {
            if k.class() == Class::Marketing {
                assert!(!k.default_config().enabled, "{k:?}");
                assert!(k.waits_out_quiet_hours());
            }
        }
        assert!(!RuleKind::PickupReady.waits_out_quiet_hours());
    }

    #[test]
    fn bad_configurations_are_refused() {
        let k = RuleKind::PickupReminder;
        let mut c = k.default_config();
        c.delay_minutes = -1;
        assert_eq!(c.validate(k).unwrap_err().details["field"], "delay_minutes");
        let mut c = k.default_config();
        c.media = vec![Medium::Sms, Medium::Sms];
        assert!(c.validate(k).is_err());
        c.media.clear();
        assert!(c.validate(k).is_err());
        let mut c = k.default_config();
        c.every_days = Some(3);
        assert_eq!(c.validate(k).unwrap_err().details["field"], "every_days");
        let mut c = RuleKind::NearestStoreOffer.default_config();
        c.every_days = Some(0);
        assert!(c.validate(RuleKind::NearestStoreOffer).is_err());
    }

    #[test]
    fn keys_name_rule_subject_and_occurrence() {
        assert_eq!(
            dedup_key(RuleKind::PickupReady, "ord_1", None),
            "pickup_ready:ord_1"
        );
        assert_eq!(
            dedup_key(RuleKind::NearestStoreOffer, "cus_1", Some("41")),
            "nearest_store_offer:cus_1:41"
        );
    }
}
