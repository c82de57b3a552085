//! The Relais binary as a library: command line, server wiring, demo retailer.
//!
//! `relais serve` runs the API on SQLite or PostgreSQL; `relais demo` creates a fresh
//! database with a realistic fictional retailer and serves it; `relais migrate` applies
//! migrations; `relais key create` mints an API key (the first admin key of a new install).
//! Kept as a library so that `relais-bench` can start a real server as a child process.

/// mimalloc instead of the system allocator for every binary that links Relais: the writer
/// thread allocates and frees small buffers for every statement and row.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod cli;
pub mod demo;
mod demo_calls;
pub mod demo_customers;
mod demo_delivery;
mod demo_loyalty;
mod demo_notifications;
pub mod demo_orders;
mod demo_regulars;
pub mod demo_staff;
mod demo_tills;
mod demo_transfers;
pub mod import;
pub mod listen;
pub mod notify;
pub mod pace;
pub mod publish;
pub mod server;
pub mod webhooks;
