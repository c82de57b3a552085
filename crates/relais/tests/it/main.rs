//! Whole-binary tests: the dependency rules of the workspace, and durability across kill -9.

mod architecture;
mod demo;
mod durability;
mod import_export;
mod nats;
mod notifications;
mod startup;
mod webhooks;
