//! Lyon's regulars: a dozen of its customers who look at a product in the app, collect a web
//! order in Lyon (a third also reserve one to try on and buy it), and days later buy that
//! product at Lyon's till — the cross-channel
//! behaviour the KPIs measure (customers on two channels and their revenue, research online
//! and purchase offline), dated over the last weeks through [`app::clock::as_of`], every
//! step through the use cases with the channel's or the store's key.

use app::Scope;
use app::checkout::{CheckoutRequest, Context, PaymentChoice};
use app::clock::as_of;
use app::events::{Batch, Ingested};
use app::orders::TransitionRequest;
use app::reference::Reference;
use customers::CustomerEvent;
use kernel::{Currency, Error, Timestamp};
use orders::cart::Line;
use orders::payment::TestProvider;
use orders::{FulfilmentMode, Transition};
use store::carts::Cart;
use store::customers::ResolutionRules;
use store::orders::Order;

use crate::demo_calls::{acting, kept};

const LYON: &str = "LYS-BELLECOUR";
const REGULARS: usize = 12;
const DAY_MS: i64 = 86_400_000;

fn days_ago(days: i64, hours: i64) -> Timestamp {
    Timestamp::from_unix_ms(Timestamp::now().unix_ms() - days * DAY_MS - hours * 3_600_000)
}

fn payment(method: &str, token: Option<String>) -> Option<PaymentChoice> {
    Some(PaymentChoice {
        method: Some(method.into()),
        token,
        store_credit_id: None,
        gift_card: None,
        points: None,
    })
}

/// One order of `customer` for one unit of `sku` at Lyon, on `channel`, paid as `how`.
async fn order(
    cx: &Context<'_, TestProvider>,
    (channel, customer, sku): (&str, &str, &str),
    (mode, how): (FulfilmentMode, Option<PaymentChoice>),
) -> Result<Order, Error> {
    let key = acting(Scope::Channel(channel.into()));
    let cart = app::carts::CartRequest {
        customer_id: Some(customer.into()),
        channel: None,
        currency: Currency::EUR,
        lines: vec![Line {
            sku: sku.into(),
            quantity: 1,
        }],
    };
    let cart = kept::<Cart, _>(|k| app::carts::create(cx.db, &key, cart, None, k)).await?;
    let request = CheckoutRequest {
        mode,
        location: Some(LYON.into()),
        payment: how,
        ship_to: None,
        shipping_method: None,
        customer_id: Some(customer.into()),
        lines: None,
        coupons: Vec::new(),
    };
    let placed = kept::<Vec<Order>, _>(|k| async {
        let (answer, _) = app::checkout::checkout(cx, &key, &cart.id, request, None, k).await?;
        Ok(answer)
    })
    .await?;
    placed
        .into_iter()
        .next()
        .ok_or_else(|| Error::internal("no order placed"))
}

/// Lyon's associates move an order on: a pickup prepared, made ready and handed over with
/// its code; a reservation set aside, tried on and bought at the till.
async fn move_on(
    cx: &Context<'_, TestProvider>,
    id: &str,
    at: Timestamp,
    last: Transition,
) -> Result<(), Error> {
    let lyon = acting(Scope::Store(LYON.into()));
    for (step, hours) in [
        (Transition::StartPreparing, 1),
        (Transition::MarkReady, 2),
        (last, 26),
    ] {
        let pickup_code = match step {
            Transition::Collect => app::orders::reach(cx.db, &lyon, id).await?.pickup_code,
            _ => None,
        };
        let purchase = (step == Transition::Purchase).then(|| vec![(1, 1)]);
        let req = TransitionRequest {
            pickup_code,
            purchase,
            pickup_days: 7,
        };
        let when = Timestamp::from_unix_ms(at.unix_ms() + hours * 3_600_000);
        let moved = kept::<Order, _>(|k| {
            app::orders::transition(cx.db, cx.payments, &lyon, id.to_owned(), step, req, None, k)
        });
        as_of(when, moved).await?;
    }
    Ok(())
}

/// The customer looks at `sku` in the app, signed in (their e-mail names them).
async fn view(
    cx: &Context<'_, TestProvider>,
    customer: &str,
    sku: &str,
    at: Timestamp,
) -> Result<(), Error> {
    let identities = store::customers::identities(&mut cx.db.read().await?, customer).await?;
    let Some(who) = identities.into_iter().next() else {
        return Ok(());
    };
    let event = CustomerEvent {
        channel: "app".into(),
        kind: "product_view".into(),
        identifiers: vec![who.identifier],
        location_code: None,
        properties: serde_json::json!({"sku": sku})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        occurred_at: at,
    };
    let batch = Batch {
        valid: store::customer_events::ready(vec![(0, event)]),
        rejected: vec![],
        wait_resolved: true,
    };
    let key = acting(Scope::Channel("app".into()));
    let rules = ResolutionRules::default();
    kept::<Ingested, _>(|k| app::events::ingest(cx.db, rules, &key, batch, None, k)).await?;
    Ok(())
}

/// Seeds the regulars among `customers` (the first of them whose home store is Lyon).
pub async fn seed(reference: &Reference, customers: &[String]) -> anyhow::Result<()> {
    let payments = TestProvider::default();
    let cx = Context {
        db: reference.db(),
        reference,
        payments: &payments,
        hold_ttls: inventory::HoldTtls::default(),
    };
    let till = store::channels::till_of(&mut cx.db.read().await?, LYON)
        .await?
        .unwrap_or_else(|| "pos-lys-bellecour".into());
    let skus = store::stock::skus_promisable_at(&mut cx.db.read().await?, LYON, 3).await?;
    for (n, customer) in customers.iter().take(REGULARS).enumerate() {
        let Some(sku) = skus.get(n * 7 % skus.len().max(1)) else {
            break;
        };
        let days = 3 + 5 * n as i64;
        // Seen in the app, collected from the web, bought at the till within the week.
        view(&cx, customer, sku, days_ago(days + 3, 0)).await?;
        let web = (
            FulfilmentMode::Pickup,
            payment("provider", Some(format!("regular{n}"))),
        );
        let picked = as_of(
            days_ago(days + 2, 0),
            order(&cx, ("web", customer, sku), web),
        )
        .await?;
        move_on(&cx, &picked.id, days_ago(days + 2, 0), Transition::Collect).await?;
        if n % 3 == 0 {
            // Reserved on the web to try on, bought at the till.
            let reserve = (FulfilmentMode::Reserve, None);
            let tried = as_of(
                days_ago(days + 1, 0),
                order(&cx, ("web", customer, sku), reserve),
            )
            .await?;
            move_on(&cx, &tried.id, days_ago(days + 1, 0), Transition::Purchase).await?;
        }
        let till_sale = (FulfilmentMode::CarryOut, payment("pay_in_store", None));
        as_of(
            days_ago(days, 2),
            order(&cx, (&till, customer, sku), till_sale),
        )
        .await?;
    }
    Ok(())
}
