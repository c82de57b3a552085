//! Fulfilment modes and their exhaustive state machines.

use kernel::{Error, ErrorCode};
use serde::{Deserialize, Serialize};

/// How an order (or a line of it) reaches the customer.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentMode {
    /// Delivered from the best location with stock.
    Ship,
    /// Click & collect: paid online, collected in a chosen store.
    Pickup,
    /// Click & reserve: not paid; held in store to try, bought at the till or expired.
    Reserve,
    /// Ordered and paid on a kiosk, handed over at the counter.
    Counter,
    /// A walk-in sale at a POS, complete at once.
    CarryOut,
}

/// Where an order stands. Each mode uses some of these states (see [`FulfilmentMode::states`]).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Accepted: stock held, payment authorised (reserve: nothing to pay yet).
    Placed,
    /// The store or warehouse is picking and packing.
    Preparing,
    /// Handed to the carrier.
    Shipped,
    Delivered,
    /// Waiting at the store for its customer (pickup code sent).
    ReadyForPickup,
    Collected,
    /// Not collected in time: stock released, payment refunded.
    NoShow,
    /// Click & reserve: set aside in store to be tried.
    ReadyToTry,
    /// Click & reserve: bought at the till (all or some of the items).
    Purchased,
    /// Click & reserve: not bought within the hold; stock returned.
    Expired,
    /// Kiosk order waiting at the counter.
    ReadyAtCounter,
    HandedOver,
    /// A POS sale: paid and taken.
    Completed,
    Cancelled,
}

/// What can happen to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    StartPreparing,
    Ship,
    Deliver,
    MarkReady,
    /// The customer collects; the pickup code was verified.
    Collect,
    /// The pickup window passed.
    NoShow,
    /// The POS turns the reservation into a sale.
    Purchase,
    /// The reservation's hold ran out.
    Expire,
    HandOver,
    Cancel,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Placed => "placed",
            OrderState::Preparing => "preparing",
            OrderState::Shipped => "shipped",
            OrderState::Delivered => "delivered",
            OrderState::ReadyForPickup => "ready_for_pickup",
            OrderState::Collected => "collected",
            OrderState::NoShow => "no_show",
            OrderState::ReadyToTry => "ready_to_try",
            OrderState::Purchased => "purchased",
            OrderState::Expired => "expired",
            OrderState::ReadyAtCounter => "ready_at_counter",
            OrderState::HandedOver => "handed_over",
            OrderState::Completed => "completed",
            OrderState::Cancelled => "cancelled",
        }
    }
}

impl OrderState {
    /// Every state of every mode.
    pub fn parse(text: &str) -> Option<OrderState> {
        FulfilmentMode::ALL
            .iter()
            .flat_map(|m| m.states())
            .copied()
            .find(|s| s.as_str() == text)
    }
}

impl Transition {
    pub fn parse(text: &str) -> Option<Transition> {
        Transition::ALL.into_iter().find(|t| t.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transition::StartPreparing => "start_preparing",
            Transition::Ship => "ship",
            Transition::Deliver => "deliver",
            Transition::MarkReady => "mark_ready",
            Transition::Collect => "collect",
            Transition::NoShow => "no_show",
            Transition::Purchase => "purchase",
            Transition::Expire => "expire",
            Transition::HandOver => "hand_over",
            Transition::Cancel => "cancel",
        }
    }

    pub const ALL: [Transition; 10] = [
        Transition::StartPreparing,
        Transition::Ship,
        Transition::Deliver,
        Transition::MarkReady,
        Transition::Collect,
        Transition::NoShow,
        Transition::Purchase,
        Transition::Expire,
        Transition::HandOver,
        Transition::Cancel,
    ];
}

