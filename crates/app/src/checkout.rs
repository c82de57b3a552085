//! Checkout: a cart becomes one order per fulfilment mode and store, placed together — all
//! or none. Every line is priced at the channel's price and its stock held (a cart line's
//! hold is adopted when it covers the line); a ship order goes to an address or a store by a
//! shipping method whose fee it pays ([`crate::shipping`]), routed to the best locations with
//! the decision on the order. Paid parts are charged through the payment provider
//! before the command; a decline places nothing, and a refusal after a charge voids it.
//! Testable without HTTP: the API, the demo and the benchmarks call [`checkout`].

use std::collections::BTreeMap;

use catalog::location::Capability;
use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::FulfilmentMode;
use orders::payment::{Authorisation, PaymentMethod, PaymentProvider};
use orders::routing::{Candidate, route};
use store::carts::Cart;
use store::orders::{NewOrder, NewOrderLine, NewPayment, Order};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::{Principal, forbidden};
use crate::pricing::{self, Pricing};
use crate::reference::Reference;

/// What checkout works with besides the database.
pub struct Context<'a, P> {
    pub db: &'a Db,
    pub reference: &'a Reference,
    pub payments: &'a P,
    /// How long holds live, per purpose (a reservation's deadline follows).
    pub hold_ttls: inventory::HoldTtls,
}

/// A checkout, as parsed from a request.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub mode: FulfilmentMode,
    /// The store: where to collect, try, or the kiosk's or till's. Not for ship.
    pub location: Option<String>,
    pub payment: Option<PaymentChoice>,
    /// Where a ship order goes.
    pub ship_to: Option<ShipTo>,
    /// How it goes (a shipping method's code); the first offered that goes there otherwise.
    pub shipping_method: Option<String>,
    /// The signed-in customer, when the cart is anonymous.
    pub customer_id: Option<String>,
    /// Lines fulfilled otherwise than `mode` and `location`.
    pub lines: Option<Vec<LineChoice>>,
    /// Coupon codes presented; each must apply, or nothing is placed.
    pub coupons: Vec<String>,
}

/// How a checkout is paid.
#[derive(Debug, Clone)]
pub struct PaymentChoice {
    /// `provider` (a card token) or `pay_in_store`.
    pub method: Option<String>,
    pub token: Option<String>,
    /// Store credit to spend first.
    pub store_credit_id: Option<String>,
    /// A gift card to spend (after store credit): its code and PIN.
    pub gift_card: Option<(String, String)>,
    /// Loyalty points to pay with (after stored value), at what the programme says a point
    /// pays.
    pub points: Option<i64>,
}

pub use crate::shipping::ShipTo;

/// How one cart line is fulfilled, when not as the rest of the checkout.
#[derive(Debug, Clone)]
pub struct LineChoice {
    pub sku: String,
    pub mode: FulfilmentMode,
    pub location: Option<String>,
}

/// The channel's current prices of a cart's lines.
pub async fn cart_prices(db: &Db, cart: &Cart) -> Result<BTreeMap<String, i64>, Error> {
    let skus: Vec<String> = cart.lines.iter().map(|l| l.sku.clone()).collect();
    Ok(
        store::prices::channel_prices(db, &cart.channel, cart.currency, &skus)
            .await?
            .into_iter()
            .map(|(sku, p)| (sku, p.amount_minor))
            .collect(),
    )
}

