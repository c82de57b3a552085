//! Carts: what a customer is about to buy, seen the same from every channel.
//!
//! A cart holds lines (a SKU and a quantity). An anonymous cart is known by its id, which is
//! its token; a signed-in customer has at most one active cart. When an anonymous cart meets
//! the customer's cart at sign-in, [`merge`] decides the lines: every SKU of either cart is
//! kept, and a SKU in both keeps the **larger** quantity, not the sum — the same person
//! usually added the same item on two devices, and signing in must never double a basket.
//! A kiosk or POS hands a cart to a phone with a short [`handoff code`](handoff_code).

use std::collections::BTreeMap;

use kernel::{Currency, Error, ErrorCode, Timestamp};

/// The most lines a cart may have.
pub const MAX_LINES: usize = 100;
/// The most units of one SKU in a cart.
pub const MAX_QUANTITY: i64 = 999;
/// Characters of a handoff or pickup code: no 0/O, 1/I/L, so it survives being read aloud.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Length of a handoff code.
pub const HANDOFF_CODE_LEN: usize = 6;
/// How long a handoff code may be claimed.
pub const HANDOFF_TTL_S: i64 = 10 * 60;

/// One line: units of a SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub quantity: i64,
}

/// A line quantity must be 1 to [`MAX_QUANTITY`].
pub fn validate_quantity(field: &str, quantity: i64) -> Result<i64, Error> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(Error::validation(
            field,
            format!("a quantity is 1 to {MAX_QUANTITY}"),
        ))
    }
}

