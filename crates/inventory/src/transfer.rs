//! Transfers: stock sent from one location to another, in transit until received.

use kernel::Timestamp;
use serde::Serialize;

/// A transfer between two locations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Transfer {
    pub id: String,
    pub sku: String,
    pub from_location: String,
    pub to_location: String,
    pub quantity: i64,
    /// `in_transit`, then `received`.
    pub status: String,
    pub reference: Option<String>,
    pub created_at: Timestamp,
    pub received_at: Option<Timestamp>,
}