/// Places cart `id` as orders by `b`, as `principal`; `render` makes the response from the
/// placed orders (the first is the answer, the others its companions). Answers it with the
/// gift cards sold, their codes and PINs for this answer only: they are kept nowhere, not even
/// in the idempotency record (a replay answers none).
pub async fn checkout<P: PaymentProvider>(
    cx: &Context<'_, P>,
    principal: &Principal,
    id: &str,
    b: CheckoutRequest,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Vec<Order>) -> StoredResponse + Send + 'static,
) -> Result<(StoredResponse, Vec<crate::stored_value::IssuedCard>), Error> {
    if let Some(k) = &idempotency
        && let Some(first) = cx.db.previous_response(k).await?
    {
        return Ok((first, Vec::new()));
    }
    let actor = principal.key_id.clone();
    let (cart, prices) = priced_cart(cx.db, id).await?;
    let customer = b.customer_id.clone().or(cart.customer_id.clone());
    let pricing = pricing::read(
        cx.reference,
        cart.currency,
        prices,
        customer.as_deref(),
        &b.coupons,
    )
    .await?;
    if let Some((code, why)) = pricing.refused.first() {
        return Err(coupon_refused(code, why));
    }
    let cards = gift_cards_sold(pricing.facts(), &cart, &b).await?;
    let (orders, charges) = plan_all(cx, principal, &cart, pricing, &b).await?;
    let now = crate::clock::now();
    let issued = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let opened = issued.clone();
    let placed = cx
        .db
        .write_once(
            idempotency,
            move |c| {
                Box::pin(async move {
                    let placed = store::orders::place_all(c, &orders, &actor, now).await?;
                    for order in &placed {
                        crate::loyalty::settle_order(c, order, &actor).await?;
                    }
                    let cards = crate::stored_value::open_sold(c, &placed, &cards, &actor, now);
                    *opened.lock().unwrap_or_else(|e| e.into_inner()) = cards.await?;
                    Ok(placed)
                })
            },
            render,
        )
        .await;
    if placed.is_err() {
        // The charges must not outlive orders that were not placed.
        void_all(cx.payments, &charges).await;
    }
    let issued = std::mem::take(&mut *issued.lock().unwrap_or_else(|e| e.into_inner()));
    placed.map(|response| match response.replayed {
        true => (response, Vec::new()),
        false => (response, issued),
    })
}

/// The gift cards the cart sells, their codes made ahead (none are reserved).
async fn gift_cards_sold(
    facts: &BTreeMap<String, store::catalog::ItemFacts>,
    cart: &Cart,
    b: &CheckoutRequest,
) -> Result<Vec<crate::stored_value::Prepared>, Error> {
    let lines: Vec<(String, i64)> = cart
        .lines
        .iter()
        .map(|l| (l.sku.clone(), l.quantity))
        .collect();
    let reserved = |sku: &str| {
        let chosen = b.lines.iter().flatten().find(|l| l.sku == sku);
        chosen.map_or(b.mode, |l| l.mode) == FulfilmentMode::Reserve
    };
    crate::stored_value::prepare(facts, &lines, reserved).await
}

/// The active cart `id` with its channel's price for every line, or why it cannot be sold.
async fn priced_cart(db: &Db, id: &str) -> Result<(Cart, BTreeMap<String, i64>), Error> {
    let cart = store::carts::get_cart(db, id).await?;
    if cart.status != store::carts::CartStatus::Active {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("the cart is {}, not active", cart.status.as_str()),
        )
        .with("order_id", cart.order_id.clone()));
    }
    if cart.lines.is_empty() {
        return Err(Error::validation("lines", "the cart is empty"));
    }
    let prices = cart_prices(db, &cart).await?;
    if let Some(missing) = cart.lines.iter().find(|l| !prices.contains_key(&l.sku)) {
        return Err(Error::validation(
            "lines",
            format!(
                "`{}` has no {} price; it cannot be sold",
                missing.sku,
                cart.currency.code()
            ),
        )
        .with("sku", missing.sku.clone()));
    }
    Ok((cart, prices))
}

