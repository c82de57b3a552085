//! Storage: SQLite (embedded, WAL) or PostgreSQL, with one write path.
//!
//! This is the only crate that holds SQL. [`Db`] hands out reader connections and owns the
//! [`writer`], which executes every state change as a command inside a group-commit
//! transaction: each command runs in its own savepoint and writes its change and its outbox
//! event together; one durable commit acknowledges the whole batch. The same migrations (one
//! folder per backend, same version numbers) and the same statements run on both databases
//! through the small portable layer in [`sql`]; only portable column types are used (TEXT,
//! BIGINT, DOUBLE PRECISION).

pub mod addresses;
pub mod api_keys;
pub mod carts;
pub mod catalog;
pub mod channels;
pub mod consents;
pub mod coupons;
pub mod customer_events;
pub mod customers;
mod db;
pub mod events;
pub mod feed;
pub mod gdpr;
pub mod idempotency;
pub mod interactions;
pub mod kpis;
pub mod locations;
pub mod loyalty;
mod migrations;
pub mod notifications;
pub mod orders;
pub mod prices;
pub mod profiles;
pub mod promotions;
pub mod recent;
pub mod returns;
mod rows;
pub mod segments;
pub mod shipping;
pub mod sourcing;
pub mod sql;
pub mod staff;
pub mod stock;
pub mod stock_alerts;
pub mod stored_value;
pub mod tax;
pub mod tills;
pub mod webhooks;
pub mod writer;

pub use db::{Db, DbOptions, Lease};
pub use idempotency::{IdempotencyKey, StoredResponse};
pub use sql::{Backend, Conn, Row, Value};
pub use writer::BoxFut;
