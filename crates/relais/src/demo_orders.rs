//! The demo's orders: a few hundred, in every fulfilment mode and every state a store sees —
//! click & collect waiting to be prepared, ready at the counter (a few about to be no-shows),
//! collected; reservations set aside to try, some expiring within the hour, some bought in
//! part at the till, some expired; parcels routed from the warehouses and on their way; kiosk
//! orders at the counter; till sales; cancellations; and returns brought to another store,
//! refunded, credited or exchanged. Each is a cart checked out on its channel with that
//! channel's key, then moved on by its store's key, dated in the past through
//! [`app::clock::as_of`]. The same stories every time; orders go side by side, so which of
//! two orders gets a store's last unit (the other is dropped) may differ.

use app::checkout::{CheckoutRequest, Context, PaymentChoice, ShipTo};
use app::clock::as_of;
use app::orders::TransitionRequest;
use app::reference::Reference;
use app::returns::ReturnRequest;
use app::{Principal, Scope};
use catalog::ChannelKind;
use catalog::location::Coordinates;
use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::cart::Line;
use orders::delivery::PostalAddress;
use orders::payment::TestProvider;
use orders::returns::{Condition, RefundMethod};
use orders::{FulfilmentMode, OrderState, Transition};
use store::Db;
use store::carts::Cart;
use store::orders::{Order, OrderFilter};
use store::returns::{Return, ReturnLineIn};

use crate::demo_calls::{acting, kept, side_by_side};
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

/// Where parcels are sent: city centres across France.
const SHIP_TO: &[(&str, &str, &str, f64, f64)] = &[
    ("18 rue de Turenne", "75004", "Paris", 48.8566, 2.3522),
    ("7 rue Mercière", "69002", "Lyon", 45.7640, 4.8357),
    ("41 rue Paradis", "13001", "Marseille", 43.2965, 5.3698),
    (
        "9 cours de l'Intendance",
        "33000",
        "Bordeaux",
        44.8378,
        -0.5792,
    ),
    ("25 rue Esquermoise", "59800", "Lille", 50.6292, 3.0573),
    ("3 rue Crébillon", "44000", "Nantes", 47.2184, -1.5536),
];

/// What the seed needs to know of the network, and how it reaches the use cases.
struct World<'a> {
    reference: &'a Reference,
    payments: TestProvider,
    stores: Vec<String>,
    warehouses: Vec<String>,
    customers: Vec<String>,
}

impl World<'_> {
    fn db(&self) -> &Db {
        self.reference.db()
    }

    fn checkout(&self) -> Context<'_, TestProvider> {
        Context {
            db: self.reference.db(),
            reference: self.reference,
            payments: &self.payments,
            hold_ttls: inventory::HoldTtls::default(),
        }
    }
}

/// Seeds the orders, then returns of some of them.
pub async fn seed(
    reference: &Reference,
    stores: &[&str],
    warehouses: &[&str],
) -> anyhow::Result<()> {
    let first = kernel::PageRequest::parse(Some(400), None)?;
    let admin = acting(Scope::Admin);
    let customers = app::customers::list(reference.db(), &admin, None, &first)
        .await?
        .data
        .into_iter()
        .map(|p| p.id)
        .collect();
    let world = World {
        reference,
        payments: TestProvider::default(),
        stores: stores.iter().map(|s| s.to_string()).collect(),
        warehouses: warehouses.iter().map(|s| s.to_string()).collect(),
        customers,
    };
    let mut dice = Dice(0x0dde_5eed_0000_0001);
    let mut plans = Vec::new();
    for &(story, count) in STORIES {
        for _ in 0..count {
            plans.push((story, Dice(dice.next() | 1)));
        }
    }
    side_by_side(
        plans
            .into_iter()
            .map(|(story, d)| one_order(&world, story, d)),
    )
    .await?;
    // Returns of orders the customers have (collected, bought at a till, delivered).
    let handed_over = OrderFilter {
        states: vec![
            OrderState::Collected,
            OrderState::Completed,
            OrderState::Delivered,
        ],
        ..Default::default()
    };
    let page = kernel::PageRequest::parse(Some(16), None)?;
    let sold = app::orders::list(reference.db(), &admin, handed_over, &page)
        .await?
        .data;
    returns(&world, &sold, &mut dice).await?;
    Ok(())
}

fn hours_ago(dice: &mut Dice, max_hours: u64) -> Timestamp {
    let ms = dice.below(max_hours * 3_600_000) as i64;
    Timestamp::from_unix_ms(Timestamp::now().unix_ms() - ms - 60_000)
}