/// Plans every order of the checkout, charging the paid ones; answers them with the provider
/// references charged. A refusal after a charge voids what was charged for earlier parts.
async fn plan_all<P: PaymentProvider>(
    cx: &Context<'_, P>,
    principal: &Principal,
    cart: &Cart,
    mut pricing: Pricing,
    b: &CheckoutRequest,
) -> Result<(Vec<NewOrder>, Vec<String>), Error> {
    let parts = split_by_fulfilment(cart, b.mode, b.location.as_deref(), b.lines.as_deref())?;
    let customer_id = b.customer_id.clone().or(cart.customer_id.clone());
    // A cart line's hold goes with the first allocation of its SKU: adopted when it holds
    // exactly those units there, released otherwise (never left to expire on its own).
    let mut cart_holds: BTreeMap<String, String> = cart
        .lines
        .iter()
        .filter_map(|l| l.hold_id.clone().map(|h| (l.sku.clone(), h)))
        .collect();
    let mut orders = Vec::with_capacity(parts.len());
    let mut charges: Vec<String> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let first_and_alone = (i == 0, parts.len() == 1);
        let planned = plan_order(
            cx,
            principal,
            cart,
            part,
            b,
            &pricing,
            &mut cart_holds,
            customer_id.clone(),
            first_and_alone.0,
            first_and_alone.1,
        )
        .await;
        let planned = match planned {
            Ok(p) => p,
            Err(e) => {
                void_all(cx.payments, &charges).await;
                return Err(e);
            }
        };
        charges.extend(
            planned
                .payments
                .iter()
                .filter(|p| p.method == PaymentMethod::Provider)
                .filter_map(|p| p.provider_ref.clone()),
        );
        for code in planned
            .promotions
            .iter()
            .filter_map(|a| a.coupon.as_deref())
        {
            pricing.spend(code);
        }
        orders.push(planned);
    }
    // A code presented is applied, or the customer is told why not (and nothing is charged).
    if let Err(e) = every_code_applied(principal, cart, b, &pricing) {
        void_all(cx.payments, &charges).await;
        return Err(e);
    }
    Ok((orders, charges))
}

/// Refuses a checkout where a code presented went to none of its orders, saying why it did
/// not apply to the basket.
fn every_code_applied(
    principal: &Principal,
    cart: &Cart,
    b: &CheckoutRequest,
    pricing: &Pricing,
) -> Result<(), Error> {
    let Some(code) = pricing.usable_codes().next() else {
        return Ok(());
    };
    let lines: Vec<(String, i64)> = cart
        .lines
        .iter()
        .map(|l| (l.sku.clone(), l.quantity))
        .collect();
    let channel = principal.own_channel().unwrap_or(&cart.channel);
    let now = crate::clock::now();
    let priced = pricing.price(channel, b.location.as_deref(), &lines, 0, now);
    let why = priced
        .skipped
        .iter()
        .find(|s| s.coupon.as_deref() == Some(code))
        .map_or("does not apply to this basket", |s| s.reason.as_str());
    Err(coupon_refused(code, why))
}

/// A coupon code presented that cannot be used, and why.
fn coupon_refused(code: &str, why: &str) -> Error {
    Error::new(ErrorCode::Conflict, format!("the coupon {code}: {why}"))
        .with("coupon", code)
        .with("reason", why)
}

/// Voids provider authorisations (orders that were not placed).
async fn void_all<P: PaymentProvider>(payments: &P, references: &[String]) {
    for reference in references {
        if let Err(e) = payments.void(reference).await {
            tracing::error!(error = %e, %reference, "could not void an authorisation");
        }
    }
}

/// One order of a checkout: the lines fulfilled one way, at one store (or shipped).
#[derive(Debug, Clone)]
struct Part {
    mode: FulfilmentMode,
    location: Option<String>,
    lines: Vec<store::carts::CartLine>,
}

