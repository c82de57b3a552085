//! A customer profile: who they are to the retailer, whatever channel they come from.

use kernel::{Error, Timestamp};
use serde::{Deserialize, Serialize};

use crate::identity::Identifier;

/// A profile's life: active; merged into another (kept as a forwarding address); erased (no
/// personal data left, the id kept so ledgers and orders stay consistent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileStatus {
    Active,
    Merged,
    Erased,
}

impl ProfileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileStatus::Active => "active",
            ProfileStatus::Merged => "merged",
            ProfileStatus::Erased => "erased",
        }
    }

    pub fn parse(text: &str) -> Option<ProfileStatus> {
        [
            ProfileStatus::Active,
            ProfileStatus::Merged,
            ProfileStatus::Erased,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A customer profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: String,
    pub status: ProfileStatus,
    /// Where a merged profile's data went.
    pub merged_into: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The store that knows the customer best (clienteling, service history).
    pub home_store: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An identifier as held by a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(flatten)]
    pub identifier: Identifier,
    /// Proven by the customer (a confirmed e-mail, a signed-in session, a card scanned).
    pub verified: bool,
    /// The channel that first reported it.
    pub channel: Option<String>,
    pub created_at: Timestamp,
}

/// Checks a person's name: 1 to 100 characters once trimmed, no control characters.
pub fn validate_name(field: &str, name: &str) -> Result<String, Error> {
    kernel::text::bounded(field, name, 1, 100)
}