/// When the story's order was placed and when its steps were taken, and for a
/// reservation its deadline. Ready since almost a day, a pickup lapses in the next hours
/// (placed two hours before it was made ready). A reservation is placed 48 hours before
/// its deadline, the hold a click & reserve gets.
fn dates(story: Story, dice: &mut Dice) -> (Timestamp, Timestamp) {
    let now = Timestamp::now();
    let at = |ms: i64| Timestamp::from_unix_ms(ms);
    match story {
        Story::PickupAlmostNoShow => {
            let ready = now.unix_ms() - (19 + dice.below(5) as i64) * 3_600_000;
            (at(ready - 2 * 3_600_000), at(ready))
        }
        Story::ReserveExpiringSoon => {
            let deadline = now.unix_ms() + (20 + dice.below(60) as i64) * 60_000;
            (at(deadline - RESERVATION_HOURS * 3_600_000), now)
        }
        _ if story.mode() == FulfilmentMode::Reserve => {
            let deadline = now.unix_ms() + (6 + dice.below(40) as i64) * 3_600_000;
            (at(deadline - RESERVATION_HOURS * 3_600_000), now)
        }
        _ => (hours_ago(dice, 96), now),
    }
}

/// One order of a story: placed, then moved on step by step. A store that ran out of what
/// the dice chose meanwhile (another order took it) drops the order.
async fn one_order(w: &World<'_>, story: Story, mut dice: Dice) -> Result<(), Error> {
    let dice = &mut dice;
    let (placed_at, acted_at) = dates(story, dice);
    let mut placed = as_of(placed_at, place(w, story, dice)).await;
    // A promotion the customer's other order took meanwhile: priced again, as a shop would.
    if placed
        .as_ref()
        .is_err_and(|e| e.details.contains_key("promotion_id"))
    {
        placed = as_of(placed_at, place(w, story, dice)).await;
    }
    let placed = match placed {
        Ok(Some(order)) => order,
        Ok(None) => return Ok(()),
        Err(e) if e.code == ErrorCode::InsufficientStock => return Ok(()),
        Err(e) => return Err(e),
    };
    // A store's associates move its orders on; a parcel's, the warehouse's.
    let staff = acting(Scope::Store(
        placed
            .location
            .clone()
            .unwrap_or_else(|| placed.lines[0].location.clone()),
    ));
    for &step in story.steps() {
        // The code is given when the order is made ready; the customer shows it.
        let pickup_code = match step {
            Transition::Collect => {
                app::orders::reach(w.db(), &staff, &placed.id)
                    .await?
                    .pickup_code
            }
            _ => None,
        };
        let req = TransitionRequest {
            pickup_code,
            // Tried on, bought the first item only.
            purchase: (step == Transition::Purchase).then(|| vec![(1, 1)]),
            pickup_days: if story == Story::PickupAlmostNoShow {
                1
            } else {
                7
            },
        };
        let id = placed.id.clone();
        let moved = kept::<Order, _>(|k| {
            app::orders::transition(w.db(), &w.payments, &staff, id, step, req, None, k)
        });
        as_of(acted_at, moved).await?;
    }
    Ok(())
}

/// Places the story's order: a cart on its channel, checked out with that channel's key.
async fn place(w: &World<'_>, story: Story, dice: &mut Dice) -> Result<Option<Order>, Error> {
    let mode = story.mode();
    let store = dice.pick(&w.stores).clone();
    let stocked_at = match mode {
        FulfilmentMode::Ship => w.warehouses[0].clone(),
        _ => store.clone(),
    };
    let skus = store::stock::skus_promisable_at(&mut w.db().read().await?, &stocked_at, 2).await?;
    if skus.is_empty() {
        return Ok(None);
    }
    let mut lines: Vec<Line> = Vec::new();
    for _ in 0..1 + dice.below(if mode == FulfilmentMode::Ship { 2 } else { 3 }) {
        let sku = dice.pick(&skus).clone();
        if lines.iter().all(|l| l.sku != sku) {
            lines.push(Line {
                sku,
                quantity: 1 + dice.below(2) as i64,
            });
        }
    }
    let channel = match mode {
        FulfilmentMode::CarryOut => bound_channel(w.db(), &store, ChannelKind::Pos).await?,
        FulfilmentMode::Counter => bound_channel(w.db(), &store, ChannelKind::Kiosk).await?,
        _ if dice.below(3) == 0 => "app".to_owned(),
        _ => "web".to_owned(),
    };
    let key = acting(Scope::Channel(channel));
    let cart = app::carts::CartRequest {
        customer_id: None,
        channel: None,
        currency: Currency::EUR,
        lines,
    };
    let cart = kept::<Cart, _>(|k| app::carts::create(w.db(), &key, cart, None, k)).await?;
    let mut request = checkout_request(w, story, store, dice);
    // A signed-in customer's parcel goes to the address they saved in their account.
    if let (Some(customer), Some(to)) = (request.customer_id.clone(), request.ship_to.as_mut())
        && let Some(address) = to.address.take()
    {
        let service = acting(Scope::Service);
        let saved = (Some("Maison".to_owned()), address, false);
        let saved = kept::<store::addresses::SavedAddress, _>(|k| {
            app::addresses::add(w.db(), &service, customer, saved, None, k)
        })
        .await?;
        to.address_id = Some(saved.id);
    }
    let cx = w.checkout();
    let placed = kept::<Vec<Order>, _>(|k| async {
        let (answer, _) = app::checkout::checkout(&cx, &key, &cart.id, request, None, k).await?;
        Ok(answer)
    })
    .await?;
    Ok(placed.into_iter().next())
}