/// Splits the cart by fulfilment: every line takes the checkout's mode and store unless
/// `choices` names another for its SKU; lines with the same mode and store form one order.
fn split_by_fulfilment(
    cart: &Cart,
    mode: FulfilmentMode,
    location: Option<&str>,
    choices: Option<&[LineChoice]>,
) -> Result<Vec<Part>, Error> {
    let choices = choices.unwrap_or_default();
    for (i, c) in choices.iter().enumerate() {
        if !cart.lines.iter().any(|l| l.sku == c.sku) {
            return Err(Error::validation(
                &format!("lines[{i}].sku"),
                format!("`{}` is not in the cart", c.sku),
            ));
        }
        if choices[..i].iter().any(|d| d.sku == c.sku) {
            return Err(Error::validation(
                &format!("lines[{i}].sku"),
                format!("`{}` is named twice", c.sku),
            ));
        }
    }
    let mut parts: Vec<Part> = Vec::new();
    for line in &cart.lines {
        let (m, at) = match choices.iter().find(|c| c.sku == line.sku) {
            Some(c) => (c.mode, c.location.clone()),
            None => (mode, location.map(str::to_owned)),
        };
        match parts.iter_mut().find(|p| p.mode == m && p.location == at) {
            Some(p) => p.lines.push(line.clone()),
            None => parts.push(Part {
                mode: m,
                location: at,
                lines: vec![line.clone()],
            }),
        }
    }
    Ok(parts)
}

/// Plans one part of a checkout: where its lines are held, its price, its payment (charged
/// now for paid modes).
#[allow(clippy::too_many_arguments)]
async fn plan_order<P: PaymentProvider>(
    cx: &Context<'_, P>,
    principal: &Principal,
    cart: &Cart,
    part: &Part,
    b: &CheckoutRequest,
    pricing: &Pricing,
    cart_holds: &mut BTreeMap<String, String>,
    customer_id: Option<String>,
    first: bool,
    alone: bool,
) -> Result<NewOrder, Error> {
    let mode = part.mode;
    let prices = &pricing.list;
    orders::cart::total(part.lines.iter().map(|l| (prices[&l.sku], l.quantity)))?;
    let order_channel = principal.own_channel().unwrap_or(&cart.channel);
    let delivery = match mode {
        FulfilmentMode::Ship => {
            Some(delivery_of(cx, order_channel, b, customer_id.as_deref(), cart.currency).await?)
        }
        _ => None,
    };
    let (location, allocations, routing) = plan_fulfilment(
        cx,
        principal,
        mode,
        part.location.as_deref(),
        delivery.as_ref().and_then(|d| d.0.coordinates),
        &part.lines,
    )
    .await?;
    // In a split basket the payment is for the paid parts; a reservation part takes none,
    // and stored value and points pay toward the first part only (one spend per checkout).
    let payment_in = match (mode, alone) {
        (FulfilmentMode::Reserve, false) => None,
        _ => b.payment.clone().map(|mut p| {
            if !first {
                p.store_credit_id = None;
                p.gift_card = None;
                p.points = None;
            }
            p
        }),
    };
    let channel = principal.own_channel().map(str::to_owned);
    let now = crate::clock::now();
    let wanted: Vec<(String, i64)> = part
        .lines
        .iter()
        .map(|l| (l.sku.clone(), l.quantity))
        .collect();
    let locations = cx.reference.locations().await?;
    // Taxed where the goods are handed over: the store, or where a parcel leaves from
    // (where it goes, for a country whose VAT the retailer charges).
    let taxed_at = location.as_ref().or(allocations.first().map(|a| &a.2));
    let country = taxed_at
        .and_then(|code| locations.get(code))
        .map(|l| l.address.country.clone());
    let (priced, shipping, country) = match &delivery {
        None => {
            let priced = pricing.price(order_channel, location.as_deref(), &wanted, 0, now);
            (priced, None, country)
        }
        Some((to, method)) => {
            let country = crate::shipping::tax_country(pricing, to, country.as_deref());
            let how = (method, to);
            let d = crate::shipping::price_delivery(
                pricing,
                order_channel,
                &wanted,
                how,
                country.as_deref(),
                now,
            )?;
            (d.priced, Some(d.shipping), country)
        }
    };
    let taxed = Taxed {
        pricing,
        priced: &priced,
        country: country.as_deref(),
    };
    let lines = order_lines(cx, channel.as_deref(), mode, taxed, allocations, cart_holds).await?;
    let total: i64 = lines
        .iter()
        .map(|l| l.unit_price_minor * l.quantity - discount_of(l) + l.tax_added_minor)
        .sum::<i64>()
        + shipping.as_ref().map_or(0, |s| s.paid_minor());
    let payer = (customer_id.as_deref(), cart.currency);
    let payment = take_payment(cx, mode, payment_in, payer, total).await?;
    let deadline_at = (mode == FulfilmentMode::Reserve)
        .then(|| Timestamp::from_unix_ms(now.unix_ms() + cx.hold_ttls.reserve_s * 1000));
    let hold_ttl_s = match mode {
        // Past the reservation's deadline: the order sweep, not the hold sweep, ends it.
        FulfilmentMode::Reserve => cx.hold_ttls.reserve_s + 3600,
        _ => inventory::hold::MAX_TTL_S,
    };
    let owner = location
        .as_ref()
        .and_then(|code| locations.get(code))
        .map(|l| l.owner.clone());
    Ok(NewOrder {
        customer_id,
        cart: Some(store::orders::FromCart {
            id: cart.id.clone(),
            version: cart.version,
            close: first,
        }),
        channel: channel.clone().unwrap_or_else(|| cart.channel.clone()),
        hold_channel: channel,
        mode,
        owner,
        location,
        currency: cart.currency,
        lines,
        payments: payment,
        deadline_at,
        hold_ttl_s,
        routing,
        exchange_of: None,
        limited_per_customer: pricing.limited_per_customer(&priced.applied),
        promotions: priced.applied,
        tax_country: country,
        shipping,
    })
}

