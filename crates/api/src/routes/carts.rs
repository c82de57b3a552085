//! `/v1/carts`: one cart seen from every channel, the sign-in merge, the kiosk-to-phone
//! handoff, and checkout into an order of any fulfilment mode.
//!
//! A cart's id is its token: whoever has it (the browser that started it, the app it was
//! handed to) may read and change it, with any key. A signed-in customer's active cart is
//! found with `GET /v1/customers/{id}/cart`. Checkout prices every line at the channel's
//! price, takes the payment through the provider (ship, pickup and counter orders are paid
//! online; a reservation is paid at the till; a POS sale by the till), and places the order
//! in one command — stock held, cart closed — or changes nothing.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use catalog::location::Capability;
use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::FulfilmentMode;
use orders::cart::Line;
use orders::payment::{Authorisation, PaymentMethod, PaymentProvider};
use orders::routing::{Candidate, route};
use serde::{Deserialize, Serialize};
use store::carts::{Cart, HoldAt, NewCart};
use store::orders::{NewOrder, NewOrderLine, NewPayment};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::orders::{FulfilmentModeDto, OrderDto, order_dto};
use super::{EmptyBody, IdempotencyHeader, reply, stored};
use crate::auth::{Principal, forbidden};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_cart))
        .routes(routes!(get_cart))
        .routes(routes!(set_line, remove_line))
        .routes(routes!(sign_in))
        .routes(routes!(start_handoff))
        .routes(routes!(claim))
        .routes(routes!(customer_cart))
        .routes(routes!(checkout))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineIn {
    #[schema(example = "TSHIRT-BLUE-M")]
    pub sku: String,
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCart {
    /// The signed-in customer; absent for an anonymous cart. A customer who already has an
    /// active cart gets it back with these lines merged in (larger quantity wins).
    pub customer_id: Option<String>,
    /// The channel it is started on; defaults to the key's own channel.
    pub channel: Option<String>,
    /// ISO 4217; defaults to the retailer's currency.
    pub currency: Option<String>,
    #[serde(default)]
    pub lines: Vec<LineIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartHoldDto {
    pub hold_id: String,
    pub location: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartLineDto {
    pub sku: String,
    pub quantity: i64,
    /// Stock held for this line during checkout, if asked.
    pub hold: Option<CartHoldDto>,
    /// The channel's price now (on reads; absent when the SKU has no price in the currency).
    pub unit_price_minor: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartDto {
    /// Also the cart's token: keep it to come back to the cart.
    #[schema(example = "crt_6f1c0d2e9a8b47c5b3e2a1f0d9c8b7a6")]
    pub id: String,
    pub customer_id: Option<String>,
    pub channel: String,
    pub currency: String,
    /// `active`, `merged` (see `merged_into`) or `ordered` (see `order_id`).
    pub status: String,
    pub merged_into: Option<String>,
    pub order_id: Option<String>,
    pub lines: Vec<CartLineDto>,
    /// The priced lines' total (on reads).
    pub subtotal_minor: Option<i64>,
    /// A code a phone can claim the cart with, while it is valid.
    pub handoff_code: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub handoff_expires_at: Option<Timestamp>,
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

pub(crate) fn cart_dto(c: Cart, prices: Option<&BTreeMap<String, i64>>) -> CartDto {
    let live_code = c.handoff_expires_at.is_some_and(|t| t >= Timestamp::now());
    let lines: Vec<CartLineDto> = c
        .lines
        .into_iter()
        .map(|l| CartLineDto {
            unit_price_minor: prices.and_then(|p| p.get(&l.sku).copied()),
            hold: l
                .hold_id
                .zip(l.hold_location)
                .map(|(hold_id, location)| CartHoldDto { hold_id, location }),
            sku: l.sku,
            quantity: l.quantity,
        })
        .collect();
    let subtotal_minor = prices.map(|_| {
        lines
            .iter()
            .map(|l| l.unit_price_minor.unwrap_or(0) * l.quantity)
            .sum()
    });
    CartDto {
        id: c.id,
        customer_id: c.customer_id,
        channel: c.channel,
        currency: c.currency.code().to_owned(),
        status: c.status.as_str().to_owned(),
        merged_into: c.merged_into,
        order_id: c.order_id,
        lines,
        subtotal_minor,
        handoff_code: c.handoff_code.filter(|_| live_code),
        handoff_expires_at: c.handoff_expires_at.filter(|_| live_code),
        version: c.version,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

fn to_lines(lines: Vec<LineIn>) -> Vec<Line> {
    lines
        .into_iter()
        .map(|l| Line {
            sku: l.sku.trim().to_owned(),
            quantity: l.quantity,
        })
        .collect()
}

/// Start a cart (or add to the signed-in customer's active cart).
#[utoipa::path(post, path = "/v1/carts", tag = "orders", request_body = CreateCart, params(IdempotencyHeader),
    responses((status = 201, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn create_cart(
    State(s): State<AppState>,
    w: Write<CreateCart>,
) -> ApiResult<Response> {
    let b = w.body;
    if let (Some(own), Some(named)) = (w.principal.own_channel(), &b.channel)
        && own != named
    {
        return Err(forbidden("a channel key starts carts on its own channel"));
    }
    let channel = speaking_channel(&s, &w.principal, b.channel).await?;
    let currency = match b.currency {
        Some(c) => Currency::parse(&c).map_err(|e| Error::validation("currency", e))?,
        None => s.default_currency,
    };
    let new = NewCart {
        customer_id: b.customer_id,
        channel,
        currency,
        lines: to_lines(b.lines),
    };
    orders::cart::validate_lines(&new.lines)?;
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| {
                Box::pin(async move { store::carts::create_cart(c, &new, Timestamp::now()).await })
            },
            |cart| stored(201, &cart_dto(cart, None)),
        )
        .await?;
    Ok(reply(response))
}

/// The channel a request speaks for: the one it names (which must exist), else the key's
/// own channel, else — for a store key — the store's till (its `pos` channel, or any channel
/// bound to the store).
pub(crate) async fn speaking_channel(
    s: &AppState,
    p: &Principal,
    named: Option<String>,
) -> Result<String, Error> {
    if let Some(code) = named {
        return store::channels::find_channel(&mut s.db.read().await?, &code)
            .await?
            .map(|c| c.code)
            .ok_or_else(|| Error::unknown_reference("channel", "channel", &code));
    }
    if let Some(own) = p.own_channel() {
        return Ok(own.to_owned());
    }
    if let Some(store) = p.store_only()
        && let Some(till) = store::channels::till_of(&mut s.db.read().await?, store).await?
    {
        return Ok(till);
    }
    Err(Error::validation(
        "channel",
        "name the channel the cart is started on",
    ))
}

/// The channel's current prices of a cart's lines.
async fn cart_prices(s: &AppState, cart: &Cart) -> Result<BTreeMap<String, i64>, Error> {
    let skus: Vec<String> = cart.lines.iter().map(|l| l.sku.clone()).collect();
    Ok(
        store::prices::channel_prices(&s.db, &cart.channel, cart.currency, &skus)
            .await?
            .into_iter()
            .map(|(sku, p)| (sku, p.amount_minor))
            .collect(),
    )
}

/// Read a cart with its lines priced at its channel's price now.
#[utoipa::path(get, path = "/v1/carts/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn get_cart(
    State(s): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CartDto>> {
    let cart = store::carts::get_cart(&s.db, &id).await?;
    let prices = cart_prices(&s, &cart).await?;
    Ok(Json(cart_dto(cart, Some(&prices))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLine {
    /// 0 removes the line.
    #[schema(minimum = 0, maximum = 999)]
    pub quantity: i64,
    /// Hold the units at this location while the customer checks out (purpose `cart`,
    /// the retailer's cart hold lifetime).
    pub hold_at: Option<String>,
}

/// Set a line's quantity, optionally holding its stock at a location.
#[utoipa::path(put, path = "/v1/carts/{id}/lines/{sku}", tag = "orders", request_body = SetLine,
    params(("id" = String, Path), ("sku" = String, Path), IdempotencyHeader),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn set_line(
    State(s): State<AppState>,
    Path((id, sku)): Path<(String, String)>,
    w: Write<SetLine>,
) -> ApiResult<Response> {
    let actor = w.actor();
    if w.body.quantity != 0 {
        orders::cart::validate_quantity("quantity", w.body.quantity)?;
    }
    let hold = match w.body.hold_at {
        Some(location) => {
            w.principal.require_hold_at(&location)?;
            let channel = w.principal.own_channel().map(str::to_owned);
            Some(HoldAt {
                location,
                channel,
                checked_channel_safety: None,
                ttl_s: s.hold_ttls.cart_s,
            })
        }
        None => None,
    };
    let quantity = w.body.quantity;
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| {
                Box::pin(async move {
                    store::carts::set_line(
                        c,
                        &id,
                        &sku,
                        quantity,
                        hold.as_ref(),
                        &actor,
                        Timestamp::now(),
                    )
                    .await
                })
            },
            |cart| stored(200, &cart_dto(cart, None)),
        )
        .await?;
    Ok(reply(response))
}

/// Remove a line (its hold, if any, is released).
#[utoipa::path(delete, path = "/v1/carts/{id}/lines/{sku}", tag = "orders",
    params(("id" = String, Path), ("sku" = String, Path), IdempotencyHeader),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn remove_line(
    State(s): State<AppState>,
    Path((id, sku)): Path<(String, String)>,
    w: Write<EmptyBody>,
) -> ApiResult<Response> {
    let actor = w.actor();
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| {
                Box::pin(async move {
                    store::carts::set_line(c, &id, &sku, 0, None, &actor, Timestamp::now()).await
                })
            },
            |cart| stored(200, &cart_dto(cart, None)),
        )
        .await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub customer_id: String,
}

/// Sign a cart in: it becomes the customer's cart, or joins the customer's active cart (a SKU
/// in both keeps the larger quantity). The answer is the customer's cart.
#[utoipa::path(post, path = "/v1/carts/{id}/sign-in", tag = "orders", request_body = SignIn,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn sign_in(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<SignIn>,
) -> ApiResult<Response> {
    let customer = w.body.customer_id;
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| {
                Box::pin(async move {
                    store::carts::attach_customer(c, &id, &customer, Timestamp::now()).await
                })
            },
            |cart| stored(200, &cart_dto(cart, None)),
        )
        .await?;
    Ok(reply(response))
}

/// Give the cart a six-character code, valid 10 minutes, that the customer's phone claims it
/// with (a kiosk or POS handing over a basket).
#[utoipa::path(post, path = "/v1/carts/{id}/handoff", tag = "orders", request_body = EmptyBody,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn start_handoff(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<EmptyBody>,
) -> ApiResult<Response> {
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| {
                Box::pin(async move { store::carts::start_handoff(c, &id, Timestamp::now()).await })
            },
            |cart| stored(200, &cart_dto(cart, None)),
        )
        .await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// As typed or scanned; case, spaces and dashes do not matter.
    #[schema(example = "K7M2QX")]
    pub code: String,
    /// Signs the cart in at once (it may join the customer's cart).
    pub customer_id: Option<String>,
}

/// Claim a handed-off cart by its code (once).
#[utoipa::path(post, path = "/v1/carts/claim", tag = "orders", request_body = Claim, params(IdempotencyHeader),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn claim(State(s): State<AppState>, w: Write<Claim>) -> ApiResult<Response> {
    let Claim { code, customer_id } = w.body;
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| {
                Box::pin(async move {
                    store::carts::claim_handoff(c, &code, customer_id.as_deref(), Timestamp::now())
                        .await
                })
            },
            |cart| stored(200, &cart_dto(cart, None)),
        )
        .await?;
    Ok(reply(response))
}

/// The customer's active cart, priced (404 when there is none).
#[utoipa::path(get, path = "/v1/customers/{id}/cart", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn customer_cart(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CartDto>> {
    let mut conn = s.db.read().await?;
    let active = app::customers::reach(&mut conn, &p, &id).await?.id;
    let cart = store::carts::active_cart_of(&mut conn, &active)
        .await?
        .ok_or_else(|| {
            Error::new(ErrorCode::NotFound, "the customer has no active cart")
                .with("customer_id", active)
        })?;
    drop(conn);
    let prices = cart_prices(&s, &cart).await?;
    Ok(Json(cart_dto(cart, Some(&prices))))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentIn {
    /// `provider` (card through the payment provider, needs `token`) or `pay_in_store`
    /// (a POS sale paid at the till).
    pub method: Option<String>,
    /// The provider's card token (`tok_decline` is declined by the test provider).
    pub token: Option<String>,
    /// Store credit (from a return) to spend first; the rest, if any, is paid by `method`.
    pub store_credit_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipTo {
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    pub mode: FulfilmentModeDto,
    /// The store: where to collect (pickup), try (reserve), the kiosk's store (counter) or
    /// the till's (carry_out). Not for ship.
    pub location: Option<String>,
    /// Ship, pickup and counter orders are paid now; carry_out at the till (default
    /// `pay_in_store`); a reservation is never paid at checkout.
    pub payment: Option<PaymentIn>,
    /// Where a ship order goes: the nearest location with everything ships it.
    pub ship_to: Option<ShipTo>,
    /// The signed-in customer, when the cart is anonymous.
    pub customer_id: Option<String>,
    /// Lines fulfilled otherwise than `mode` and `location` (take the jacket now, ship the
    /// shoes; reserve one item, collect the rest). Lines with the same mode and store form one
    /// order: the answer is the first, `companion_orders` names the others, placed together —
    /// all or none; each paid mode is charged for its own order.
    pub lines: Option<Vec<LineChoice>>,
}

/// How one cart line is fulfilled, when not as the rest of the checkout.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineChoice {
    pub sku: String,
    pub mode: FulfilmentModeDto,
    /// The store for that mode (not for ship).
    pub location: Option<String>,
}

/// Checkout: place the cart as an order of the chosen mode. Every line is priced at the
/// channel's price and its stock held (a cart line's hold is kept); a ship order is routed
/// to the best locations with the decision on the order. Paid modes are charged through
/// the payment provider first: a decline (402) places nothing; a refusal after the charge
/// (stock gone meanwhile) voids it.
#[utoipa::path(post, path = "/v1/carts/{id}/checkout", tag = "orders", request_body = Checkout,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = OrderDto), (status = 402, body = ErrorBody), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn checkout(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<Checkout>,
) -> ApiResult<Response> {
    if let Some(k) = &w.idempotency
        && let Some(first) = s.db.previous_response(k).await?
    {
        return Ok(reply(first));
    }
    let actor = w.actor();
    let principal = w.principal;
    let b = w.body;
    let mode: FulfilmentMode = b.mode.into();
    let cart = store::carts::get_cart(&s.db, &id).await?;
    if cart.status != store::carts::CartStatus::Active {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("the cart is {}, not active", cart.status.as_str()),
        )
        .with("order_id", cart.order_id.clone())
        .into());
    }
    if cart.lines.is_empty() {
        return Err(Error::validation("lines", "the cart is empty").into());
    }
    let prices = cart_prices(&s, &cart).await?;
    if let Some(missing) = cart.lines.iter().find(|l| !prices.contains_key(&l.sku)) {
        return Err(Error::validation(
            "lines",
            format!(
                "`{}` has no {} price; it cannot be sold",
                missing.sku,
                cart.currency.code()
            ),
        )
        .with("sku", missing.sku.clone())
        .into());
    }
    let parts = split_by_fulfilment(&cart, mode, b.location.as_deref(), b.lines.as_deref())?;
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
        let planned = plan_order(
            &s,
            &principal,
            &cart,
            part,
            &b,
            &prices,
            &mut cart_holds,
            customer_id.clone(),
            i == 0,
            parts.len() == 1,
        )
        .await;
        // A refusal after a charge voids what was charged for the earlier parts.
        let planned = match planned {
            Ok(p) => p,
            Err(e) => {
                void_all(&s, &charges).await;
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
        orders.push(planned);
    }
    let now = Timestamp::now();
    let can_see_code = principal.store_only().is_none();
    let placed =
        s.db.write_once(
            w.idempotency,
            move |c| {
                Box::pin(async move { store::orders::place_all(c, &orders, &actor, now).await })
            },
            move |placed| {
                // Counted as the response is made (a replay is not counted again).
                for o in &placed {
                    metrics::counter!("relais_orders_placed_total", "mode" => o.mode.as_str())
                        .increment(1);
                }
                let companions: Vec<String> = placed.iter().skip(1).map(|o| o.id.clone()).collect();
                let first = placed.into_iter().next();
                let mut dto = first.map(|o| order_dto(o, can_see_code));
                if let Some(d) = dto.as_mut() {
                    d.companion_orders = companions;
                }
                stored(201, &dto)
            },
        )
        .await;
    if placed.is_err() {
        // The charges must not outlive orders that were not placed.
        void_all(&s, &charges).await;
    }
    Ok(reply(placed?))
}

/// Voids provider authorisations (orders that were not placed).
async fn void_all(s: &AppState, references: &[String]) {
    for reference in references {
        if let Err(e) = s.payments.void(reference).await {
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
            Some(c) => (c.mode.into(), c.location.clone()),
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
async fn plan_order(
    s: &AppState,
    principal: &Principal,
    cart: &Cart,
    part: &Part,
    b: &Checkout,
    prices: &BTreeMap<String, i64>,
    cart_holds: &mut BTreeMap<String, String>,
    customer_id: Option<String>,
    first: bool,
    alone: bool,
) -> Result<NewOrder, crate::error::ApiError> {
    let mode = part.mode;
    let total = orders::cart::total(part.lines.iter().map(|l| (prices[&l.sku], l.quantity)))?;
    let (location, allocations, routing) = plan_fulfilment(
        s,
        principal,
        mode,
        part.location.as_deref(),
        b.ship_to.as_ref(),
        &part.lines,
    )
    .await?;
    // In a split basket the payment is for the paid parts; a reservation part takes none,
    // and store credit pays toward the first part only (one spend per credit and checkout).
    let payment_in = match (mode, alone) {
        (FulfilmentMode::Reserve, false) => None,
        _ => b.payment.clone().map(|mut p| {
            if !first {
                p.store_credit_id = None;
            }
            p
        }),
    };
    let payment = take_payment(s, mode, payment_in, cart.currency, total).await?;
    let now = Timestamp::now();
    let deadline_at = (mode == FulfilmentMode::Reserve)
        .then(|| Timestamp::from_unix_ms(now.unix_ms() + s.hold_ttls.reserve_s * 1000));
    let hold_ttl_s = match mode {
        // Past the reservation's deadline: the order sweep, not the hold sweep, ends it.
        FulfilmentMode::Reserve => s.hold_ttls.reserve_s + 3600,
        _ => inventory::hold::MAX_TTL_S,
    };
    let channel = principal.own_channel().map(str::to_owned);
    let mut lines = Vec::with_capacity(allocations.len());
    for (sku, quantity, at) in allocations {
        let cart_hold = cart_holds.remove(&sku);
        // The policy check is made here from the reference cache, off the single writer.
        let checked_channel_safety = match &channel {
            Some(c) => {
                s.reference.hold_safety(c, &at, mode.hold_purpose())
                    .await
            }
            None => None,
        };
        lines.push(NewOrderLine {
            unit_price_minor: prices[&sku],
            sku,
            quantity,
            location: at,
            cart_hold,
            checked_channel_safety,
        });
    }
    let owner = match &location {
        Some(code) => s
            .reference
            .locations()
            .await?
            .get(code)
            .map(|l| l.owner.clone()),
        None => None,
    };
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
    })
}

/// Where each line is fulfilled: `(sku, quantity, location)` per allocation, the order's
/// store (all modes but ship), and the ship-from explanation.
async fn plan_fulfilment(
    s: &AppState,
    principal: &Principal,
    mode: FulfilmentMode,
    location: Option<&str>,
    ship_to: Option<&ShipTo>,
    cart_lines: &[store::carts::CartLine],
) -> Result<
    (
        Option<String>,
        Vec<(String, i64, String)>,
        Option<serde_json::Value>,
    ),
    crate::error::ApiError,
> {
    let locations = s.reference.locations().await?;
    if mode == FulfilmentMode::Ship {
        if location.is_some() {
            return Err(Error::validation(
                "location",
                "a ship order is routed; do not name a store",
            )
            .into());
        }
        let wanted: BTreeMap<String, i64> = cart_lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect();
        let candidates = ship_candidates(s, principal, &wanted, ship_to, &locations).await?;
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
        None => bound_store(s, principal).await?.ok_or_else(|| {
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
        )
        .into());
    }
    // Only kiosk and till orders need to know where the key stands (a lookup for channel keys).
    if matches!(mode, FulfilmentMode::Counter | FulfilmentMode::CarryOut)
        && !principal.can_access_store(&code)
        && bound_store(s, principal).await?.as_deref() != Some(code.as_str())
    {
        return Err(forbidden(
            "kiosk and till orders are placed with the store's key or a channel bound to the store",
        ));
    }
    if !place.active {
        return Err(Error::validation("location", format!("{code} is closed")).into());
    }
    let allocations = cart_lines
        .iter()
        .map(|l| (l.sku.clone(), l.quantity, code.clone()))
        .collect();
    Ok((Some(code), allocations, None))
}

/// The store a key works at: a store key's store, or the store its channel is bound to (a
/// kiosk's, a till's).
async fn bound_store(s: &AppState, principal: &Principal) -> Result<Option<String>, Error> {
    if let Some(store) = principal.store_only() {
        return Ok(Some(store.to_owned()));
    }
    let Some(channel) = principal.own_channel() else {
        return Ok(None);
    };
    let found = store::channels::find_channel(&mut s.db.read().await?, channel).await?;
    Ok(found.and_then(|c| c.location_code))
}

/// Locations that may ship, with what each can promise of the wanted SKUs.
async fn ship_candidates(
    s: &AppState,
    principal: &Principal,
    wanted: &BTreeMap<String, i64>,
    ship_to: Option<&ShipTo>,
    locations: &std::collections::HashMap<String, catalog::Location>,
) -> Result<Vec<Candidate>, Error> {
    let policy = match principal.own_channel() {
        Some(c) => Some(s.reference.policy(c).await?),
        None => None,
    };
    let to = ship_to.map(|t| catalog::location::Coordinates {
        latitude: t.latitude,
        longitude: t.longitude,
    });
    let mut by_location: BTreeMap<String, Candidate> = BTreeMap::new();
    for sku in wanted.keys() {
        for stock in store::stock::variant_stock(&s.db, sku).await? {
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
async fn take_payment(
    s: &AppState,
    mode: FulfilmentMode,
    payment: Option<PaymentIn>,
    currency: Currency,
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
    let mut payment = payment.unwrap_or(PaymentIn {
        method: None,
        token: None,
        store_credit_id: None,
    });
    let mut taken = Vec::new();
    let mut total = total;
    if let Some(credit_id) = payment.store_credit_id.take() {
        // What the credit holds now; the command spends it with a conditional write, so a
        // credit spent meanwhile refuses the order (and voids the card part).
        let credit = store::credits::find(&mut s.db.read().await?, &credit_id)
            .await?
            .ok_or_else(|| {
                Error::unknown_reference("payment.store_credit_id", "store credit", &credit_id)
            })?;
        let part = credit.balance_minor.min(total);
        if part > 0 {
            taken.push(NewPayment {
                method: PaymentMethod::StoreCredit,
                amount_minor: part,
                provider_ref: Some(credit_id),
            });
            total -= part;
        }
        if total == 0 {
            return Ok(taken);
        }
    }
    let rest = take_rest(s, mode, payment, currency, total).await?;
    taken.extend(rest);
    Ok(taken)
}

/// The part of a payment not covered by store credit: card through the provider, or the
/// till for a POS sale.
async fn take_rest(
    s: &AppState,
    mode: FulfilmentMode,
    payment: PaymentIn,
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
    match s.payments.authorise(&token, &currency, total).await? {
        Authorisation::Approved { reference } => {
            s.payments.capture(&reference, total).await?;
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
