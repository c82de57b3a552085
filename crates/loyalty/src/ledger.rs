//! The points ledger's rules. Entries are appended, never changed; a member's balance is the
//! sum of their entries and never below zero — storage moves it with a conditional write
//! (`… WHERE balance + delta >= 0`) that [`apply`] states.
//!
//! Spent points leave the balance when an order is placed and come back (`release`) when it
//! is cancelled; a refund claws back earned points in proportion to what was refunded
//! ([`clawback_due`], computed on the running total so partial returns never drift). Points
//! expire oldest first: whatever was spent, clawed back or expired already counts against
//! the points due to expire first ([`expiring`]).

use kernel::{Error, ErrorCode, Timestamp};

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// Points for a sale (or a bonus).
    Earn,
    /// Points paid toward an order.
    Spend,
    /// Spent points given back (the order was cancelled or refunded).
    Release,
    /// Earned points taken back in proportion to a refund.
    Clawback,
    /// Points past their expiry.
    Expire,
    /// A correction by service or an administrator, with a reason.
    Adjust,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] = [
        EntryKind::Earn,
        EntryKind::Spend,
        EntryKind::Release,
        EntryKind::Clawback,
        EntryKind::Expire,
        EntryKind::Adjust,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Spend => "spend",
            EntryKind::Release => "release",
            EntryKind::Clawback => "clawback",
            EntryKind::Expire => "expire",
            EntryKind::Adjust => "adjust",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether entries of this kind add points (adjustments go either way).
    pub fn credits(self) -> Option<bool> {
        match self {
            EntryKind::Earn | EntryKind::Release => Some(true),
            EntryKind::Spend | EntryKind::Clawback | EntryKind::Expire => Some(false),
            EntryKind::Adjust => None,
        }
    }

    /// Refuses a delta of the wrong sign for the kind (zero is never written).
    pub fn check(self, delta: i64) -> Result<(), Error> {
        let ok = match self.credits() {
            _ if delta == 0 => false,
            Some(true) => delta > 0,
            Some(false) => delta < 0,
            None => true,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::validation(
                "points",
                format!("a {} entry cannot move {delta} points", self.as_str()),
            ))
        }
    }
}

/// The balance after `delta`, or the refusal that keeps it from going below zero.
pub fn apply(balance: i64, delta: i64) -> Result<i64, Error> {
    match balance.checked_add(delta) {
        Some(after) if after >= 0 => Ok(after),
        _ => Err(short(balance, -delta)),
    }
}

/// The refusal of spending `wanted` points out of `balance`.
pub fn short(balance: i64, wanted: i64) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!("the member holds {balance} points, not {wanted}"),
    )
    .with("balance", balance)
    .with("wanted", wanted)
}

/// Points to claw back now: `earned` for a sale that paid `paid_minor`, of which
/// `refunded_minor` has been refunded in all, when `clawed` were taken back already.
pub fn clawback_due(earned: i64, paid_minor: i64, refunded_minor: i64, clawed: i64) -> i64 {
    if earned <= 0 || paid_minor <= 0 {
        return 0;
    }
    let refunded = i128::from(refunded_minor.clamp(0, paid_minor));
    let target = i128::from(earned) * refunded / i128::from(paid_minor);
    (i64::try_from(target).unwrap_or(earned) - clawed).max(0)
}

/// Points that expire at `now`: `lots` are the credits with their expiry (earned points,
/// positive adjustments), `debited` everything taken since (spent − released, clawed back,
/// expired, negative adjustments). Oldest first: debits use up the lots due soonest.
pub fn expiring(lots: &[(Option<Timestamp>, i64)], debited: i64, now: Timestamp) -> i64 {
    let due: i64 = lots
        .iter()
        .filter(|(expires, _)| expires.is_some_and(|e| e <= now))
        .map(|(_, points)| points)
        .sum();
    (due - debited.max(0)).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_ms(ms)
    }

    #[test]
    fn the_balance_never_goes_below_zero() {
        assert_eq!(apply(10, -10).unwrap(), 0);
        let e = apply(10, -11).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(apply(0, 5).is_ok());
    }

    #[test]
    fn clawback_in_proportion_without_drift() {
        // 101 points for 3 equal lines of 10 €: each return takes a third, rounding on the total.
        let (earned, paid) = (101, 3000);
        let first = clawback_due(earned, paid, 1000, 0);
        let second = clawback_due(earned, paid, 2000, first);
        let third = clawback_due(earned, paid, 3000, first + second);
        assert_eq!((first, second, third), (33, 34, 34));
        assert_eq!(first + second + third, earned);
        assert_eq!(clawback_due(earned, paid, 3500, earned), 0, "never beyond");
    }

    #[test]
    fn the_oldest_points_expire_first() {
        let lots = [(Some(at(100)), 50), (Some(at(200)), 30), (None, 10)];
        assert_eq!(expiring(&lots, 0, at(99)), 0);
        assert_eq!(expiring(&lots, 0, at(100)), 50);
        assert_eq!(
            expiring(&lots, 20, at(100)),
            30,
            "20 spent came out of the first lot"
        );
        assert_eq!(expiring(&lots, 60, at(150)), 0);
        assert_eq!(expiring(&lots, 60, at(200)), 20);
    }

    #[test]
    fn kinds_have_their_signs() {
        assert!(EntryKind::Earn.check(5).is_ok());
        assert!(EntryKind::Earn.check(-5).is_err());
        assert!(EntryKind::Spend.check(5).is_err());
        assert!(EntryKind::Adjust.check(-5).is_ok());
        assert!(EntryKind::Adjust.check(0).is_err());
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.as_str()), Some(k));
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Earn(i64),
        Spend(i64),
        Expire(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1i64..500).prop_map(Op::Earn),
            (1i64..800).prop_map(Op::Spend),
            (0i64..2000).prop_map(Op::Expire),
        ]
    }

    proptest! {
        /// Whatever is tried, the balance is the sum of the entries written and never
        /// negative, and expiry never takes more than the member holds.
        #[test]
        fn balance_is_the_sum_of_entries_and_never_negative(ops in proptest::collection::vec(op(), 1..80)) {
            let mut balance = 0i64;
            let mut entries: Vec<i64> = Vec::new();
            let mut lots: Vec<(Option<Timestamp>, i64)> = Vec::new();
            let mut debited = 0i64;
            for (i, op) in ops.into_iter().enumerate() {
                let delta = match op {
                    Op::Earn(p) => {
                        lots.push((Some(at(i as i64 * 100 + 1000)), p));
                        p
                    }
                    Op::Spend(p) => -p,
                    Op::Expire(now) => -expiring(&lots, debited, at(now)),
                };
                if delta == 0 {
                    continue;
                }
                if let Ok(after) = apply(balance, delta) {
                    balance = after;
                    entries.push(delta);
                    if delta < 0 {
                        debited -= delta;
                    }
                } else {
                    prop_assert!(delta < 0 && balance + delta < 0);
                }
                prop_assert!(balance >= 0);
                prop_assert_eq!(balance, entries.iter().sum::<i64>());
            }
        }

        #[test]
        fn clawbacks_add_up_to_what_was_earned(earned in 0i64..10_000, paid in 1i64..100_000, parts in proptest::collection::vec(1i64..1000, 1..10)) {
            let mut refunded = 0;
            let mut clawed = 0;
            for part in parts {
                refunded = (refunded + part).min(paid);
                clawed += clawback_due(earned, paid, refunded, clawed);
                prop_assert!(clawed <= earned);
            }
            clawed += clawback_due(earned, paid, paid, clawed);
            prop_assert_eq!(clawed, earned);
        }
    }
}