/// Where a ship order goes and by which method.
async fn delivery_of<P: PaymentProvider>(
    cx: &Context<'_, P>,
    channel: &str,
    b: &CheckoutRequest,
    customer: Option<&str>,
    currency: Currency,
) -> Result<
    (
        crate::shipping::Destination,
        orders::delivery::ShippingMethod,
    ),
    Error,
> {
    let to = b.ship_to.as_ref().ok_or_else(|| {
        Error::validation(
            "ship_to",
            "a ship order says where it goes: `address`, `address_id` or `store`",
        )
    })?;
    let to = crate::shipping::destination(cx.reference, customer, to).await?;
    let methods = cx.reference.shipping_methods().await?;
    let asked = b.shipping_method.as_deref();
    let method = crate::shipping::choose(&methods, channel, asked, &to, currency)?.clone();
    Ok((to, method))
}

fn discount_of(line: &NewOrderLine) -> i64 {
    line.discounts.iter().map(|d| d.amount_minor).sum()
}

/// What the lines of one order are priced and taxed with.
#[derive(Clone, Copy)]
struct Taxed<'a> {
    pricing: &'a Pricing,
    priced: &'a promotions::PricedBasket,
    country: Option<&'a str>,
}

/// The order's lines, one per allocation: list price, its share of the SKU's discounts, the
/// VAT of what it costs, and the cart's hold when there is one to adopt.
async fn order_lines<P: PaymentProvider>(
    cx: &Context<'_, P>,
    channel: Option<&str>,
    mode: FulfilmentMode,
    taxed: Taxed<'_>,
    allocations: Vec<(String, i64, String)>,
    cart_holds: &mut BTreeMap<String, String>,
) -> Result<Vec<NewOrderLine>, Error> {
    let mut discounts = pricing::discounts_by_allocation(taxed.priced, &allocations).into_iter();
    let mut lines = Vec::with_capacity(allocations.len());
    for (sku, quantity, at) in allocations {
        let cart_hold = cart_holds.remove(&sku);
        // The policy check is made here from the reference cache, off the single writer.
        let checked_channel_safety = match channel {
            Some(c) => cx.reference.hold_safety(c, &at, mode.hold_purpose()).await,
            None => None,
        };
        let unit_price_minor = taxed.pricing.list[&sku];
        let discounts = discounts.next().unwrap_or_default();
        let paid =
            unit_price_minor * quantity - discounts.iter().map(|d| d.amount_minor).sum::<i64>();
        let tax = taxed.pricing.tax_line(taxed.country, &sku, paid)?;
        lines.push(NewOrderLine {
            unit_price_minor,
            discounts,
            tax_rate_bp: tax.rate_bp,
            tax_minor: tax.tax_minor,
            tax_added_minor: tax.added_minor,
            sku,
            quantity,
            location: at,
            cart_hold,
            checked_channel_safety,
        });
    }
    Ok(lines)
}

