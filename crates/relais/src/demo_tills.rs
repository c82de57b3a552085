//! The demo's gift cards and offline till. Élan Sport sells a 50 € gift card on every
//! channel; six were bought (at the Lyon till and on the web) and half of them since spent
//! in part. Lyon's first till lost its connection yesterday morning: its batch of offline
//! sales came in with a member paying with more points than they held, and a pair of shoes
//! that was promised to a web order meanwhile — both wait in Lyon's queue.

use std::collections::BTreeMap;

use app::checkout::{CheckoutRequest, Context, PaymentChoice};
use app::tills::{Batch, Operation, TillPayment, TillSale};
use app::{Principal, Scope};
use catalog::product::{NewProduct, NewVariant, Product};
use inventory::MovementKind;
use kernel::{Currency, Error, Timestamp};
use orders::FulfilmentMode;
use orders::cart::Line;
use orders::payment::TestProvider;
use pricing::BasePrice;
use store::carts::Cart;
use store::stock::{Movement, NewMovement};
use store::tills::SaleLine;
use store::{Db, StoredResponse};

use crate::demo_calls::{acting, kept};

const CARD_SKU: &str = "CARTE-CADEAU-50";
const LYON: &str = "LYS-BELLECOUR";

/// The gift card on sale, six sold, three spent in part; then Lyon's offline batch.
pub(crate) async fn seed(reference: &app::reference::Reference) -> Result<(), Error> {
    let db = reference.db();
    let admin = acting(Scope::Admin);
    gift_card_on_sale(db, &admin).await?;
    let payments = TestProvider::default();
    let cx = Context {
        db,
        reference,
        payments: &payments,
        hold_ttls: inventory::HoldTtls::default(),
    };
    let mut cards = Vec::new();
    for i in 0..6 {
        let channel = if i % 2 == 0 {
            "pos-lys-bellecour"
        } else {
            "web"
        };
        cards.push(sell_card(&cx, channel).await?);
    }
    for (code, pin) in cards.iter().step_by(2) {
        spend_card(&cx, code, pin).await?;
    }
    offline_batch(db, &payments).await
}

async fn gift_card_on_sale(db: &Db, admin: &Principal) -> Result<(), Error> {
    let product = NewProduct {
        title: "Carte cadeau Élan Sport 50 €".into(),
        description: Some(
            "Valable deux ans dans tous nos magasins, sur le site et l'appli.".into(),
        ),
        brand: Some("Élan Sport".into()),
        category: "gift-cards".into(),
        tax_category: None,
        attributes: BTreeMap::from([
            ("stored_value".to_owned(), "gift_card".to_owned()),
            ("valid_months".to_owned(), "24".to_owned()),
        ]),
        images: vec![],
        variants: vec![NewVariant {
            sku: CARD_SKU.into(),
            // Far past the catalogue's serials, in the same company prefix.
            gtin: Some(
                catalog::gtin::Gtin::gtin13_from_body(376_042_199_999).as_str()[1..].to_string(),
            ),
            title: None,
            attributes: BTreeMap::new(),
            weight_grams: Some(10),
        }],
    };
    kept::<Product, _>(|k| app::catalog::create_product(db, admin, product, None, k)).await?;
    let price = BasePrice {
        sku: CARD_SKU.into(),
        currency: Currency::EUR,
        amount_minor: 5000,
        updated_at: app::clock::now(),
    };
    kept::<BasePrice, _>(|k| app::prices::set_base_price(db, admin, price, None, k)).await?;
    let carriers = NewMovement {
        sku: CARD_SKU.into(),
        location: LYON.into(),
        kind: MovementKind::Receipt,
        quantity: 200,
        reason: "gift card carriers".into(),
        reference: None,
        client_key: None,
    };
    kept::<(Movement, inventory::Level), _>(|k| {
        app::stock::record_movement(db, admin, carriers, None, k)
    })
    .await?;
    Ok(())
}

/// Checks a cart of `lines` out on `channel`; answers the gift cards it sold.
async fn buy(
    cx: &Context<'_, TestProvider>,
    channel: &str,
    lines: Vec<Line>,
    request: CheckoutRequest,
) -> Result<Vec<app::stored_value::IssuedCard>, Error> {
    let key = acting(Scope::Channel(channel.into()));
    let cart = app::carts::CartRequest {
        customer_id: None,
        channel: None,
        currency: Currency::EUR,
        lines,
    };
    let cart = kept::<Cart, _>(|k| app::carts::create(cx.db, &key, cart, None, k)).await?;
    let render = |_: Vec<store::orders::Order>| StoredResponse {
        status: 201,
        body: String::new(),
        replayed: false,
    };
    let (_, cards) = app::checkout::checkout(cx, &key, &cart.id, request, None, render).await?;
    Ok(cards)
}

