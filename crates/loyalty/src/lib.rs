//! Loyalty: what a retailer's programme promises and the rules of its points ledger, decided
//! without I/O. [`programme`] says how many points a sale earns (per currency unit, by
//! channel, category, promotion, bonus period and tier), what a point is worth when spent,
//! when points expire and which tier a member is in. [`ledger`] keeps a member's balance the
//! sum of their entries and never below zero, claws back in proportion to what is refunded
//! and expires the oldest points first.

pub mod ledger;
pub mod programme;

pub use ledger::{EntryKind, apply, clawback_due, expiring};
pub use programme::{BonusPeriod, EarnLine, Earned, Programme, Reward, Tier};