/// Where each line is fulfilled: `(sku, quantity, location)` per allocation, the order's
/// store (all modes but ship), and the ship-from explanation.
async fn plan_fulfilment<P: PaymentProvider>(
    cx: &Context<'_, P>,
    principal: &Principal,
    mode: FulfilmentMode,
    location: Option<&str>,
    ship_to: Option<catalog::location::Coordinates>,
    cart_lines: &[store::carts::CartLine],
) -> Result<
    (
        Option<String>,
        Vec<(String, i64, String)>,
        Option<serde_json::Value>,
    ),
    Error,
> {
    let locations = cx.reference.locations().await?;
    if mode == FulfilmentMode::Ship {
        if location.is_some() {
            return Err(Error::validation(
                "location",
                "a ship order is routed; do not name a store",
            ));
        }
        let wanted: BTreeMap<String, i64> = cart_lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect();
        let candidates = ship_candidates(cx, principal, &wanted, ship_to, &locations).await?;
        let routing = route(&wanted, &candidates).map_err(|u| {
            Error::new(
                ErrorCode::InsufficientStock,
                "no set of locations can ship every item",
            )
            .with("missing", serde_json::json!(u.missing))
        })?;
        let allocations = routing
            .allocations
            .iter()
            .map(|a| (a.sku.clone(), a.quantity, a.location.clone()))
            .collect();
        return Ok((None, allocations, Some(serde_json::json!(routing))));
    }
    let code = match location {
        Some(code) => code.to_owned(),
        None => bound_store(cx.db, principal).await?.ok_or_else(|| {
            Error::validation(
                "location",
                format!("a {} order names its store", mode.as_str()),
            )
        })?,
    };
    let place = locations
        .get(&code)
        .ok_or_else(|| Error::unknown_reference("location", "location", &code))?;
    let needed = match mode {
        FulfilmentMode::Pickup => Some(Capability::Pickup),
        FulfilmentMode::Reserve => Some(Capability::Reserve),
        _ => None,
    };
    if let Some(cap) = needed
        && !place.capabilities.contains(&cap)
    {
        return Err(Error::validation(
            "location",
            format!("{code} does not offer {}", mode.as_str()),
        ));
    }
    // Only kiosk and till orders need to know where the key stands (a lookup for channel keys).
    if matches!(mode, FulfilmentMode::Counter | FulfilmentMode::CarryOut)
        && !principal.can_access_store(&code)
        && bound_store(cx.db, principal).await?.as_deref() != Some(code.as_str())
    {
        return Err(forbidden(
            "kiosk and till orders are placed with the store's key or a channel bound to the store",
        ));
    }
    if !place.active {
        return Err(Error::validation("location", format!("{code} is closed")));
    }
    let allocations = cart_lines
        .iter()
        .map(|l| (l.sku.clone(), l.quantity, code.clone()))
        .collect();
    Ok((Some(code), allocations, None))
}