/// Validates lines sent together: quantities in range, each SKU once, at most
/// [`MAX_LINES`]. Errors name the line (`lines[2].quantity`).
pub fn validate_lines(lines: &[Line]) -> Result<(), Error> {
    if lines.len() > MAX_LINES {
        return Err(Error::validation(
            "lines",
            format!("a cart has at most {MAX_LINES} lines"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        validate_quantity(&format!("lines[{i}].quantity"), line.quantity)?;
        if !seen.insert(line.sku.as_str()) {
            return Err(Error::validation(
                &format!("lines[{i}].sku"),
                format!("`{}` is on two lines; give it once", line.sku),
            ));
        }
    }
    Ok(())
}

/// The lines of the customer's cart after an anonymous cart joins it: the union by SKU, a
/// SKU in both with the larger quantity. Order: the customer's lines first, then the new
/// SKUs in the anonymous cart's order. Capped at [`MAX_LINES`] (the customer's own first).
pub fn merge(customer: &[Line], anonymous: &[Line]) -> Vec<Line> {
    let mut merged: Vec<Line> = customer.to_vec();
    let index: BTreeMap<String, usize> = merged
        .iter()
        .enumerate()
        .map(|(i, l)| (l.sku.clone(), i))
        .collect();
    for line in anonymous {
        match index.get(&line.sku) {
            Some(&i) => merged[i].quantity = merged[i].quantity.max(line.quantity),
            None => merged.push(line.clone()),
        }
    }
    merged.truncate(MAX_LINES);
    merged
}

/// A short code from random bytes (one character per byte), in an alphabet without
/// look-alike characters.
pub fn code_from(random: &[u8], len: usize) -> String {
    random
        .iter()
        .take(len)
        .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
        .collect()
}

/// A handoff code (kiosk → phone) from random bytes.
pub fn handoff_code(random: &[u8]) -> String {
    code_from(random, HANDOFF_CODE_LEN)
}

/// Reads a code as typed: case and spaces do not matter.
pub fn normalise_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The total of priced lines, refusing amounts that do not fit.
pub fn total(lines: impl IntoIterator<Item = (i64, i64)>) -> Result<i64, Error> {
    lines
        .into_iter()
        .try_fold(0i64, |sum, (unit, qty)| {
            unit.checked_mul(qty).and_then(|l| sum.checked_add(l))
        })
        .ok_or_else(|| Error::validation("lines", "the total is too large"))
}

/// Where a cart is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartStatus {
    /// Being filled.
    Active,
    /// Joined the customer's cart at sign-in (`merged_into`).
    Merged,
    /// Became an order (`order_id`).
    Ordered,
}

impl CartStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CartStatus::Active => "active",
            CartStatus::Merged => "merged",
            CartStatus::Ordered => "ordered",
        }
    }

    pub fn parse(text: &str) -> Option<CartStatus> {
        [CartStatus::Active, CartStatus::Merged, CartStatus::Ordered]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A line and the stock it holds, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub sku: String,
    pub quantity: i64,
    pub hold_id: Option<String>,
    pub hold_location: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    pub id: String,
    pub customer_id: Option<String>,
    pub channel: String,
    pub currency: Currency,
    pub status: CartStatus,
    pub merged_into: Option<String>,
    pub order_id: Option<String>,
    pub handoff_code: Option<String>,
    pub handoff_expires_at: Option<Timestamp>,
    pub lines: Vec<CartLine>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

impl Cart {
    pub fn plain_lines(&self) -> Vec<Line> {
        self.lines
            .iter()
            .map(|l| Line {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect()
    }

    /// A cart changes only while active; the error names what it became.
    pub fn require_active(&self) -> Result<(), Error> {
        if self.status == CartStatus::Active {
            return Ok(());
        }
        let mut e = Error::new(
            ErrorCode::Conflict,
            format!("the cart is {}, not active", self.status.as_str()),
        )
        .with("status", self.status.as_str());
        if let Some(into) = &self.merged_into {
            e = e.with("merged_into", into.clone());
        }
        if let Some(order) = &self.order_id {
            e = e.with("order_id", order.clone());
        }
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(sku: &str, quantity: i64) -> Line {
        Line {
            sku: sku.into(),
            quantity,
        }
    }

    #[test]
    fn merging_keeps_every_sku_and_the_larger_quantity() {
        let customer = [line("A", 1), line("B", 3)];
        let anonymous = [line("B", 2), line("C", 1), line("A", 4)];
        assert_eq!(
            merge(&customer, &anonymous),
            vec![line("A", 4), line("B", 3), line("C", 1)]
        );
        assert_eq!(merge(&[], &anonymous), anonymous.to_vec());
    }

    #[test]
    fn lines_are_validated_by_index() {
        assert!(validate_lines(&[line("A", 1), line("B", MAX_QUANTITY)]).is_ok());
        let e = validate_lines(&[line("A", 1), line("B", 0)]).unwrap_err();
        assert_eq!(e.details["field"], "lines[1].quantity");
        let e = validate_lines(&[line("A", 1), line("A", 2)]).unwrap_err();
        assert_eq!(e.details["field"], "lines[1].sku");
    }

    #[test]
    fn codes_avoid_look_alikes_and_read_back_as_typed() {
        let code = handoff_code(&[0, 1, 30, 31, 200, 255, 9]);
        assert_eq!(code.len(), HANDOFF_CODE_LEN);
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(normalise_code(" 2a3-b4c "), "2A3B4C");
    }

    #[test]
    fn totals_refuse_overflow() {
        assert_eq!(total([(1_999, 2), (500, 1)]).unwrap(), 4_498);
        assert!(total([(i64::MAX, 2)]).is_err());
    }

    proptest! {
        #[test]
        fn a_merge_never_loses_a_sku_nor_sums_quantities(
            a in proptest::collection::btree_map("[A-E]", 1i64..10, 0..5),
            b in proptest::collection::btree_map("[A-E]", 1i64..10, 0..5),
        ) {
            let to_lines = |m: &BTreeMap<String, i64>| m.iter().map(|(s, q)| line(s, *q)).collect::<Vec<_>>();
            let merged = merge(&to_lines(&a), &to_lines(&b));
            for l in &merged {
                let want = a.get(&l.sku).copied().unwrap_or(0).max(b.get(&l.sku).copied().unwrap_or(0));
                prop_assert_eq!(l.quantity, want);
            }
            let skus: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).cloned().collect();
            prop_assert_eq!(merged.len(), skus.len());
        }
    }
}
