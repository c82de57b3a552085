//! The shared vocabulary of Relais: the small value types every domain speaks in.
//!
//! `kernel` owns identifiers, [`Money`] (integer minor units with an ISO 4217 currency, never
//! floats), UTC [`Timestamp`]s that sort as text, opaque pagination cursors and the one table of
//! error codes ([`ErrorCode`]) that every layer reports through. It performs no I/O and depends on
//! no runtime, database or web framework, so every other crate may depend on it.

pub mod error;
pub mod hex;
pub mod id;
pub mod money;
pub mod page;
pub mod text;
pub mod timestamp;

pub use error::{Error, ErrorCode, Result};
pub use money::{Currency, Money};
pub use page::{Cursor, Page, PageRequest};
pub use timestamp::Timestamp;