/// The store a key works at: a store key's store, or the store its channel is bound to (a
/// kiosk's, a till's).
pub(crate) async fn bound_store(db: &Db, principal: &Principal) -> Result<Option<String>, Error> {
    if let Some(store) = principal.store_only() {
        return Ok(Some(store.to_owned()));
    }
    let Some(channel) = principal.own_channel() else {
        return Ok(None);
    };
    let found = store::channels::find_channel(&mut db.read().await?, channel).await?;
    Ok(found.and_then(|c| c.location_code))
}

/// Locations that may ship, with what each can promise of the wanted SKUs.
async fn ship_candidates<P: PaymentProvider>(
    cx: &Context<'_, P>,
    principal: &Principal,
    wanted: &BTreeMap<String, i64>,
    to: Option<catalog::location::Coordinates>,
    locations: &std::collections::HashMap<String, catalog::Location>,
) -> Result<Vec<Candidate>, Error> {
    let policy = match principal.own_channel() {
        Some(c) => Some(cx.reference.policy(c).await?),
        None => None,
    };
    let mut by_location: BTreeMap<String, Candidate> = BTreeMap::new();
    for sku in wanted.keys() {
        for stock in store::stock::variant_stock(cx.db, sku).await? {
            let Some(place) = locations.get(&stock.location) else {
                continue;
            };
            if !place.active || !place.capabilities.contains(&Capability::ShipFrom) {
                continue;
            }
            let mut safety = 0;
            if let (Some(p), Some(channel)) = (&policy, principal.own_channel()) {
                let site = inventory::sourcing::Site {
                    code: &place.code,
                    kind: place.kind,
                    capabilities: &place.capabilities,
                    active: place.active,
                };
                match p
                    .policy
                    .check_hold(channel, site, inventory::HoldPurpose::Ship)
                {
                    Ok(channel_safety) => safety = channel_safety,
                    Err(_) => continue,
                }
            }
            let atp = (stock.level.atp() - safety).max(0);
            let c = by_location
                .entry(place.code.clone())
                .or_insert_with(|| Candidate {
                    code: place.code.clone(),
                    is_warehouse: place.kind == catalog::location::LocationKind::Warehouse,
                    distance_km: to.as_ref().map(|t| place.coordinates.distance_km(t)),
                    atp: BTreeMap::new(),
                });
            c.atp.insert(sku.clone(), atp);
        }
    }
    Ok(by_location.into_values().collect())
}

/// Charges a paid mode through the provider; a reservation pays nothing now; a POS sale is
/// recorded as paid at the till unless it names a card.
async fn take_payment<P: PaymentProvider>(
    cx: &Context<'_, P>,
    mode: FulfilmentMode,
    payment: Option<PaymentChoice>,
    (customer, currency): (Option<&str>, Currency),
    total: i64,
) -> Result<Vec<NewPayment>, Error> {
    if mode == FulfilmentMode::Reserve {
        if payment.is_some() {
            return Err(Error::validation(
                "payment",
                "a reservation is paid at the till, not now",
            ));
        }
        return Ok(vec![]);
    }
    let mut payment = payment.unwrap_or(PaymentChoice {
        method: None,
        token: None,
        store_credit_id: None,
        gift_card: None,
        points: None,
    });
    let mut taken = stored_value_parts(cx.db, &mut payment, total).await?;
    let mut total = total - taken.iter().map(|p| p.amount_minor).sum::<i64>();
    if total == 0 {
        return Ok(taken);
    }
    if let Some(points) = payment.points.take() {
        let value = points_paying(cx.db, customer, points, total).await?;
        taken.push(NewPayment {
            method: PaymentMethod::LoyaltyPoints,
            amount_minor: value,
            provider_ref: None,
        });
        total -= value;
        if total == 0 {
            return Ok(taken);
        }
    }
    let rest = take_rest(cx, mode, payment, currency, total).await?;
    taken.extend(rest);
    Ok(taken)
}