/// How the story's customer checks out: where, who, and how they pay.
fn checkout_request(
    w: &World<'_>,
    story: Story,
    store: String,
    dice: &mut Dice,
) -> CheckoutRequest {
    let mode = story.mode();
    let payment = match mode {
        FulfilmentMode::Reserve => None,
        FulfilmentMode::CarryOut => Some(PaymentChoice {
            method: Some("pay_in_store".into()),
            token: None,
            store_credit_id: None,
            gift_card: None,
            points: None,
        }),
        _ => Some(PaymentChoice {
            method: Some("provider".into()),
            token: Some(format!("demo{}", dice.next() % 1_000_000)),
            store_credit_id: None,
            gift_card: None,
            points: None,
        }),
    };
    let ship_to = (mode == FulfilmentMode::Ship).then(|| parcel_to(dice, &store));
    CheckoutRequest {
        mode,
        location: (mode != FulfilmentMode::Ship).then_some(store),
        payment,
        ship_to,
        shipping_method: None,
        // Half the till's customers give their loyalty card; every other order is signed in.
        customer_id: (mode != FulfilmentMode::CarryOut || dice.below(2) == 0)
            .then(|| dice.pick(&w.customers).clone()),
        lines: None,
        coupons: Vec::new(),
    }
}

/// Where a parcel goes: one time in five to a store (ship to store), else to a home in one
/// of the big cities.
fn parcel_to(dice: &mut Dice, store: &str) -> ShipTo {
    let (street, postal_code, city, latitude, longitude) = *dice.pick(SHIP_TO);
    let name = format!(
        "{} {}",
        dice.pick(crate::demo_customers::GIVEN),
        dice.pick(crate::demo_customers::FAMILY)
    );
    if dice.below(5) == 0 {
        return ShipTo {
            store: Some(store.to_owned()),
            ..ShipTo::default()
        };
    }
    ShipTo {
        address: Some(PostalAddress {
            name,
            line1: format!("{} {street}", 1 + dice.below(60)),
            line2: None,
            postal_code: postal_code.into(),
            city: city.into(),
            country: "FR".into(),
            phone: None,
        }),
        coordinates: Some(Coordinates {
            latitude,
            longitude,
        }),
        ..ShipTo::default()
    }
}

/// The store's till, or for a kiosk order its first kiosk.
async fn bound_channel(db: &Db, store: &str, kind: ChannelKind) -> Result<String, Error> {
    let mut conn = db.read().await?;
    if kind != ChannelKind::Pos
        && let Some(ch) = store::channels::bound_to(&mut conn, store)
            .await?
            .into_iter()
            .find(|ch| ch.kind == kind)
    {
        return Ok(ch.code);
    }
    Ok(store::channels::till_of(&mut conn, store)
        .await?
        .unwrap_or_else(|| format!("pos-{}", store.to_lowercase())))
}

/// Returns taken in another store than the one that sold: refunds, store credit, exchanges.
async fn returns(w: &World<'_>, sold: &[Order], dice: &mut Dice) -> Result<(), Error> {
    for (n, order) in sold.iter().take(16).enumerate() {
        let at = order
            .location
            .clone()
            .unwrap_or_else(|| w.stores[0].clone());
        let other = w.stores.iter().find(|s| **s != at).cloned().unwrap_or(at);
        let method = match n % 4 {
            0 | 1 => RefundMethod::OriginalPayment,
            2 => RefundMethod::StoreCredit,
            _ => RefundMethod::Exchange,
        };
        let exchange_lines = if method == RefundMethod::Exchange {
            let skus =
                store::stock::skus_promisable_at(&mut w.db().read().await?, &other, 1).await?;
            Some(vec![Line {
                sku: dice.pick(&skus).clone(),
                quantity: 1,
            }])
        } else {
            None
        };
        let req = ReturnRequest {
            order: order.id.clone(),
            location: Some(other.clone()),
            by_mail: false,
            refund_shipping: false,
            lines: vec![ReturnLineIn {
                line_no: order.lines[0].line_no,
                quantity: 1,
                condition: if n % 5 == 4 {
                    Condition::Damaged
                } else {
                    Condition::Resellable
                },
            }],
            method,
            exchange_lines,
        };
        let staff: Principal = acting(Scope::Store(other));
        kept::<Return, _>(|k| {
            app::returns::record(w.reference, &w.payments, &staff, (req, 30), None, k)
        })
        .await?;
    }
    Ok(())
}
