//! Notifications: what the retailer tells a customer, when, on which medium, in which words.
//!
//! Pure decisions, tested here; `app` loads the facts and records each firing, the `relais`
//! binary sends. A rule ([`rules`]) fires for an occurrence — an order ready, a cart left, a
//! product viewed — and its firing is one row keyed by [`rules::dedup_key`], so an event seen
//! twice or by two nodes fires once. When it is due, [`reach::choose`] picks the medium the
//! customer may be reached on (service messages follow their preference; marketing needs the
//! consent of that medium), [`reach::QuietHours`] moves marketing out of the night in the
//! customer's time zone, and [`templates::render`] writes it in their language, with an
//! [`ics`] calendar entry for a pickup window or a reservation deadline.

pub mod ics;
pub mod offer;
pub mod reach;
pub mod rules;
pub mod templates;

pub use reach::{Language, Medium};
pub use rules::{RuleConfig, RuleKind};
