//! Customers: one profile per person, whatever channel they come from.
//!
//! A profile is reached through **identities** (e-mail, phone, loyalty card, app device, web
//! anonymous id, POS customer id, external ids), each normalised so spellings meet and each
//! pointing to exactly one profile. Channels send **events**; when an event or a sign-in links
//! identifiers held by several profiles, they **merge** by a documented survivor rule, with
//! guard rails that flag doubtful pairs for review ([`merge`]). **Consent** is an append-only
//! log per purpose and channel, and [`consent::may_use`] is the one check every feature asks.
//! **Interactions** are the service history. **Segments** are rules over attributes and
//! aggregates.
//!
//! Everything here is pure: the store applies these decisions inside one transaction.

pub mod consent;
pub mod event;
pub mod identity;
pub mod interaction;
pub mod merge;
pub mod profile;
pub mod segment;

pub use consent::{
    CollectionMethod, ConsentDecision, ConsentRecord, ConsentStatus, Evidence, Purpose,
};
pub use event::CustomerEvent;
pub use identity::{Identifier, IdentityKind, PhoneRules};
pub use interaction::{Direction, Interaction, InteractionMedium};
pub use merge::{LinkPlan, ProfileSummary, ReviewReason, plan_link};
pub use profile::{Identity, Profile, ProfileStatus};
