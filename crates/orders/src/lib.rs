//! Orders: how an order reaches its customer, and the states it passes through.
//!
//! Each fulfilment mode has its own state machine ([`fulfilment`]): ship (routed to a
//! warehouse or a store that ships), pickup (click & collect, paid online, prepared, ready,
//! collected or a no-show), reserve (click & reserve, unpaid, held 48 h, bought at the till —
//! possibly in part — or expired), counter (a kiosk order prepared and handed over) and
//! carry-out (a POS sale, complete at once). The machines are exhaustive: every (mode,
//! state, transition) is decided here, and a refused transition names the current state and
//! the transitions it allows, which the API returns with a 409.
//!
//! Ship-from routing ([`routing`]) picks the locations that send an order and says why: one
//! parcel before two, warehouses before stores that ship, nearest first; split greedily
//! otherwise.
//!
//! Payments ([`payment`]): authorise, capture in parts, refund in parts — never more than
//! captured — or void; a provider interface with a built-in test provider that declines when
//! told; `pay_in_store` for reservations bought at the till.
//!
//! Carts ([`cart`]: lines, the sign-in merge rule, handoff codes), returns ([`returns`]:
//! returnable quantities, the window, exchanges) and e-receipts ([`receipt`]) complete the
//! rules, with delivery ([`delivery`]: postal addresses, shipping methods, their rates and
//! delivery promises); storage drives orders only through them.

pub mod cart;
pub mod delivery;
pub mod fulfilment;
pub mod kpis;
pub mod order;
pub mod payment;
pub mod receipt;
pub mod returns;
pub mod routing;

pub use fulfilment::{Effect, FulfilmentMode, InvalidTransition, OrderState, Transition};
pub use order::{Order, OrderLine};
pub use payment::PaymentMethod;
pub use returns::{Condition, RefundMethod, ReturnedLine};