/// What a transition does besides changing the state: to the order's stock (its holds) and
/// money (its payments). Storage applies it in the transition's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The state alone changes.
    None,
    /// A pickup becomes collectable: a pickup code is issued, with a collect-by deadline.
    IssuePickupCode,
    /// The customer's code is checked, then every line is handed over (holds committed).
    CheckCodeThenHandOver,
    /// Every line leaves (shipped, handed over at a counter): holds committed.
    HandOver,
    /// A reservation is bought at the till: the named lines are sold and paid, the rest
    /// released.
    Purchase,
    /// The order ends unfulfilled: holds released, what was paid refunded.
    ReleaseAndRefund,
}

/// A pickup code as the customer shows it matches the order's: the same code, once typed
/// codes are normalised (the caller normalises), and never when the order has none yet.
pub fn check_pickup_code(typed: Option<&str>, expected: Option<&str>) -> Result<(), Error> {
    match (typed, expected) {
        (Some(t), Some(e)) if t == e => Ok(()),
        _ => Err(Error::new(
            ErrorCode::Conflict,
            "the pickup code does not match this order",
        )
        .with("field", "pickup_code")),
    }
}

const PICKUP_QR: &str = "relais:pickup:";

/// What the QR code of a ready pickup encodes: the order and its code, so one scan at the
/// counter finds the order and proves it is the customer's.
pub fn pickup_qr_payload(order_id: &str, code: &str) -> String {
    format!("{PICKUP_QR}{order_id}:{code}")
}

