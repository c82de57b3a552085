//! Reaching a customer: on which medium, at which address, in which language, and not at
//! night.

use customers::consent::Purpose;
use kernel::Timestamp;
use serde::{Deserialize, Serialize};

use crate::rules::{Class, RuleKind};

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    Email,
    Sms,
    Push,
}

impl Medium {
    pub const ALL: [Medium; 3] = [Medium::Email, Medium::Sms, Medium::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Email => "email",
            Medium::Sms => "sms",
            Medium::Push => "push",
        }
    }

    pub fn parse(text: &str) -> Option<Medium> {
        Medium::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// The consent purpose marketing on this medium needs.
    pub fn marketing_purpose(self) -> Purpose {
        match self {
            Medium::Email => Purpose::EmailMarketing,
            Medium::Sms => Purpose::SmsMarketing,
            Medium::Push => Purpose::Push,
        }
    }
}

/// The languages Relais writes in; French unless the customer said otherwise.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    Fr,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Fr, Language::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }

    /// `fr`, `en`, or a tag that starts with one (`en-GB`, `fr_CA`).
    pub fn parse(text: &str) -> Option<Language> {
        let primary = text.split(['-', '_']).next()?.to_ascii_lowercase();
        Language::ALL.into_iter().find(|l| l.as_str() == primary)
    }
}

/// Where a customer can be reached: their addresses per medium (the verified one first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub email: Option<String>,
    pub phone: Option<String>,
    /// An app installation's push token (its device identifier).
    pub device: Option<String>,
}

impl Addresses {
    pub fn on(&self, medium: Medium) -> Option<&str> {
        match medium {
            Medium::Email => self.email.as_deref(),
            Medium::Sms => self.phone.as_deref(),
            Medium::Push => self.device.as_deref(),
        }
    }
}

/// The medium and address chosen, or why nobody can be written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Send { medium: Medium, recipient: String },
    Skip(String),
}

/// Chooses how to reach a customer for `rule`: among the media the rule may use, the
/// customer's preferred one first, then the rule's order; a medium needs an address, and
/// for marketing the consent of its purpose (`consents(purpose)`, on the channel the
/// occasion came from).
pub fn choose(
    rule: RuleKind,
    media: &[Medium],
    preferred: Option<Medium>,
    addresses: &Addresses,
    consents: impl Fn(Purpose) -> bool,
) -> Choice {
    let order = preferred
        .filter(|p| media.contains(p))
        .into_iter()
        .chain(media.iter().copied().filter(|m| Some(*m) != preferred));
    let mut refused = Vec::new();
    for medium in order {
        let Some(recipient) = addresses.on(medium) else {
            continue;
        };
        if rule.class() == Class::Marketing && !consents(medium.marketing_purpose()) {
            refused.push(medium.marketing_purpose().as_str());
            continue;
        }
        return Choice::Send {
            medium,
            recipient: recipient.to_owned(),
        };
    }
    let names: Vec<&str> = media.iter().map(|m| m.as_str()).collect();
    Choice::Skip(match refused.is_empty() {
        true => format!("no address to reach the customer by {}", names.join(", ")),
        false => format!("no consent: {} not granted", refused.join(", ")),
    })
}

/// The hours no marketing is sent, in the customer's local time: from `start` to `end`
/// minutes after midnight (wrapping past midnight when `start > end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start_minute: i64,
    pub end_minute: i64,
}

impl Default for QuietHours {
    /// 21:00 to 08:00.
    fn default() -> Self {
        QuietHours {
            start_minute: 21 * 60,
            end_minute: 8 * 60,
        }
    }
}

impl QuietHours {
    /// The first instant at or after `at` outside quiet hours in `time_zone` (an IANA name;
    /// an unknown one counts as UTC).
    pub fn next_allowed(&self, at: Timestamp, time_zone: &str) -> Timestamp {
        let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let Ok(instant) = jiff::Timestamp::from_millisecond(at.unix_ms()) else {
            return at;
        };
        let local = instant.to_zoned(tz.clone());
        let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
        if !self.is_quiet(minute) {
            return at;
        }
        // The end is today if it is still ahead, else tomorrow.
        let mut day = local.date();
        if minute >= self.end_minute {
            day = day.tomorrow().unwrap_or(day);
        }
        let end = jiff::civil::Time::new(
            (self.end_minute / 60) as i8,
            (self.end_minute % 60) as i8,
            0,
            0,
        )
        .unwrap_or(jiff::civil::Time::midnight());
        match day.to_datetime(end).to_zoned(tz) {
            Ok(z) => Timestamp::from_unix_ms(z.timestamp().as_millisecond()),
            Err(_) => at,
        }
    }

