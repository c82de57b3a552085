//! Storage: SQLite (embedded, WAL) or PostgreSQL through `sqlx::Any`, with one write path.
//!
//! This is the only crate that holds SQL. [`Db`] owns a pool of reader connections and a
//! [`writer`] task that executes every state change as a command inside a group-commit
//! transaction: each command runs in its own savepoint and writes its change and its outbox
//! event together; one durable commit acknowledges the whole batch. The same migrations (one
//! folder per backend, same version numbers) and the same queries run on both databases; only
//! portable column types are used (TEXT, BIGINT, DOUBLE PRECISION).

pub mod api_keys;
pub mod catalog;
pub mod channels;
mod db;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod locations;
pub mod prices;
mod rows;
pub mod writer;

pub use db::{Backend, Db, DbOptions};
pub use idempotency::{IdempotencyKey, StoredResponse};
pub use sqlx::AnyConnection as Conn;
pub use writer::BoxFut;
