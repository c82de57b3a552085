//! Returns anywhere: how much of a line may come back, what it is worth, and how an exchange
//! settles.
//!
//! A line may be returned in parts, in any store with the `returns` capability or by mail,
//! until the return window closes (counted from the day the customer got the goods — the
//! order's date when nothing later is known). What comes back is at most what was bought
//! minus what already came back; the storage layer enforces the same bound with a
//! conditional write, so two returns of one line at once never exceed it. The refund is the
//! price paid for the units; an exchange sets that value against a new sale and settles
//! the difference either way.

use kernel::{Currency, Error, ErrorCode, Timestamp};
use serde::Serialize;

/// The default return window.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;

/// What happens to a returned unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Back on the shelf of the receiving location.
    Resellable,
    /// Written off: recorded, never sold again.
    Damaged,
}

/// Units of one order line that came back, and what they were worth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ReturnedLine {
    pub line_no: i64,
    pub sku: String,
    pub quantity: i64,
    pub condition: Condition,
    pub amount_minor: i64,
    /// Why a discounted line comes back at less than its list price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A return as recorded: what came back where, and how it was settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Return {
    pub id: String,
    pub order_id: String,
    pub location: String,
    pub by_mail: bool,
    pub method: RefundMethod,
    /// What the returned goods are worth (the prices paid).
    pub value_minor: i64,
    /// The VAT in `value_minor` (each line's share of its tax), reversed by the return.
    pub tax_minor: i64,
    /// Of the delivery's price, what the return gives back (all of it once every unit
    /// bought came back, or when staff decide so; at most once per order).
    pub shipping_minor: i64,
    /// Given back to the original payments.
    pub refund_minor: i64,
    /// Paid by the customer on top (an exchange for dearer goods).
    pub paid_minor: i64,
    pub currency: Currency,
    pub exchange_order: Option<String>,
    pub store_credit_id: Option<String>,
    pub lines: Vec<ReturnedLine>,
    pub actor: String,
    pub created_at: Timestamp,
}

/// How the customer is paid back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundMethod {
    /// To the payment the order was paid with.
    OriginalPayment,
    /// As store credit on the customer's profile.
    StoreCredit,
    /// Set against a new sale made in the same transaction.
    Exchange,
}

impl Condition {
    pub fn parse(text: &str) -> Option<Condition> {
        [Condition::Resellable, Condition::Damaged]
            .into_iter()
            .find(|c| c.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Resellable => "resellable",
            Condition::Damaged => "damaged",
        }
    }
}

impl RefundMethod {
    pub fn parse(text: &str) -> Option<RefundMethod> {
        [
            RefundMethod::OriginalPayment,
            RefundMethod::StoreCredit,
            RefundMethod::Exchange,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RefundMethod::OriginalPayment => "original_payment",
            RefundMethod::StoreCredit => "store_credit",
            RefundMethod::Exchange => "exchange",
        }
    }
}

/// A bought line as the return rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnableLine {
    pub line_no: i64,
    /// Units the customer has (bought and handed over).
    pub bought: i64,
    pub returned: i64,
    /// The units ordered and what they cost together, after discounts: each unit comes
    /// back at its share of it.
    pub quantity: i64,
    pub paid_minor: i64,
}

impl ReturnableLine {
    pub fn returnable(&self) -> i64 {
        (self.bought - self.returned).max(0)
    }
}

/// Whether a return is still possible for goods received at `since`.
pub fn check_window(since: Timestamp, now: Timestamp, window_days: i64) -> Result<(), Error> {
    let closes = since.unix_ms() + window_days * 86_400_000;
    if now.unix_ms() > closes {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("the {window_days}-day return window closed"),
        )
        .with(
            "window_closed_at",
            Timestamp::from_unix_ms(closes).to_text(),
        ));
    }
    Ok(())
}

