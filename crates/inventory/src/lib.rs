//! Inventory: the stock ledger, two-phase holds and available-to-promise (ATP).
//!
//! Stock per (variant, location) is an append-only ledger of movements — receipt, sale,
//! return, transfer out and in, adjustment, count — each with a reason, a reference, an actor
//! and an idempotency key; on hand is the sum of the movements. A **hold** claims stock for a
//! purpose (cart, pickup, reserve, ship) like a pending two-phase transfer: it ends exactly
//! once — committed (it becomes a sale; a partial commit releases the rest), released, or
//! expired. ATP = on hand − held − safety stock, never below 0.
//!
//! A channel promises only from the locations its sourcing policy allows, minus its own
//! safety stock (see [`sourcing`]).
//!
//! Invariants kept by every rule here and by the conditional writes in storage:
//! held ≤ on hand; ATP ≥ 0; a hold ends once; a movement never edits another.

pub mod hold;
pub mod ledger;
pub mod sourcing;
pub mod transfer;

pub use hold::{Hold, HoldEnd, HoldOwner, HoldPurpose, HoldStatus, HoldTtls};
pub use ledger::{Level, LevelSnapshot, Movement, MovementKind, atp};
pub use sourcing::{Fulfilment, SourcingPolicy};
pub use transfer::Transfer;
