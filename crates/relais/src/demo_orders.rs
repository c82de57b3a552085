//! The demo's orders: a few hundred, in every fulfilment mode and every state a store sees —
//! click & collect waiting to be prepared, ready at the counter (a few about to be no-shows),
//! collected; reservations set aside to try, some expiring within the hour, some bought in
//! part at the till, some expired; parcels routed from the warehouses and on their way; kiosk
//! orders at the counter; till sales; cancellations; and returns brought to another store,
//! refunded, credited or exchanged. Deterministic like the customers.

use std::collections::BTreeMap;

use catalog::ChannelKind;
use kernel::{Currency, Timestamp};
use orders::payment::PaymentMethod;
use orders::returns::{Condition, RefundMethod};
use orders::routing::{Candidate, route};
use orders::{FulfilmentMode, OrderState, Transition};
use store::orders::{NewOrder, NewOrderLine, NewPayment, Order, TransitionInput};
use store::returns::{ExchangeSale, NewReturn, ReturnLineIn};
use store::{Conn, Db};

use crate::demo_customers::Dice;

/// How long a click & reserve order is held for its customer.
const RESERVATION_HOURS: i64 = 48;

/// How many orders of each story.
const STORIES: &[(Story, usize)] = &[
    (Story::PickupPlaced, 14),
    (Story::PickupPreparing, 10),
    (Story::PickupReady, 16),
    (Story::PickupAlmostNoShow, 4),
    (Story::PickupCollected, 30),
    (Story::PickupNoShow, 4),
    (Story::ReserveReady, 10),
    (Story::ReserveExpiringSoon, 6),
    (Story::ReservePurchasedInPart, 10),
    (Story::ReserveExpired, 5),
    (Story::ShipPlaced, 8),
    (Story::ShipShipped, 8),
    (Story::ShipDelivered, 16),
    (Story::CounterWaiting, 6),
    (Story::CounterHandedOver, 10),
    (Story::CarryOut, 40),
    (Story::Cancelled, 5),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Story {
    PickupPlaced,
    PickupPreparing,
    PickupReady,
    PickupAlmostNoShow,
    PickupCollected,
    PickupNoShow,
    ReserveReady,
    ReserveExpiringSoon,
    ReservePurchasedInPart,
    ReserveExpired,
    ShipPlaced,
    ShipShipped,
    ShipDelivered,
    CounterWaiting,
    CounterHandedOver,
    CarryOut,
    Cancelled,
}

impl Story {
    fn mode(self) -> FulfilmentMode {
        use Story::*;
        match self {
            PickupPlaced | PickupPreparing | PickupReady | PickupAlmostNoShow | PickupCollected
            | PickupNoShow | Cancelled => FulfilmentMode::Pickup,
            ReserveReady | ReserveExpiringSoon | ReservePurchasedInPart | ReserveExpired => {
                FulfilmentMode::Reserve
            }
            ShipPlaced | ShipShipped | ShipDelivered => FulfilmentMode::Ship,
            CounterWaiting | CounterHandedOver => FulfilmentMode::Counter,
            CarryOut => FulfilmentMode::CarryOut,
        }
    }

    /// The steps after placing, and the pickup wait (days) when it matters.
    fn steps(self) -> &'static [Transition] {
        use Transition::*;
        match self {
            Story::PickupPreparing => &[StartPreparing],
            Story::PickupReady | Story::PickupAlmostNoShow => &[StartPreparing, MarkReady],
            Story::PickupCollected => &[StartPreparing, MarkReady, Collect],
            Story::PickupNoShow => &[StartPreparing, MarkReady, NoShow],
            Story::ReserveReady | Story::ReserveExpiringSoon => &[StartPreparing, MarkReady],
            Story::ReservePurchasedInPart => &[StartPreparing, MarkReady, Purchase],
            Story::ReserveExpired => &[StartPreparing, Expire],
            Story::ShipShipped => &[StartPreparing, Ship],
            Story::ShipDelivered => &[StartPreparing, Ship, Deliver],
            Story::CounterWaiting => &[StartPreparing, MarkReady],
            Story::CounterHandedOver => &[StartPreparing, MarkReady, HandOver],
            Story::Cancelled => &[Cancel],
            Story::PickupPlaced | Story::ShipPlaced | Story::CarryOut => &[],
        }
    }
}

/// What the seed needs to know of the catalogue and the network.
struct World {
    stores: Vec<String>,
    warehouses: Vec<String>,
    customers: Vec<String>,
    prices: BTreeMap<String, i64>,
}

