//! Stock movements and the level they add up to.

use kernel::{Error, ErrorCode, Timestamp};
use serde::{Deserialize, Serialize};

/// Why stock moved. The sign of the quantity follows from the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Goods arrived (+).
    Receipt,
    /// Goods sold (−); a committed hold records one.
    Sale,
    /// A customer brought goods back (+).
    Return,
    /// Goods left for another location (−).
    TransferOut,
    /// Goods arrived from another location (+).
    TransferIn,
    /// A correction by an operator (±, never 0).
    Adjustment,
    /// A physical count: records the difference it found (±, may be 0).
    Count,
}

impl MovementKind {
    pub const ALL: [MovementKind; 7] = [
        MovementKind::Receipt,
        MovementKind::Sale,
        MovementKind::Return,
        MovementKind::TransferOut,
        MovementKind::TransferIn,
        MovementKind::Adjustment,
        MovementKind::Count,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Receipt => "receipt",
            MovementKind::Sale => "sale",
            MovementKind::Return => "return",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
            MovementKind::Adjustment => "adjustment",
            MovementKind::Count => "count",
        }
    }

    pub fn parse(text: &str) -> Option<MovementKind> {
        MovementKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Stock of one variant at one location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Level {
    pub on_hand: i64,
    pub held: i64,
    pub safety: i64,
}

/// Available to promise: on hand − held − safety stock, never below 0.
pub fn atp(level: &Level) -> i64 {
    (level.on_hand - level.held - level.safety).max(0)
}

impl Level {
    pub fn atp(&self) -> i64 {
        atp(self)
    }
}

/// How shopping feeds name a quantity available to promise: `in stock`, `limited
/// availability` (at most `limited_at` units left), or `out of stock`.
pub fn availability_label(atp: i64, limited_at: i64) -> &'static str {
    match atp {
        i64::MIN..=0 => "out of stock",
        n if n <= limited_at => "limited availability",
        _ => "in stock",
    }
}

/// A recorded movement: one signed change to the on-hand of a SKU at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Movement {
    pub seq: i64,
    pub id: String,
    pub sku: String,
    pub location: String,
    pub kind: MovementKind,
    pub delta: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub actor: String,
    pub at: Timestamp,
}

/// A level after a change, as events carry it (`data.availability`) to the live feeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LevelSnapshot {
    pub sku: String,
    pub location: String,
    pub on_hand: i64,
    pub held: i64,
    pub safety: i64,
    pub atp: i64,
}

impl LevelSnapshot {
    pub fn new(sku: &str, location: &str, level: Level) -> LevelSnapshot {
        LevelSnapshot {
            sku: sku.to_owned(),
            location: location.to_owned(),
            on_hand: level.on_hand,
            held: level.held,
            safety: level.safety,
            atp: level.atp(),
        }
    }

    pub fn level(&self) -> Level {
        Level {
            on_hand: self.on_hand,
            held: self.held,
            safety: self.safety,
        }
    }
}

/// The signed change a movement of `kind` with caller quantity `quantity` makes to on hand.
///
/// Receipts, sales, returns and transfers take a positive quantity (the kind gives the sign);
/// an adjustment takes a signed non-zero delta; a count takes the quantity counted, and its
/// delta is the difference with what the ledger says is on hand.
pub fn delta(kind: MovementKind, quantity: i64, on_hand: i64) -> Result<i64, Error> {
    const MAX: i64 = 1_000_000_000;
    let positive = |q: i64| {
        if (1..=MAX).contains(&q) {
            Ok(q)
        } else {
            Err(Error::validation(
                "quantity",
                format!("a {} moves 1 to {MAX} units", kind.as_str()),
            )
            .with("value", q))
        }
    };
    match kind {
        MovementKind::Receipt | MovementKind::Return | MovementKind::TransferIn => {
            positive(quantity)
        }
        MovementKind::Sale | MovementKind::TransferOut => positive(quantity).map(|q| -q),
        // Not `abs()`: it overflows on i64::MIN.
        MovementKind::Adjustment if quantity != 0 && (-MAX..=MAX).contains(&quantity) => {
            Ok(quantity)
        }
        MovementKind::Adjustment => Err(Error::validation(
            "quantity",
            "an adjustment is a non-zero signed quantity",
        )),
        MovementKind::Count if (0..=MAX).contains(&quantity) => Ok(quantity - on_hand),
        MovementKind::Count => Err(Error::validation(
            "quantity",
            "a count is the number of units found, 0 or more",
        )),
    }
}

/// Applies `delta` to `level`, refusing to leave less on hand than is held.
pub fn apply(level: Level, delta: i64) -> Result<Level, Error> {
    let on_hand = level.on_hand + delta;
    if on_hand < level.held {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "this would leave {on_hand} on hand for {} held; release holds first",
                level.held
            ),
        )
        .with("on_hand", level.on_hand)
        .with("held", level.held)
        .with("delta", delta));
    }
    Ok(Level { on_hand, ..level })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_labels_follow_atp() {
        assert_eq!(availability_label(0, 3), "out of stock");
        assert_eq!(availability_label(1, 3), "limited availability");
        assert_eq!(availability_label(3, 3), "limited availability");
        assert_eq!(availability_label(4, 3), "in stock");
        assert_eq!(availability_label(1, 0), "in stock");
    }

    #[test]
    fn signs_follow_the_kind() {
        assert_eq!(delta(MovementKind::Receipt, 5, 0).unwrap(), 5);
        assert_eq!(delta(MovementKind::Sale, 5, 10).unwrap(), -5);
        assert_eq!(delta(MovementKind::TransferOut, 2, 10).unwrap(), -2);
        assert_eq!(delta(MovementKind::Adjustment, -3, 10).unwrap(), -3);
        assert_eq!(delta(MovementKind::Count, 7, 10).unwrap(), -3);
        assert_eq!(delta(MovementKind::Count, 10, 10).unwrap(), 0);
        assert!(delta(MovementKind::Receipt, 0, 0).is_err());
        assert!(delta(MovementKind::Sale, -1, 0).is_err());
        assert!(delta(MovementKind::Adjustment, 0, 0).is_err());
        assert!(delta(MovementKind::Count, -1, 0).is_err());
        for extreme in [i64::MIN, i64::MIN + 1, i64::MAX] {
            for kind in [
                MovementKind::Receipt,
                MovementKind::Sale,
                MovementKind::Adjustment,
                MovementKind::Count,
            ] {
                assert_eq!(
                    delta(kind, extreme, 0).unwrap_err().code,
                    kernel::ErrorCode::ValidationFailed,
                    "{kind:?} {extreme}"
                );
            }
        }
    }

    #[test]
    fn atp_never_negative_and_held_never_above_on_hand() {
        let l = Level {
            on_hand: 10,
            held: 4,
            safety: 2,
        };
        assert_eq!(l.atp(), 4);
        assert_eq!(
            Level {
                on_hand: 3,
                held: 2,
                safety: 5
            }
            .atp(),
            0
        );
        assert!(apply(l, -7).is_err());
        assert_eq!(apply(l, -6).unwrap().on_hand, 4);
    }
}
