//! GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN) and GTIN-14, verified by their GS1 check digit.
//!
//! All forms are stored as 14 digits (left-padded with zeros), so the same trade item has
//! one key whichever form a supplier or scanner sent.

use serde::{Deserialize, Serialize};

/// A verified GTIN in its 14-digit form.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct Gtin(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtinError {
    #[error("a GTIN contains digits only")]
    NotDigits,
    #[error("a GTIN has 8, 12, 13 or 14 digits, not {0}")]
    BadLength(usize),
    #[error("the check digit should be {expected}, not {found}")]
    BadCheckDigit { expected: u8, found: u8 },
}

impl Gtin {
    /// Parses any GTIN form, verifies its check digit and pads it to 14 digits.
    pub fn parse(text: &str) -> Result<Gtin, GtinError> {
        if !text.bytes().all(|b| b.is_ascii_digit()) || text.is_empty() {
            return Err(GtinError::NotDigits);
        }
        if ![8, 12, 13, 14].contains(&text.len()) {
            return Err(GtinError::BadLength(text.len()));
        }
        let digits: Vec<u8> = text.bytes().map(|b| b - b'0').collect();
        let (body, check) = digits.split_at(digits.len() - 1);
        let expected = check_digit(body);
        if expected != check[0] {
            return Err(GtinError::BadCheckDigit {
                expected,
                found: check[0],
            });
        }
        Ok(Gtin(format!("{text:0>14}")))
    }

    /// Builds a valid GTIN-13 from its first 12 digits (used by the demo and tests).
    pub fn gtin13_from_body(body12: u64) -> Gtin {
        let body = format!("{:012}", body12 % 1_000_000_000_000);
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        Gtin(format!("0{body}{}", check_digit(&digits)))
    }

    /// The 14-digit form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// GS1 check digit: weights 3 and 1 alternate from the rightmost body digit.
pub fn check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| *d as u32 * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl TryFrom<String> for Gtin {
    type Error = GtinError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Gtin::parse(&value)
    }
}

impl From<Gtin> for String {
    fn from(g: Gtin) -> String {
        g.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_every_form_and_pads_to_14() {
        // Real-world shaped examples with correct check digits.
        assert_eq!(
            Gtin::parse("4006381333931").unwrap().as_str(),
            "04006381333931"
        ); // EAN-13
        assert_eq!(
            Gtin::parse("036000291452").unwrap().as_str(),
            "00036000291452"
        ); // UPC-A
        assert_eq!(Gtin::parse("96385074").unwrap().as_str(), "00000096385074"); // EAN-8
        assert_eq!(
            Gtin::parse("10614141000415").unwrap().as_str(),
            "10614141000415"
        ); // GTIN-14
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            Gtin::parse("4006381333932"),
            Err(GtinError::BadCheckDigit {
                expected: 1,
                found: 2
            })
        );
        assert_eq!(
            Gtin::parse("400638133393"),
            Err(GtinError::BadCheckDigit {
                expected: 0,
                found: 3
            })
        );
        assert_eq!(Gtin::parse("12345"), Err(GtinError::BadLength(5)));
        assert_eq!(Gtin::parse("40063813339a1"), Err(GtinError::NotDigits));
        assert_eq!(Gtin::parse(""), Err(GtinError::NotDigits));
    }

    proptest! {
        #[test]
        fn generated_gtins_are_valid(body in 0u64..1_000_000_000_000) {
            let g = Gtin::gtin13_from_body(body);
            prop_assert_eq!(Gtin::parse(&g.as_str()[1..]).unwrap(), g.clone());
            prop_assert_eq!(Gtin::parse(g.as_str()).unwrap(), g);
        }

        #[test]
        fn any_single_digit_change_is_caught(body in 0u64..1_000_000_000_000, pos in 0usize..13, delta in 1u8..10) {
            let g = Gtin::gtin13_from_body(body);
            let mut digits: Vec<u8> = g.as_str()[1..].bytes().collect();
            digits[pos] = b'0' + (digits[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(digits).unwrap();
            prop_assert!(Gtin::parse(&changed).is_err());
        }
    }
}