/// The order id and pickup code in a scanned pickup QR payload (`None` if it is not one).
pub fn from_pickup_qr(scanned: &str) -> Option<(String, String)> {
    let (order, code) = scanned.trim().strip_prefix(PICKUP_QR)?.split_once(':')?;
    let plausible = |t: &str, max: usize| {
        !t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    (plausible(order, 64) && plausible(code, 16)).then(|| (order.to_owned(), code.to_owned()))
}

impl FulfilmentMode {
    /// The effect of `t` on an order of this mode (the state machine decides whether `t` is
    /// allowed at all).
    pub fn effect(self, t: Transition) -> Effect {
        match t {
            Transition::MarkReady if self == FulfilmentMode::Pickup => Effect::IssuePickupCode,
            Transition::Collect => Effect::CheckCodeThenHandOver,
            Transition::Ship | Transition::HandOver => Effect::HandOver,
            Transition::Purchase => Effect::Purchase,
            Transition::NoShow | Transition::Expire | Transition::Cancel => {
                Effect::ReleaseAndRefund
            }
            _ => Effect::None,
        }
    }

    /// The purpose an order's holds carry: a counter or till order is held like a pickup
    /// (its lifetime and the sourcing rules that apply follow from it).
    pub fn hold_purpose(self) -> inventory::HoldPurpose {
        use inventory::HoldPurpose;
        match self {
            FulfilmentMode::Ship => HoldPurpose::Ship,
            FulfilmentMode::Reserve => HoldPurpose::Reserve,
            FulfilmentMode::Pickup | FulfilmentMode::Counter | FulfilmentMode::CarryOut => {
                HoldPurpose::Pickup
            }
        }
    }

    pub fn parse(text: &str) -> Option<FulfilmentMode> {
        FulfilmentMode::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// Whether the customer pays when ordering (a reservation is paid at the till, a POS
    /// sale at once by the till).
    pub fn paid_at_checkout(self) -> bool {
        matches!(
            self,
            FulfilmentMode::Ship | FulfilmentMode::Pickup | FulfilmentMode::Counter
        )
    }

    /// Whether the order is fulfilled at one chosen store (all but ship).
    pub fn at_one_store(self) -> bool {
        self != FulfilmentMode::Ship
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FulfilmentMode::Ship => "ship",
            FulfilmentMode::Pickup => "pickup",
            FulfilmentMode::Reserve => "reserve",
            FulfilmentMode::Counter => "counter",
            FulfilmentMode::CarryOut => "carry_out",
        }
    }

    pub const ALL: [FulfilmentMode; 5] = [
        FulfilmentMode::Ship,
        FulfilmentMode::Pickup,
        FulfilmentMode::Reserve,
        FulfilmentMode::Counter,
        FulfilmentMode::CarryOut,
    ];

    /// The state an order of this mode starts in.
    pub fn initial(self) -> OrderState {
        match self {
            FulfilmentMode::CarryOut => OrderState::Completed,
            _ => OrderState::Placed,
        }
    }

    /// Every state of this mode's machine.
    pub fn states(self) -> &'static [OrderState] {
        use OrderState::*;
        match self {
            FulfilmentMode::Ship => &[Placed, Preparing, Shipped, Delivered, Cancelled],
            FulfilmentMode::Pickup => &[
                Placed,
                Preparing,
                ReadyForPickup,
                Collected,
                NoShow,
                Cancelled,
            ],
            FulfilmentMode::Reserve => {
                &[Placed, Preparing, ReadyToTry, Purchased, Expired, Cancelled]
            }
            FulfilmentMode::Counter => &[Placed, Preparing, ReadyAtCounter, HandedOver, Cancelled],
            FulfilmentMode::CarryOut => &[Completed],
        }
    }

    /// The state `transition` leads to from `state`, if this mode allows it there.
    pub fn next(self, state: OrderState, transition: Transition) -> Option<OrderState> {
        use FulfilmentMode as M;
        use OrderState as S;
        use Transition as T;
        let to = match (self, state, transition) {
            (M::Ship, S::Placed, T::StartPreparing) => S::Preparing,
            (M::Ship, S::Preparing, T::Ship) => S::Shipped,
            (M::Ship, S::Shipped, T::Deliver) => S::Delivered,

            (M::Pickup, S::Placed, T::StartPreparing) => S::Preparing,
            (M::Pickup, S::Preparing, T::MarkReady) => S::ReadyForPickup,
            (M::Pickup, S::ReadyForPickup, T::Collect) => S::Collected,
            (M::Pickup, S::ReadyForPickup, T::NoShow) => S::NoShow,

            (M::Reserve, S::Placed, T::StartPreparing) => S::Preparing,
            (M::Reserve, S::Preparing, T::MarkReady) => S::ReadyToTry,
            // The customer may come before the store has finished setting the items aside.
            (M::Reserve, S::Placed | S::Preparing | S::ReadyToTry, T::Purchase) => S::Purchased,
            (M::Reserve, S::Placed | S::Preparing | S::ReadyToTry, T::Expire) => S::Expired,

            (M::Counter, S::Placed, T::StartPreparing) => S::Preparing,
            (M::Counter, S::Preparing, T::MarkReady) => S::ReadyAtCounter,
            (M::Counter, S::ReadyAtCounter, T::HandOver) => S::HandedOver,

            // Cancelling is possible until the goods leave the retailer's hands.
            (M::Ship, S::Placed | S::Preparing, T::Cancel)
            | (M::Pickup, S::Placed | S::Preparing | S::ReadyForPickup, T::Cancel)
            | (M::Reserve, S::Placed | S::Preparing | S::ReadyToTry, T::Cancel)
            | (M::Counter, S::Placed | S::Preparing | S::ReadyAtCounter, T::Cancel) => S::Cancelled,

            (M::Ship | M::Pickup | M::Reserve | M::Counter | M::CarryOut, _, _) => return None,
        };
        Some(to)
    }

    /// The transitions allowed from `state`, in a stable order.
    pub fn allowed(self, state: OrderState) -> Vec<Transition> {
        Transition::ALL
            .into_iter()
            .filter(|t| self.next(state, *t).is_some())
            .collect()
    }

    /// Applies a transition or explains why it cannot be applied.
    pub fn apply(
        self,
        state: OrderState,
        transition: Transition,
    ) -> Result<OrderState, InvalidTransition> {
        self.next(state, transition)
            .ok_or_else(|| InvalidTransition {
                mode: self,
                current: state,
                attempted: transition,
                allowed: self.allowed(state),
            })
    }

    /// A state no transition leaves.
    pub fn is_final(self, state: OrderState) -> bool {
        self.allowed(state).is_empty()
    }
}