    fn is_quiet(&self, minute: i64) -> bool {
        match self.start_minute <= self.end_minute {
            true => (self.start_minute..self.end_minute).contains(&minute),
            false => minute >= self.start_minute || minute < self.end_minute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_addresses() -> Addresses {
        Addresses {
            email: Some("lea@example.com".into()),
            phone: Some("+33612345678".into()),
            device: Some("dev-1".into()),
        }
    }

    #[test]
    fn service_follows_the_preference_when_it_can() {
        let media = [Medium::Email, Medium::Sms];
        let c = choose(
            RuleKind::PickupReady,
            &media,
            Some(Medium::Sms),
            &all_addresses(),
            |_| false,
        );
        assert_eq!(
            c,
            Choice::Send {
                medium: Medium::Sms,
                recipient: "+33612345678".into()
            }
        );
        // Push is not among the rule's media: the rule's order decides.
        let c = choose(
            RuleKind::PickupReady,
            &media,
            Some(Medium::Push),
            &all_addresses(),
            |_| false,
        );
        assert!(matches!(
            c,
            Choice::Send {
                medium: Medium::Email,
                ..
            }
        ));
        let no_mail = Addresses {
            email: None,
            ..all_addresses()
        };
        let c = choose(RuleKind::PickupReady, &media, None, &no_mail, |_| false);
        assert!(matches!(
            c,
            Choice::Send {
                medium: Medium::Sms,
                ..
            }
        ));
    }

    #[test]
    fn marketing_needs_the_consent_of_its_medium() {
        let media = [Medium::Email, Medium::Sms];
        let none = choose(
            RuleKind::NearestStoreOffer,
            &media,
            None,
            &all_addresses(),
            |_| false,
        );
        assert_eq!(
            none,
            Choice::Skip("no consent: email_marketing, sms_marketing not granted".into())
        );
        let sms_only = choose(
            RuleKind::NearestStoreOffer,
            &media,
            None,
            &all_addresses(),
            |p| p == Purpose::SmsMarketing,
        );
        assert!(matches!(
            sms_only,
            Choice::Send {
                medium: Medium::Sms,
                ..
            }
        ));
        let nobody = choose(
            RuleKind::AbandonedCart,
            &media,
            None,
            &Addresses::default(),
            |_| true,
        );
        assert!(matches!(nobody, Choice::Skip(r) if r.starts_with("no address")));
    }

    #[test]
    fn languages_parse_from_tags() {
        assert_eq!(Language::parse("en-GB"), Some(Language::En));
        assert_eq!(Language::parse("FR"), Some(Language::Fr));
        assert_eq!(Language::parse("de"), None);
    }

    fn paris(text: &str) -> Timestamp {
        let z: jiff::Zoned = format!("{text}[Europe/Paris]").parse().unwrap();
        Timestamp::from_unix_ms(z.timestamp().as_millisecond())
    }

    #[test]
    fn the_night_is_moved_to_the_morning_in_the_customers_zone() {
        let q = QuietHours::default();
        let day = paris("2026-12-07T15:00:00");
        assert_eq!(q.next_allowed(day, "Europe/Paris"), day);
        assert_eq!(
            q.next_allowed(paris("2026-12-07T22:30:00"), "Europe/Paris"),
            paris("2026-12-08T08:00:00")
        );
        assert_eq!(
            q.next_allowed(paris("2026-12-08T03:10:00"), "Europe/Paris"),
            paris("2026-12-08T08:00:00")
        );
        // 22:30 in Paris is 16:30 in New York: not quiet there.
        let evening = paris("2026-12-07T22:30:00");
        assert_eq!(q.next_allowed(evening, "America/New_York"), evening);
    }

    proptest! {
        #[test]
        fn the_answer_is_never_earlier_nor_more_than_a_day_later(
            ms in 1_700_000_000_000i64..1_900_000_000_000,
            start in 0i64..1440, end in 0i64..1440,
        ) {
            let q = QuietHours { start_minute: start, end_minute: end };
            let at = Timestamp::from_unix_ms(ms);
            let next = q.next_allowed(at, "Europe/Paris");
            prop_assert!(next >= at);
            prop_assert!(next.unix_ms() - at.unix_ms() <= 25 * 3600 * 1000);
        }
    }
}
