//! Identifiers that point to a customer, and how each kind is normalised.
//!
//! Two spellings of the same identifier must meet in one row, or the identity graph splits one
//! person in two: e-mail addresses are trimmed and lower-cased, phone numbers become E.164
//! (`+33612345678`), loyalty cards lose spaces and dashes and are upper-cased. Device, cookie
//! and POS ids are opaque and kept as sent. External ids are `system:id`.

use kernel::Error;
use serde::{Deserialize, Serialize};

/// The kinds of identifier a profile may have.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    Email,
    Phone,
    LoyaltyCard,
    AppDevice,
    WebAnonymous,
    PosCustomer,
    External,
}

impl IdentityKind {
    pub const ALL: [IdentityKind; 7] = [
        IdentityKind::Email,
        IdentityKind::Phone,
        IdentityKind::LoyaltyCard,
        IdentityKind::AppDevice,
        IdentityKind::WebAnonymous,
        IdentityKind::PosCustomer,
        IdentityKind::External,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::LoyaltyCard => "loyalty_card",
            IdentityKind::AppDevice => "app_device",
            IdentityKind::WebAnonymous => "web_anonymous",
            IdentityKind::PosCustomer => "pos_customer",
            IdentityKind::External => "external",
        }
    }

    pub fn parse(text: &str) -> Option<IdentityKind> {
        IdentityKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Kinds a person holds one of: two profiles holding two different *verified* values of
    /// such a kind are two people, and are never merged automatically.
    pub fn is_exclusive(self) -> bool {
        matches!(self, IdentityKind::Email | IdentityKind::LoyaltyCard)
    }
}

/// A normalised identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Identifier {
    pub kind: IdentityKind,
    pub value: String,
}

/// How to read phone numbers written without their country code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneRules {
    /// The country calling code assumed for national numbers (`0612…` → `+33612…`).
    pub default_country_code: Option<String>,
}

impl Default for PhoneRules {
    fn default() -> Self {
        PhoneRules {
            default_country_code: Some("33".into()),
        }
    }
}

impl Identifier {
    /// Normalises `raw` as an identifier of `kind`; `field` names it in errors.
    pub fn parse(
        field: &str,
        kind: IdentityKind,
        raw: &str,
        phones: &PhoneRules,
    ) -> Result<Identifier, Error> {
        let value = match kind {
            IdentityKind::Email => normalise_email(raw),
            IdentityKind::Phone => normalise_phone(raw, phones),
            IdentityKind::LoyaltyCard => normalise_card(raw),
            IdentityKind::External => normalise_external(raw),
            IdentityKind::AppDevice | IdentityKind::WebAnonymous | IdentityKind::PosCustomer => {
                opaque(raw)
            }
        }
        .map_err(|why| Error::validation(field, format!("{} `{raw}`: {why}", kind.as_str())))?;
        Ok(Identifier { kind, value })
    }
}

fn normalise_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 {
        return Err("is longer than 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains a space or a control character");
    }
    let (local, domain) = email.split_once('@').ok_or("has no `@`")?;
    let domain_ok = !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err("is not an e-mail address");
    }
    Ok(email)
}

/// E.164: `+`, a country code and the number, 8 to 15 digits in all. Spaces, dots, dashes and
/// brackets are dropped; `00` is the international prefix; a leading `0` is a national trunk
/// prefix replaced by the default country code. Numbering plans are not checked further.
fn normalise_phone(raw: &str, rules: &PhoneRules) -> Result<String, &'static str> {
    // `+33 (0)6…` writes the national trunk prefix in brackets: it is not dialled.
    let compact: String = raw
        .trim()
        .replace("(0)", "")
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '/'))
        .collect();
    let digits = if let Some(rest) = compact.strip_prefix('+') {
        rest.to_owned()
    } else if let Some(rest) = compact.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = compact.strip_prefix('0') {
        let cc = rules
            .default_country_code
            .as_deref()
            .ok_or("has no country code")?;
        format!("{cc}{rest}")
    } else {
        return Err("needs a country code (`+33…`) or a national number (`06…`)");
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("has characters other than digits");
    }
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err("is not an E.164 number (8 to 15 digits after the country code)");
    }
    Ok(format!("+{digits}"))
}

fn normalise_card(raw: &str) -> Result<String, &'static str> {
    let card: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !(4..=32).contains(&card.len()) || !card.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("must be 4 to 32 letters or digits");
    }
    Ok(card)
}

fn opaque(raw: &str) -> Result<String, &'static str> {
    if raw.is_empty() || raw.len() > 128 || !raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("must be 1 to 128 visible ASCII characters");
    }
    Ok(raw.to_owned())
}

fn normalise_external(raw: &str) -> Result<String, &'static str> {
    let (system, id) = raw.split_once(':').ok_or("must be `system:id`")?;
    let system_ok = !system.is_empty()
        && system.len() <= 32
        && system
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !system_ok {
        return Err("the system must be 1 to 32 of `a-z 0-9 - _`");
    }
    opaque(id)?;
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: IdentityKind, raw: &str) -> Result<String, Error> {
        Identifier::parse("id", kind, raw, &PhoneRules::default()).map(|i| i.value)
    }

    #[test]
    fn spellings_of_one_identifier_meet() {
        use IdentityKind::*;
        let same = [
            (
                Email,
                " Claire.Martin@Example.FR ",
                "claire.martin@example.fr",
            ),
            (Phone, "06 12 34 56 78", "+33612345678"),
            (Phone, "+33 (0)6 12 34 56 78", "+33612345678"),
            (Phone, "+33 6 12-34-56-78", "+33612345678"),
            (Phone, "0033612345678", "+33612345678"),
            (Phone, "+1 (415) 555-0100", "+14155550100"),
            (LoyaltyCard, "els 0042-1337", "ELS00421337"),
            (External, "crm:C-1001", "crm:C-1001"),
            (WebAnonymous, "a1b2c3", "a1b2c3"),
        ];
        for (kind, raw, want) in same {
            match parse(kind, raw) {
                Ok(v) => assert_eq!(v, want, "{raw}"),
                Err(_) => assert_eq!(want, "", "{raw} should parse"),
            }
        }
    }

    #[test]
    fn bad_identifiers_are_refused_with_the_field() {
        use IdentityKind::*;
        for (kind, raw) in [
            (Email, "no-at-sign"),
            (Email, "a@b"),
            (Email, "a b@c.fr"),
            (Email, "@example.fr"),
            (Phone, "612345678"),
            (Phone, "+33 6 12 34 56 7a"),
            (Phone, "+0612345678"),
            (Phone, "+331"),
            (LoyaltyCard, "é123"),
            (LoyaltyCard, "12"),
            (AppDevice, ""),
            (AppDevice, "has space"),
            (External, "no-colon"),
            (External, "CRM:1"),
        ] {
            let e = parse(kind, raw).unwrap_err();
            assert_eq!(e.details["field"], "id", "{raw}");
        }
    }

    #[test]
    fn without_a_default_country_national_numbers_are_refused() {
        let rules = PhoneRules {
            default_country_code: None,
        };
        assert!(Identifier::parse("p", IdentityKind::Phone, "0612345678", &rules).is_err());
        assert!(Identifier::parse("p", IdentityKind::Phone, "+33612345678", &rules).is_ok());
    }

    #[test]
    fn kinds_round_trip() {
        for k in IdentityKind::ALL {
            assert_eq!(IdentityKind::parse(k.as_str()), Some(k));
        }
    }
}