fn request(mode: FulfilmentMode, payment: PaymentChoice) -> CheckoutRequest {
    CheckoutRequest {
        mode,
        location: Some(LYON.into()),
        payment: Some(payment),
        ship_to: None,
        shipping_method: None,
        customer_id: None,
        lines: None,
        coupons: vec![],
    }
}

fn card_payment() -> PaymentChoice {
    PaymentChoice {
        method: None,
        token: Some("demo-card".into()),
        store_credit_id: None,
        gift_card: None,
        points: None,
    }
}

/// One 50 € card bought at the Lyon till or on the web (collected in Lyon); its code and PIN.
async fn sell_card(
    cx: &Context<'_, TestProvider>,
    channel: &str,
) -> Result<(String, String), Error> {
    let (mode, payment) = match channel {
        "web" => (FulfilmentMode::Pickup, card_payment()),
        _ => (
            FulfilmentMode::CarryOut,
            PaymentChoice {
                method: Some("pay_in_store".into()),
                ..card_payment()
            },
        ),
    };
    let line = Line {
        sku: CARD_SKU.into(),
        quantity: 1,
    };
    let sold = buy(cx, channel, vec![line], request(mode, payment)).await?;
    sold.into_iter()
        .next()
        .map(|c| (c.code, c.pin))
        .ok_or_else(|| Error::internal("a demo gift card sale opened no card"))
}

/// A web order paid first by the card (it pays what the order costs, up to what it holds).
async fn spend_card(cx: &Context<'_, TestProvider>, code: &str, pin: &str) -> Result<(), Error> {
    let mut conn = cx.db.read().await?;
    let skus = store::stock::skus_promisable_at(&mut conn, LYON, 2).await?;
    drop(conn);
    // From the end of the range: the first SKUs are what the import examples count.
    let Some(sku) = skus.into_iter().rev().find(|s| s != CARD_SKU) else {
        return Ok(());
    };
    let payment = PaymentChoice {
        gift_card: Some((code.to_owned(), pin.to_owned())),
        ..card_payment()
    };
    let line = Line { sku, quantity: 1 };
    buy(
        cx,
        "web",
        vec![line],
        request(FulfilmentMode::Pickup, payment),
    )
    .await?;
    Ok(())
}

/// Lyon's first till, offline yesterday morning: four sales, one by a member spending more
/// points than they hold, one of a unit held for a web order.
async fn offline_batch(db: &Db, payments: &TestProvider) -> Result<(), Error> {
    let lyon = acting(Scope::Store(LYON.into()));
    let mut conn = db.read().await?;
    let member = store::loyalty::richest(&mut conn, 400)
        .await?
        .into_iter()
        .find(|m| m.balance < 1999);
    let level = store::stock::held_at(&mut conn, LYON).await?;
    let skus = store::stock::skus_promisable_at(&mut conn, LYON, 3).await?;
    drop(conn);
    let yesterday = Timestamp::from_unix_ms(app::clock::now().unix_ms() - 20 * 3_600_000);
    let at = |minutes: i64| Timestamp::from_unix_ms(yesterday.unix_ms() + minutes * 60_000);
    let line = |sku: &str, quantity: i64, price: i64| SaleLine {
        sku: sku.into(),
        quantity,
        unit_price_minor: price,
        discount_minor: 0,
        tax_rate_bp: 2000,
        tax_minor: price * quantity / 6,
    };
    let sale =
        |n: i64, lines: Vec<SaleLine>, payments: Vec<TillPayment>, customer: Option<String>| {
            Operation::Sale(TillSale {
                receipt: format!("LYS-T01-{n:06}"),
                at: at(n * 7),
                currency: Currency::EUR,
                customer_id: customer,
                lines,
                payments,
                coupon: None,
            })
        };
    let cash = |amount_minor| TillPayment::Cash { amount_minor };
    let Some(sku) = skus.iter().rev().find(|s| *s != CARD_SKU) else {
        return Ok(());
    };
    let mut operations = vec![sale(1, vec![line(sku, 1, 2999)], vec![cash(2999)], None)];
    if let Some(m) = member {
        // Points pay a cent each: 19.99 € of points asked, fewer held.
        let paid = vec![TillPayment::Points { points: 1999 }, cash(1000)];
        operations.push(sale(2, vec![line(sku, 1, 2999)], paid, Some(m.customer_id)));
    }
    if let Some((sku, free)) = level {
        let sold = free + 1;
        let card = TillPayment::Card {
            amount_minor: 8999 * sold,
            reference: Some("TPE-LYS-1".into()),
        };
        operations.push(sale(3, vec![line(&sku, sold, 8999)], vec![card], None));
    }
    let batch = Batch {
        till: "LYS-T01".into(),
        location: LYON.into(),
        seq: 1,
        digest: "demo".into(),
        operations,
    };
    app::tills::apply_batch(db, payments, &lyon, batch).await?;
    Ok(())
}
