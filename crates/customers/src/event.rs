//! Behavioural events sent by channels: page and product views, searches, cart adds, store
//! visits, kiosk sessions… Each names the identifiers the channel knows (an anonymous web id,
//! an app device, an e-mail after sign-in) and is resolved to one profile when stored.

use kernel::{Error, Timestamp};
use serde::{Deserialize, Serialize};

use crate::identity::Identifier;

/// The event types every channel sends; others are accepted if they are snake_case.
pub const KNOWN_TYPES: &[&str] = &[
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout_started",
    "sign_in",
    "sign_up",
    "store_visit",
    "kiosk_session",
    "wishlist_add",
    "newsletter_signup",
    "app_open",
];

/// Most identifiers one event may carry.
pub const MAX_IDENTIFIERS: usize = 10;
/// Most bytes of `properties` (as JSON).
pub const MAX_PROPERTIES_BYTES: usize = 8 * 1024;
/// How far in the future `occurred_at` may be (clock skew of devices).
pub const FUTURE_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// An event, validated and normalised, before it is resolved to a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerEvent {
    pub channel: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub identifiers: Vec<Identifier>,
    pub location_code: Option<String>,
    pub properties: serde_json::Map<String, serde_json::Value>,
    pub occurred_at: Timestamp,
}

/// Checks an event type: a known one or 2 to 64 of `a-z 0-9 _` starting with a letter.
pub fn validate_type(kind: &str) -> Result<(), Error> {
    let ok = KNOWN_TYPES.contains(&kind)
        || ((2..=64).contains(&kind.len())
            && kind.as_bytes()[0].is_ascii_lowercase()
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "type",
            "must be snake_case (2 to 64 of `a-z 0-9 _`), e.g. `product_view`",
        ))
    }
}

impl CustomerEvent {
    /// Checks what needs no database: type, identifiers, time, size of the properties.
    pub fn validate(&self, now: Timestamp) -> Result<(), Error> {
        validate_type(&self.kind)?;
        if self.identifiers.is_empty() || self.identifiers.len() > MAX_IDENTIFIERS {
            return Err(Error::validation(
                "identifiers",
                format!("an event names 1 to {MAX_IDENTIFIERS} identifiers"),
            ));
        }
        if self.occurred_at.unix_ms() > now.unix_ms() + FUTURE_TOLERANCE_MS {
            return Err(Error::validation(
                "occurred_at",
                "is more than 5 minutes in the future",
            ));
        }
        let size = serde_json::to_string(&self.properties).map_or(usize::MAX, |s| s.len());
        if size > MAX_PROPERTIES_BYTES {
            return Err(Error::validation(
                "properties",
                format!("must be at most {MAX_PROPERTIES_BYTES} bytes of JSON"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;

    fn event() -> CustomerEvent {
        CustomerEvent {
            channel: "web".into(),
            kind: "product_view".into(),
            identifiers: vec![Identifier {
                kind: IdentityKind::WebAnonymous,
                value: "anon-1".into(),
            }],
            location_code: None,
            properties: serde_json::Map::new(),
            occurred_at: Timestamp::from_unix_ms(1_700_000_000_000),
        }
    }

    #[test]
    fn a_plain_event_passes_and_each_rule_names_its_field() {
        let now = Timestamp::from_unix_ms(1_700_000_000_000);
        assert!(event().validate(now).is_ok());
        type Spoil = Box<dyn Fn(&mut CustomerEvent)>;
        let cases: Vec<(&str, Spoil)> = vec![
            ("type", Box::new(|e| e.kind = "Product View".into())),
            ("identifiers", Box::new(|e| e.identifiers.clear())),
            (
                "occurred_at",
                Box::new(|e| e.occurred_at = Timestamp::from_unix_ms(1_700_000_000_000 + 600_000)),
            ),
            (
                "properties",
                Box::new(|e| {
                    e.properties.insert("blob".into(), "x".repeat(9000).into());
                }),
            ),
        ];
        for (field, spoil) in cases {
            let mut e = event();
            spoil(&mut e);
            assert_eq!(e.validate(now).unwrap_err().details["field"], field);
        }
    }

    #[test]
    fn custom_types_are_snake_case() {
        assert!(validate_type("loyalty_scan").is_ok());
        assert!(validate_type("9lives").is_err());
        assert!(validate_type("x").is_err());
    }
}
