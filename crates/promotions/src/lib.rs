//! Promotions and VAT, decided on the server the same way for every channel.
//!
//! A [`Promotion`] says which baskets qualify ([`Conditions`]: channels, stores, segments,
//! items, thresholds, schedule, first order, coupon) and what they get ([`Effect`]).
//! [`evaluate`] prices a [`Basket`] for a [`Shopper`]: every discount lands on the lines it
//! was earned on, in integer minor units, with the promotion that gave it and why, so an
//! order and its returns know what each unit was really paid. [`tax`] splits amounts into
//! VAT per rate. Nothing here reads a database or a clock: callers pass the instant.

mod allocate;
pub mod coupon;
mod evaluate;
mod promotion;
pub mod tax;

pub use allocate::{refund_share, split_pro_rata};
pub use coupon::Coupon;
pub use evaluate::{
    Applied, Basket, BasketLine, LineDiscount, PricedBasket, PricedLine, Shopper, Skipped, Usage,
    evaluate,
};
pub use promotion::{
    Budget, Conditions, Effect, ItemScope, MAX_PERCENT_BP, NewPromotion, Promotion, PromotionPatch,
    Schedule, Stacking,
};