/// What store credit, then a gift card, pay toward `total`: what each holds now (the command
/// spends it with a conditional write, so value spent meanwhile refuses the order and voids
/// the card part).
async fn stored_value_parts(
    db: &Db,
    payment: &mut PaymentChoice,
    total: i64,
) -> Result<Vec<NewPayment>, Error> {
    let mut parts = Vec::new();
    let mut left = total;
    if let Some(credit_id) = payment.store_credit_id.take() {
        let credit = store::stored_value::find(&mut db.read().await?, &credit_id)
            .await?
            .filter(|a| a.kind == store::stored_value::Kind::Credit)
            .ok_or_else(|| {
                Error::unknown_reference("payment.store_credit_id", "store credit", &credit_id)
            })?;
        let part = credit.balance_minor.min(left);
        if part > 0 {
            parts.push(NewPayment {
                method: PaymentMethod::StoreCredit,
                amount_minor: part,
                provider_ref: Some(credit_id),
            });
            left -= part;
        }
    }
    if let Some((code, pin)) = payment.gift_card.take()
        && left > 0
    {
        let card = crate::stored_value::present(db, "payment.gift_card", &code, &pin).await?;
        if !card.spendable(crate::clock::now()) {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "the gift card is {} with {} left",
                    card.status, card.balance_minor
                ),
            )
            .with("gift_card_id", card.id));
        }
        let part = card.balance_minor.min(left);
        if part > 0 {
            parts.push(NewPayment {
                method: PaymentMethod::GiftCard,
                amount_minor: part,
                provider_ref: Some(card.id),
            });
        }
    }
    Ok(parts)
}

/// What `points` pay toward `total`: checked against the member's balance now (the command
/// spends them with a conditional write, so points spent meanwhile refuse the order).
async fn points_paying(
    db: &Db,
    customer: Option<&str>,
    points: i64,
    total: i64,
) -> Result<i64, Error> {
    let value = crate::loyalty::check_spend(&mut db.read().await?, customer, points).await?;
    if value > total {
        return Err(Error::validation(
            "payment.points",
            format!("{points} points pay {value}, more than the {total} left to pay"),
        )
        .with("value_minor", value));
    }
    Ok(value)
}

/// The part of a payment not covered by store credit or points: card through the provider, or the
/// till for a POS sale.
async fn take_rest<P: PaymentProvider>(
    cx: &Context<'_, P>,
    mode: FulfilmentMode,
    payment: PaymentChoice,
    currency: Currency,
    total: i64,
) -> Result<Option<NewPayment>, Error> {
    let method = match payment.method.as_deref() {
        None if mode == FulfilmentMode::CarryOut && payment.token.is_none() => {
            PaymentMethod::PayInStore
        }
        None | Some("provider") => PaymentMethod::Provider,
        Some("pay_in_store") if mode == FulfilmentMode::CarryOut => PaymentMethod::PayInStore,
        Some(other) => {
            return Err(Error::validation(
                "payment.method",
                format!(
                    "`{other}` is not a payment method for a {} order",
                    mode.as_str()
                ),
            ));
        }
    };
    if total == 0 {
        return Ok(None);
    }
    if method == PaymentMethod::PayInStore {
        return Ok(Some(NewPayment {
            method,
            amount_minor: total,
            provider_ref: None,
        }));
    }
    let token = payment
        .token
        .filter(|t| !t.trim().is_empty() && t.len() <= 200)
        .ok_or_else(|| {
            Error::validation("payment.token", "a card payment needs the provider's token")
        })?;
    match cx.payments.authorise(&token, &currency, total).await? {
        Authorisation::Approved { reference } => {
            cx.payments.capture(&reference, total).await?;
            Ok(Some(NewPayment {
                method,
                amount_minor: total,
                provider_ref: Some(reference),
            }))
        }
        Authorisation::Declined { reason } => {
            metrics::counter!("relais_payments_declined_total").increment(1);
            Err(Error::new(
                ErrorCode::PaymentDeclined,
                format!("the payment was declined: {reason}"),
            )
            .with("reason", reason))
        }
    }
}
