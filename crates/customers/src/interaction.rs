//! Service history: every exchange between the retailer and a customer, on any channel, so the
//! agent on the phone knows about the e-mail sent yesterday and the return made in store.

use kernel::{Error, Timestamp};
use serde::{Deserialize, Serialize};

/// Where the exchange happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InteractionMedium {
    Email,
    Phone,
    Chat,
    StoreVisit,
    Social,
}

impl InteractionMedium {
    pub const ALL: [InteractionMedium; 5] = [
        InteractionMedium::Email,
        InteractionMedium::Phone,
        InteractionMedium::Chat,
        InteractionMedium::StoreVisit,
        InteractionMedium::Social,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InteractionMedium::Email => "email",
            InteractionMedium::Phone => "phone",
            InteractionMedium::Chat => "chat",
            InteractionMedium::StoreVisit => "store_visit",
            InteractionMedium::Social => "social",
        }
    }

    pub fn parse(text: &str) -> Option<InteractionMedium> {
        InteractionMedium::ALL
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

/// Who spoke first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        [Direction::Inbound, Direction::Outbound]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// One interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: String,
    pub customer_id: String,
    pub medium: InteractionMedium,
    pub direction: Direction,
    pub summary: String,
    /// The agent or associate who handled it.
    pub agent: Option<String>,
    /// The store, for store visits and calls taken in store.
    pub location_code: Option<String>,
    /// Orders and returns it was about.
    pub references: Vec<String>,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
}

/// A summary: 1 to 2000 characters.
pub fn validate_summary(summary: &str) -> Result<String, Error> {
    let s = summary.trim();
    if s.is_empty() || s.chars().count() > 2000 {
        return Err(Error::validation("summary", "must be 1 to 2000 characters"));
    }
    Ok(s.to_owned())
}

/// References: up to 20 order or return numbers of 1 to 64 visible characters.
pub fn validate_references(refs: &[String]) -> Result<(), Error> {
    if refs.len() > 20 {
        return Err(Error::validation("references", "at most 20 references"));
    }
    for (i, r) in refs.iter().enumerate() {
        kernel::text::code(
            &format!("references[{i}]"),
            r,
            1,
            64,
            |c| c.is_ascii_graphic(),
            "visible ASCII",
        )?;
    }
    Ok(())
}
