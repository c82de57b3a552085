//! The catalogue: what is sold, where, and through which channels.
//!
//! `catalog` owns products and their variants (the sellable SKUs, each with an optional GTIN
//! verified by its check digit and stored as 14 digits), locations (stores, warehouses, pickup
//! points with address, coordinates, time zone, opening hours, owner and capabilities) and
//! channels (web, app, kiosk, pos, phone, email, social, marketplace; kiosks and POS are bound
//! to one store). Everything here is pure: the rules validate and normalise input into the
//! values that storage persists. Invariants: a SKU is unique; a GTIN is valid and unique; a
//! kiosk or POS channel names exactly one store, other channels name none.

pub mod channel;
pub mod gtin;
pub mod location;
pub mod product;

pub use channel::{Channel, ChannelKind, NewChannel};
pub use gtin::{Gtin, GtinError};
pub use location::{
    Address, Capability, Coordinates, Location, LocationKind, LocationPatch, NewLocation,
    OpeningHours, Owner, OwnerKind, TimeRange,
};
pub use product::{
    Image, NewProduct, NewVariant, Product, ProductPatch, ProductStatus, Variant, VariantPatch,
};
