//! Relais use cases, between storage and the API: one module per use case, and every access
//! rule ([`access`]).
//!
//! A use case takes the acting [`access::Principal`] and a parsed command, decides with the
//! domain crates, writes through `store` (one command, one transaction), and returns domain
//! values. The HTTP handlers, the demo, the sweepers and the CLI call these functions; none
//! of them decides who may do what on its own.

pub mod access;
pub mod addresses;
pub mod availability;
pub mod carts;
pub mod catalog;
pub mod channels;
pub mod checkout;
pub mod clienteling;
pub mod clock;
mod command;
pub mod coupons;
pub mod customers;
pub mod events;
pub mod feeds;
pub mod holds;
pub mod keys;
pub mod kpis;
pub mod locations;
pub mod loyalty;
pub mod notifications;
pub mod notifier;
pub mod orders;
pub mod prices;
pub mod pricing;
pub mod promotions;
pub mod reference;
pub mod reports;
pub mod retention;
pub mod returns;
pub mod secrets;
pub mod segments;
pub mod shipping;
pub mod staff;
pub mod stock;
pub mod stored_value;
pub mod taxes;
pub mod throttle;
pub mod tills;
pub mod webhooks;
pub mod work_queue;

pub use access::{Principal, Scope};
