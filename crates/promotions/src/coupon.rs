//! Coupon codes: one typed code, or a batch of unique generated ones, each unlocking a
//! promotion whose conditions say `coupon_required`. A code may be a bearer code (anyone
//! who has it) or issued to one customer (a code won online, redeemable at the till by the
//! same person), with a limit of uses in all and per customer.

use kernel::{Error, Timestamp};
use serde::Serialize;

/// Characters of generated codes: no look-alikes (0/O, 1/I/L).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Random characters of a generated code, after its prefix.
pub const GENERATED_LEN: usize = 8;
/// Codes one batch may make.
pub const MAX_BATCH: i64 = 10_000;

/// A code as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Coupon {
    pub code: String,
    pub promotion_id: String,
    /// The batch it was generated in, if any.
    pub batch: Option<String>,
    /// The only customer who may use it, when issued to one.
    pub customer_id: Option<String>,
    pub max_uses: i64,
    pub max_uses_per_customer: Option<i64>,
    /// Orders holding a use (reserved or redeemed).
    pub uses: i64,
    pub created_at: Timestamp,
}

/// Reads a code as typed: trimmed, upper case; letters, digits and `-`, 3 to 40 of them.
pub fn normalise(field: &str, typed: &str) -> Result<String, Error> {
    let code: String = typed.trim().chars().flat_map(char::to_uppercase).collect();
    let valid = (3..=40).contains(&code.chars().count())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(Error::validation(
            field,
            "a coupon code is 3 to 40 letters, digits or `-`",
        ));
    }
    Ok(code)
}

/// A generated code: `prefix-` and [`GENERATED_LEN`] characters from `random` bytes.
pub fn generated(prefix: &str, random: &[u8]) -> String {
    let tail: String = random
        .iter()
        .take(GENERATED_LEN)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}-{tail}")
}

/// Checks the limits of new codes: `count` codes (a batch) or one typed code.
pub fn check_limits(
    count: i64,
    max_uses: i64,
    max_uses_per_customer: Option<i64>,
) -> Result<(), Error> {
    if !(1..=MAX_BATCH).contains(&count) {
        return Err(Error::validation(
            "count",
            format!("a batch is 1 to {MAX_BATCH} codes"),
        ));
    }
    if !(1..=1_000_000).contains(&max_uses) {
        return Err(Error::validation("max_uses", "1 to 1000000 uses"));
    }
    if max_uses_per_customer.is_some_and(|m| !(1..=max_uses).contains(&m)) {
        return Err(Error::validation(
            "max_uses_per_customer",
            "1 to the code's max_uses",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_as_typed_and_generated_without_look_alikes() {
        assert_eq!(normalise("code", " win-2026 ").unwrap(), "WIN-2026");
        assert!(normalise("code", "no").is_err());
        assert!(normalise("code", "PAS D'ESPACE").is_err());
        let code = generated("WIN", &[0, 1, 2, 3, 4, 5, 6, 255]);
        assert_eq!(code.len(), 12);
        assert!(!code[4..].contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(normalise("code", &code).unwrap(), code);
    }

    #[test]
    fn limits_are_checked() {
        assert!(check_limits(500, 1, None).is_ok());
        assert!(check_limits(0, 1, None).is_err());
        assert!(check_limits(1, 1, Some(2)).is_err());
    }
}