/// A refused transition: what the order is, what was tried, what is possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidTransition {
    pub mode: FulfilmentMode,
    pub current: OrderState,
    pub attempted: Transition,
    pub allowed: Vec<Transition>,
}

impl From<InvalidTransition> for kernel::Error {
    /// 409 `conflict` with `details.current_state` and `details.allowed` (transition names).
    fn from(e: InvalidTransition) -> Self {
        let allowed: Vec<&str> = e.allowed.iter().map(|t| t.as_str()).collect();
        kernel::Error::new(
            kernel::ErrorCode::Conflict,
            format!(
                "a {} order that is {} cannot {}",
                e.mode.as_str(),
                e.current.as_str(),
                e.attempted.as_str()
            ),
        )
        .with("current_state", e.current.as_str())
        .with("allowed", allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn a_pickup_qr_gives_back_its_order_and_code() {
        let qr = pickup_qr_payload("ord_0193", "042317");
        assert_eq!(qr, "relais:pickup:ord_0193:042317");
        assert_eq!(
            from_pickup_qr(&format!(" {qr}\n")),
            Some(("ord_0193".into(), "042317".into()))
        );
        for bad in [
            "042317",
            "relais:receipt:abc",
            "relais:pickup:ord_1",
            "relais:pickup::1",
            "relais:pickup:o d:1",
        ] {
            assert_eq!(from_pickup_qr(bad), None, "{bad}");
        }
    }

    #[test]
    fn transitions_have_one_effect_on_stock_and_money() {
        use FulfilmentMode::*;
        for mode in [Ship, Pickup, Reserve, Counter, CarryOut] {
            assert_eq!(mode.effect(Transition::Cancel), Effect::ReleaseAndRefund);
            assert_eq!(mode.effect(Transition::StartPreparing), Effect::None);
        }
        assert_eq!(
            Pickup.effect(Transition::MarkReady),
            Effect::IssuePickupCode
        );
        assert_eq!(Counter.effect(Transition::MarkReady), Effect::None);
        assert_eq!(Pickup.effect(Transition::NoShow), Effect::ReleaseAndRefund);
        assert_eq!(Reserve.effect(Transition::Expire), Effect::ReleaseAndRefund);
        assert_eq!(Reserve.effect(Transition::Purchase), Effect::Purchase);
        assert_eq!(
            Pickup.effect(Transition::Collect),
            Effect::CheckCodeThenHandOver
        );
        assert_eq!(Ship.effect(Transition::Ship), Effect::HandOver);
        assert!(check_pickup_code(Some("042137"), Some("042137")).is_ok());
        for (typed, expected) in [
            (Some("1"), Some("2")),
            (None, Some("2")),
            (Some("1"), None),
            (None, None),
        ] {
            assert_eq!(
                check_pickup_code(typed, expected).unwrap_err().code,
                ErrorCode::Conflict
            );
        }
    }

    #[test]
    fn kiosk_and_till_orders_are_held_like_pickups() {
        use inventory::HoldPurpose;
        for (mode, purpose) in [
            (FulfilmentMode::Ship, HoldPurpose::Ship),
            (FulfilmentMode::Reserve, HoldPurpose::Reserve),
            (FulfilmentMode::Pickup, HoldPurpose::Pickup),
            (FulfilmentMode::Counter, HoldPurpose::Pickup),
            (FulfilmentMode::CarryOut, HoldPurpose::Pickup),
        ] {
            assert_eq!(mode.hold_purpose(), purpose, "{mode:?}");
        }
    }

    fn reachable(mode: FulfilmentMode) -> BTreeSet<OrderState> {
        let mut seen = BTreeSet::from([mode.initial()]);
        let mut todo = vec![mode.initial()];
        while let Some(s) = todo.pop() {
            for t in mode.allowed(s) {
                let n = mode.next(s, t).unwrap();
                if seen.insert(n) {
                    todo.push(n);
                }
            }
        }
        seen
    }

    #[test]
    fn every_state_of_a_mode_is_reachable_and_no_other() {
        for mode in FulfilmentMode::ALL {
            let declared: BTreeSet<OrderState> = mode.states().iter().copied().collect();
            assert_eq!(reachable(mode), declared, "{mode:?}");
        }
    }

    #[test]
    fn the_happy_paths() {
        use FulfilmentMode as M;
        use Transition as T;
        let walk = |mode: M, steps: &[T]| {
            steps
                .iter()
                .try_fold(mode.initial(), |s, t| mode.apply(s, *t))
                .unwrap()
        };
        assert_eq!(
            walk(M::Ship, &[T::StartPreparing, T::Ship, T::Deliver]),
            OrderState::Delivered
        );
        assert_eq!(
            walk(M::Pickup, &[T::StartPreparing, T::MarkReady, T::Collect]),
            OrderState::Collected
        );
        assert_eq!(
            walk(M::Pickup, &[T::StartPreparing, T::MarkReady, T::NoShow]),
            OrderState::NoShow
        );
        assert_eq!(
            walk(M::Reserve, &[T::StartPreparing, T::MarkReady, T::Purchase]),
            OrderState::Purchased
        );
        assert_eq!(walk(M::Reserve, &[T::Expire]), OrderState::Expired);
        assert_eq!(
            walk(M::Counter, &[T::StartPreparing, T::MarkReady, T::HandOver]),
            OrderState::HandedOver
        );
        assert_eq!(walk(M::CarryOut, &[]), OrderState::Completed);
    }

    #[test]
    fn a_refusal_names_the_state_and_what_is_allowed() {
        let e = FulfilmentMode::Pickup
            .apply(OrderState::Placed, Transition::Collect)
            .unwrap_err();
        assert_eq!(e.current, OrderState::Placed);
        assert_eq!(
            e.allowed,
            vec![Transition::StartPreparing, Transition::Cancel]
        );
        let err: kernel::Error = e.into();
        assert_eq!(err.code, kernel::ErrorCode::Conflict);
        assert_eq!(err.details["current_state"], "placed");
        assert_eq!(
            err.details["allowed"],
            serde_json::json!(["start_preparing", "cancel"])
        );
    }

    #[test]
    fn final_states_are_final_and_goods_handed_over_cannot_be_cancelled() {
        for mode in FulfilmentMode::ALL {
            for state in mode.states() {
                let handed = matches!(
                    state,
                    OrderState::Shipped
                        | OrderState::Delivered
                        | OrderState::Collected
                        | OrderState::Purchased
                        | OrderState::HandedOver
                        | OrderState::Completed
                );
                if handed {
                    assert!(
                        mode.next(*state, Transition::Cancel).is_none(),
                        "{mode:?} {state:?}"
                    );
                }
            }
            for end in [
                OrderState::Delivered,
                OrderState::Collected,
                OrderState::NoShow,
                OrderState::Purchased,
                OrderState::Expired,
                OrderState::HandedOver,
                OrderState::Completed,
                OrderState::Cancelled,
            ] {
                assert!(mode.is_final(end), "{mode:?} {end:?}");
            }
        }
    }

    #[test]
    fn states_outside_a_mode_allow_nothing() {
        for mode in FulfilmentMode::ALL {
            for t in Transition::ALL {
                for s in [
                    OrderState::Placed,
                    OrderState::Preparing,
                    OrderState::Shipped,
                    OrderState::ReadyForPickup,
                    OrderState::ReadyToTry,
                    OrderState::ReadyAtCounter,
                    OrderState::Completed,
                ] {
                    if let Some(n) = mode.next(s, t) {
                        assert!(
                            mode.states().contains(&s) && mode.states().contains(&n),
                            "{mode:?} {s:?} {t:?}"
                        );
                    }
                }
            }
        }
    }
}