/// The refund for `quantity` units of `line`, or why they cannot come back.
pub fn value_of_return(line: &ReturnableLine, quantity: i64) -> Result<i64, Error> {
    // No order line holds more than a cart line may: beyond that it is bad input, not a
    // conflict with what was bought.
    if !(1..=crate::cart::MAX_QUANTITY).contains(&quantity) {
        return Err(Error::validation(
            "quantity",
            format!("return 1 to {} units of a line", crate::cart::MAX_QUANTITY),
        )
        .with("value", quantity));
    }
    if quantity > line.returnable() {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "line {} can take back {} more unit(s), not {quantity}",
                line.line_no,
                line.returnable()
            ),
        )
        .with("line", line.line_no)
        .with("returnable", line.returnable()));
    }
    Ok(promotions::refund_share(
        line.paid_minor,
        line.quantity,
        line.returned,
        quantity,
    ))
}

/// How an exchange settles: the customer pays the difference, or gets it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Settlement {
    /// The new sale's total less the returned value, when positive.
    pub customer_pays_minor: i64,
    /// The returned value less the new sale's total, when positive.
    pub refund_minor: i64,
}

/// Sets the value of returned goods against a new sale.
pub fn settle_exchange(returned_minor: i64, new_sale_minor: i64) -> Settlement {
    Settlement {
        customer_pays_minor: (new_sale_minor - returned_minor).max(0),
        refund_minor: (returned_minor - new_sale_minor).max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(bought: i64, returned: i64) -> ReturnableLine {
        ReturnableLine {
            line_no: 1,
            bought,
            returned,
            quantity: bought,
            paid_minor: 2_500 * bought,
        }
    }

    #[test]
    fn a_discounted_line_comes_back_at_what_was_paid() {
        // "3 for 20.00": 3 units of 9.00 paid 20.00 together.
        let line = ReturnableLine {
            line_no: 1,
            bought: 3,
            returned: 0,
            quantity: 3,
            paid_minor: 2_000,
        };
        let first = value_of_return(&line, 1).unwrap();
        let rest = value_of_return(
            &ReturnableLine {
                returned: 1,
                ..line.clone()
            },
            2,
        )
        .unwrap();
        assert_eq!((first, rest), (666, 1_334));
        assert_eq!(first + rest, 2_000, "never more than was paid");
    }

    #[test]
    fn a_line_comes_back_at_most_once_per_unit() {
        assert_eq!(value_of_return(&line(3, 1), 2).unwrap(), 5_000);
        let e = value_of_return(&line(3, 1), 3).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(e.details["returnable"], 2);
        assert!(value_of_return(&line(3, 0), 0).is_err());
    }

    #[test]
    fn the_window_closes_after_its_days() {
        let bought = Timestamp::from_unix_ms(1_000_000_000_000);
        let day = 86_400_000;
        assert!(
            check_window(
                bought,
                Timestamp::from_unix_ms(1_000_000_000_000 + 30 * day),
                30
            )
            .is_ok()
        );
        let e = check_window(
            bought,
            Timestamp::from_unix_ms(1_000_000_000_000 + 30 * day + 1),
            30,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
    }

    #[test]
    fn an_exchange_settles_the_difference_either_way() {
        assert_eq!(
            settle_exchange(5_000, 7_000),
            Settlement {
                customer_pays_minor: 2_000,
                refund_minor: 0
            }
        );
        assert_eq!(
            settle_exchange(5_000, 3_000),
            Settlement {
                customer_pays_minor: 0,
                refund_minor: 2_000
            }
        );
    }

    proptest! {
        #[test]
        fn returns_in_any_order_never_exceed_what_was_bought(bought in 1i64..20, asks in proptest::collection::vec(1i64..8, 0..20)) {
            let mut l = line(bought, 0);
            for q in asks {
                if value_of_return(&l, q).is_ok() {
                    l.returned += q;
                }
                prop_assert!(l.returned <= l.bought);
            }
        }
    }
}