/// Seeds the orders; `prices` are the EUR base prices the demo set.
pub async fn seed(
    db: &Db,
    stores: &[&str],
    warehouses: &[&str],
    prices: BTreeMap<String, i64>,
) -> anyhow::Result<()> {
    let first = kernel::PageRequest::parse(Some(400), None)?;
    let customers: Vec<String> = store::customers::list_profiles(db, None, &first)
        .await?
        .data
        .into_iter()
        .map(|p| p.id)
        .collect();
    let world = std::sync::Arc::new(World {
        stores: stores.iter().map(|s| s.to_string()).collect(),
        warehouses: warehouses.iter().map(|s| s.to_string()).collect(),
        customers,
        prices,
    });
    let mut dice = Dice(0x0dde_5eed_0000_0001);
    for &(story, count) in STORIES {
        let seed = dice.next() | 1;
        let world = world.clone();
        // One command per story: a few dozen orders, one fsync.
        db.write(move |c| {
            Box::pin(async move {
                let mut dice = Dice(seed);
                for _ in 0..count {
                    one_order(c, &world, story, &mut dice).await?;
                }
                Ok(())
            })
        })
        .await?;
    }
    // Returns of orders the customers have (collected, bought at a till, delivered).
    let handed_over = store::orders::OrderFilter {
        states: vec![
            OrderState::Collected,
            OrderState::Completed,
            OrderState::Delivered,
        ],
        ..Default::default()
    };
    let sold = store::orders::list(
        db,
        &handed_over,
        &kernel::PageRequest::parse(Some(16), None)?,
    )
    .await?
    .data;
    let seed = dice.next() | 1;
    db.write(move |c| Box::pin(async move { returns(c, &world, &sold, &mut Dice(seed)).await }))
        .await?;
    Ok(())
}

fn hours_ago(dice: &mut Dice, max_hours: u64) -> Timestamp {
    let ms = dice.below(max_hours * 3_600_000) as i64;
    Timestamp::from_unix_ms(Timestamp::now().unix_ms() - ms - 60_000)
}

async fn one_order(
    c: &mut Conn,
    w: &World,
    story: Story,
    dice: &mut Dice,
) -> Result<(), kernel::Error> {
    let mode = story.mode();
    let store = dice.pick(&w.stores).clone();
    let now = Timestamp::now();
    let (location, lines, routing) = if mode == FulfilmentMode::Ship {
        match ship_lines(c, w, dice).await? {
            Some((lines, routing)) => (None, lines, Some(routing)),
            None => return Ok(()),
        }
    } else {
        let skus = store::stock::skus_promisable_at(c, &store, 2).await?;
        if skus.is_empty() {
            return Ok(());
        }
        let n = 1 + dice.below(3) as usize;
        let mut lines: Vec<NewOrderLine> = Vec::new();
        for _ in 0..n {
            let sku = dice.pick(&skus).clone();
            if lines.iter().any(|l| l.sku == sku) {
                continue;
            }
            lines.push(line(w, &sku, 1 + dice.below(2) as i64, &store));
        }
        (Some(store.clone()), lines, None)
    };
    let total: i64 = lines.iter().map(|l| l.unit_price_minor * l.quantity).sum();
    let channel = match mode {
        FulfilmentMode::CarryOut => bound_channel(c, &store, ChannelKind::Pos).await?,
        FulfilmentMode::Counter => bound_channel(c, &store, ChannelKind::Kiosk).await?,
        _ if dice.below(3) == 0 => "app".to_owned(),
        _ => "web".to_owned(),
    };
    let payments = match mode {
        FulfilmentMode::Reserve => vec![],
        FulfilmentMode::CarryOut => vec![NewPayment {
            method: PaymentMethod::PayInStore,
            amount_minor: total,
            provider_ref: None,
        }],
        _ => vec![NewPayment {
            method: PaymentMethod::Provider,
            amount_minor: total,
            provider_ref: Some(format!("test_EUR_demo_{}", dice.next() % 1_000_000)),
        }],
    };
    let reserve_deadline = match story {
        Story::ReserveExpiringSoon => Some(Timestamp::from_unix_ms(
            now.unix_ms() + (20 + dice.below(60) as i64) * 60_000,
        )),
        _ if mode == FulfilmentMode::Reserve => Some(Timestamp::from_unix_ms(
            now.unix_ms() + (6 + dice.below(40) as i64) * 3_600_000,
        )),
        _ => None,
    };
    // Ready since almost a day, a pickup lapses in the next hours: its steps are dated back
    // (placed two hours before it was made ready). A reservation was placed 48 hours before
    // its deadline, the hold a click & reserve gets.
    let (placed_at, acted_at) = match (story, reserve_deadline) {
        (Story::PickupAlmostNoShow, _) => {
            let ready = now.unix_ms() - (19 + dice.below(5) as i64) * 3_600_000;
            (
                Timestamp::from_unix_ms(ready - 2 * 3_600_000),
                Timestamp::from_unix_ms(ready),
            )
        }
        (_, Some(deadline)) => (
            Timestamp::from_unix_ms(deadline.unix_ms() - RESERVATION_HOURS * 3_600_000),
            now,
        ),
        _ => (hours_ago(dice, 96), now),
    };
    let placed = store::orders::place(
        c,
        &NewOrder {
            customer_id: (mode != FulfilmentMode::CarryOut || dice.below(2) == 0)
                .then(|| dice.pick(&w.customers).clone()),
            cart: None,
            channel,
            hold_channel: None,
            mode,
            location,
            owner: None,
            currency: Currency::EUR,
            lines,
            payments,
            deadline_at: reserve_deadline,
            hold_ttl_s: inventory::hold::MAX_TTL_S,
            routing,
            exchange_of: None,
        },
        "demo",
        placed_at,
    )
    .await?;
    let actor = format!("store:{store}");
    for &step in story.steps() {
        let input = TransitionInput {
            pickup_code: None,
            purchase: (step == Transition::Purchase).then(|| {
                // Tried on, bought the first item only.
                vec![(1, 1)]
            }),
            pickup_days: if story == Story::PickupAlmostNoShow {
                1
            } else {
                7
            },
            location: placed.location.clone(),
        };
        let input = if step == Transition::Collect {
            let code = store::orders::find_order(c, &placed.id)
                .await?
                .and_then(|o| o.pickup_code);
            TransitionInput {
                pickup_code: code,
                ..input
            }
        } else {
            input
        };
        store::orders::transition(c, &placed.id, step, &input, &actor, acted_at).await?;
    }
    Ok(())
}

