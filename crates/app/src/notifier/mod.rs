//! The notification pipeline, run by every node (the `relais` binary calls it and sends):
//!
//! - [`plan`] turns committed outbox events into firings — an order ready for pickup (and its
//!   reminders), a reservation placed (its expiry warning), a return in a store, stock back
//!   where a customer asked for it; [`plan_behaviour`] does the same for behavioural events
//!   (sign-ups, product views: the nearest-store offer) and [`plan_idle_carts`] for carts
//!   left alone. A firing is keyed (rule, subject, occurrence): planned twice, it exists once.
//! - [`claim`] leases due firings to this node; [`prepare`] decides, at send time, whether
//!   each is still relevant, whom to reach on which medium (consent, preference), whether it
//!   waits out quiet hours, and writes the message; [`finish`] records what happened.
//!
//! Nothing here holds the writer longer than one short command per batch.

mod plan;
mod prepare;

pub use plan::{plan, plan_behaviour, plan_idle_carts};
pub use prepare::{Message, Prepared, Settings, claim, finish, prepare};