/// The store's till, or for a kiosk order its first kiosk.
async fn bound_channel(
    c: &mut Conn,
    store: &str,
    kind: ChannelKind,
) -> Result<String, kernel::Error> {
    if kind != ChannelKind::Pos
        && let Some(ch) = store::channels::bound_to(c, store)
            .await?
            .into_iter()
            .find(|ch| ch.kind == kind)
    {
        return Ok(ch.code);
    }
    Ok(store::channels::till_of(c, store)
        .await?
        .unwrap_or_else(|| format!("pos-{}", store.to_lowercase())))
}

fn line(w: &World, sku: &str, quantity: i64, location: &str) -> NewOrderLine {
    NewOrderLine {
        sku: sku.to_owned(),
        quantity,
        unit_price_minor: w.prices.get(sku).copied().unwrap_or(0),
        location: location.to_owned(),
        cart_hold: None,
        checked_channel_safety: None,
    }
}

/// Lines of a parcel and where they ship from, routed like a web checkout.
async fn ship_lines(
    c: &mut Conn,
    w: &World,
    dice: &mut Dice,
) -> Result<Option<(Vec<NewOrderLine>, serde_json::Value)>, kernel::Error> {
    let Some(first) = w.warehouses.first() else {
        return Ok(None);
    };
    let skus = store::stock::skus_promisable_at(c, first, 3).await?;
    if skus.is_empty() {
        return Ok(None);
    }
    let mut wanted = BTreeMap::new();
    for _ in 0..1 + dice.below(2) {
        wanted.insert(dice.pick(&skus).clone(), 1 + dice.below(2) as i64);
    }
    let mut candidates = Vec::new();
    for code in &w.warehouses {
        let mut atp = BTreeMap::new();
        for sku in wanted.keys() {
            if let Some(level) = store::stock::find_level(c, sku, code).await? {
                atp.insert(sku.clone(), level.atp());
            }
        }
        candidates.push(Candidate {
            code: code.clone(),
            is_warehouse: true,
            distance_km: None,
            atp,
        });
    }
    let Ok(routing) = route(&wanted, &candidates) else {
        return Ok(None);
    };
    let lines = routing
        .allocations
        .iter()
        .map(|a| line(w, &a.sku, a.quantity, &a.location))
        .collect();
    Ok(Some((lines, serde_json::json!(routing))))
}

/// Returns taken in another store than the one that sold: refunds, store credit, exchanges.
async fn returns(
    c: &mut Conn,
    w: &World,
    sold: &[Order],
    dice: &mut Dice,
) -> Result<(), kernel::Error> {
    for (n, order) in sold.iter().take(16).enumerate() {
        let at = order
            .location
            .clone()
            .unwrap_or_else(|| w.stores[0].clone());
        let other = w.stores.iter().find(|s| **s != at).cloned().unwrap_or(at);
        let line = &order.lines[0];
        let method = match n % 4 {
            0 | 1 => RefundMethod::OriginalPayment,
            2 => RefundMethod::StoreCredit,
            _ => RefundMethod::Exchange,
        };
        let exchange = if method == RefundMethod::Exchange {
            let skus = store::stock::skus_promisable_at(c, &other, 1).await?;
            let sku = dice.pick(&skus).clone();
            Some(ExchangeSale {
                lines: vec![self::line(w, &sku, 1, &other)],
            })
        } else {
            None
        };
        let till = bound_channel(c, &other, ChannelKind::Pos).await?;
        store::returns::record(
            c,
            &NewReturn {
                order_id: order.id.clone(),
                location: other.clone(),
                by_mail: false,
                lines: vec![ReturnLineIn {
                    line_no: line.line_no,
                    quantity: 1,
                    condition: if n % 5 == 4 {
                        Condition::Damaged
                    } else {
                        Condition::Resellable
                    },
                }],
                method,
                exchange,
                exchange_channel: till,
                window_days: 30,
            },
            &format!("store:{other}"),
            Timestamp::now(),
        )
        .await?;
    }
    Ok(())
}
