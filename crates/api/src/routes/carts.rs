//! `/v1/carts`: one cart seen from every channel, the sign-in merge, the kiosk-to-phone
//! handoff, and checkout into an order of any fulfilment mode.
//!
//! A cart's id is its token: whoever has it (the browser that started it, the app it was
//! handed to) may read and change it, with any key. A signed-in customer's active cart is
//! found with `GET /v1/customers/{id}/cart`. Checkout prices every line at the channel's
//! price, takes the payment through the provider (ship, pickup and counter orders are paid
//! online; a reservation is paid at the till; a POS sale by the till), and places the order
//! in one command — stock held, cart closed — or changes nothing.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::cart::Line;
use promotions::PricedBasket;
use serde::{Deserialize, Serialize};
use store::carts::Cart;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::orders::{
    AppliedPromotionDto, DiscountDto, FulfilmentModeDto, OrderDto, TaxDto, order_for,
};
use super::{EmptyBody, IdempotencyHeader, reply, stored};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
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
    /// What the promotions in force take off the line now (on reads).
    pub discounts: Vec<DiscountDto>,
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
    /// The priced lines at list price (on reads).
    pub subtotal_minor: Option<i64>,
    /// Off the lines by the promotions in force now (on reads).
    pub discount_minor: Option<i64>,
    /// What an order of the cart would cost now, before any shipping (on reads).
    pub total_minor: Option<i64>,
    /// The promotions the cart gets now, with why (on reads).
    pub promotions: Vec<AppliedPromotionDto>,
    /// The coupon codes asked about (`?coupons=`): applied, or why not (on reads).
    pub coupons: Vec<CouponCheckDto>,
    /// Priced for a store (`?location=`, or the key's store): the country whose VAT applies
    /// and the VAT per rate in `total_minor` (on reads).
    pub tax_country: Option<String>,
    pub taxes: Vec<TaxDto>,
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

/// A coupon code presented with a cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponCheckDto {
    pub code: String,
    pub applied: bool,
    /// Why it does not apply, when it does not.
    pub reason: Option<String>,
}

/// Whether each code presented applied, or why not.
fn coupon_checks(priced: &PricedBasket, refused: Vec<(String, String)>) -> Vec<CouponCheckDto> {
    let applied = priced.applied.iter().filter_map(|a| a.coupon.clone());
    let skipped = priced
        .skipped
        .iter()
        .filter_map(|s| s.coupon.clone().map(|code| (code, s.reason.clone())));
    applied
        .map(|code| CouponCheckDto {
            code,
            applied: true,
            reason: None,
        })
        .chain(skipped.chain(refused).map(|(code, reason)| CouponCheckDto {
            code,
            applied: false,
            reason: Some(reason),
        }))
        .collect()
}

pub(crate) fn cart_dto(c: Cart, priced: Option<PricedBasket>) -> CartDto {
    let live_code = c.handoff_expires_at.is_some_and(|t| t >= Timestamp::now());
    let line_of = |sku: &str| {
        priced
            .as_ref()
            .and_then(|p| p.lines.iter().find(|l| l.sku == sku))
    };
    let lines: Vec<CartLineDto> = c
        .lines
        .into_iter()
        .map(|l| CartLineDto {
            unit_price_minor: line_of(&l.sku).map(|p| p.unit_price_minor),
            discounts: line_of(&l.sku)
                .map(|p| p.discounts.iter().cloned().map(Into::into).collect())
                .unwrap_or_default(),
            hold: l
                .hold_id
                .zip(l.hold_location)
                .map(|(hold_id, location)| CartHoldDto { hold_id, location }),
            sku: l.sku,
            quantity: l.quantity,
        })
        .collect();
    CartDto {
        coupons: Vec::new(),
        tax_country: None,
        taxes: Vec::new(),
        subtotal_minor: priced.as_ref().map(|p| p.subtotal_minor),
        discount_minor: priced.as_ref().map(|p| p.discount_minor),
        total_minor: priced.as_ref().map(|p| p.total_minor),
        promotions: priced
            .map(|p| p.applied.into_iter().map(Into::into).collect())
            .unwrap_or_default(),
        id: c.id,
        customer_id: c.customer_id,
        channel: c.channel,
        currency: c.currency.code().to_owned(),
        status: c.status.as_str().to_owned(),
        merged_into: c.merged_into,
        order_id: c.order_id,
        lines,
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
async fn create_cart(State(s): State<AppState>, w: Write<CreateCart>) -> ApiResult<Response> {
    let b = w.body;
    let currency = match b.currency {
        Some(c) => Currency::parse(&c).map_err(|e| Error::validation("currency", e))?,
        None => s.default_currency,
    };
    let req = app::carts::CartRequest {
        customer_id: b.customer_id,
        channel: b.channel,
        currency,
        lines: to_lines(b.lines),
    };
    let render = |cart| stored(201, &cart_dto(cart, None));
    let response = app::carts::create(&s.db, &w.principal, req, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Read a cart with its lines priced at its channel's price now.
#[utoipa::path(get, path = "/v1/carts/{id}", tag = "orders", params(("id" = String, Path), CartQuery),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn get_cart(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<CartQuery>,
) -> ApiResult<Json<CartDto>> {
    let cart = store::carts::get_cart(&s.db, &id).await?;
    let coupons: Vec<String> = q
        .coupons
        .as_deref()
        .map(|c| c.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let at = (q.location, q.country);
    let price = app::carts::price(&s.reference, &p, &cart, at, &coupons).await?;
    Ok(Json(CartDto {
        coupons: coupon_checks(&price.priced, price.refused),
        tax_country: price.tax_country,
        taxes: price.taxes.into_iter().map(Into::into).collect(),
        ..cart_dto(cart, Some(price.priced))
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CartQuery {
    /// Price it for an order at this store (a store's promotions apply); by default the
    /// key's own store, if any.
    pub location: Option<String>,
    /// Price it for a parcel to this country (ISO 3166-1 alpha-2): the VAT it would carry
    /// there, when the retailer charges that country's VAT. Not with `location`.
    #[param(example = "FR")]
    pub country: Option<String>,
    /// Coupon codes to try, comma-separated: the cart shows whether each applies.
    #[param(example = "WIN-ABCD2345")]
    pub coupons: Option<String>,
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
    Path((cart_id, sku)): Path<(String, String)>,
    w: Write<SetLine>,
) -> ApiResult<Response> {
    let change = app::carts::LineChange {
        cart_id,
        sku,
        quantity: w.body.quantity,
        hold_at: w.body.hold_at,
        hold_ttl_s: s.hold_ttls.cart_s,
    };
    let render = |cart| stored(200, &cart_dto(cart, None));
    let response = app::carts::set_line(&s.db, &w.principal, change, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Remove a line (its hold, if any, is released).
#[utoipa::path(delete, path = "/v1/carts/{id}/lines/{sku}", tag = "orders",
    params(("id" = String, Path), ("sku" = String, Path), IdempotencyHeader),
    responses((status = 200, body = CartDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn remove_line(
    State(s): State<AppState>,
    Path((cart_id, sku)): Path<(String, String)>,
    w: Write<EmptyBody>,
) -> ApiResult<Response> {
    let change = app::carts::LineChange {
        cart_id,
        sku,
        quantity: 0,
        hold_at: None,
        hold_ttl_s: s.hold_ttls.cart_s,
    };
    let render = |cart| stored(200, &cart_dto(cart, None));
    let response = app::carts::set_line(&s.db, &w.principal, change, w.idempotency, render).await?;
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
    let render = |cart| stored(200, &cart_dto(cart, None));
    let customer = w.body.customer_id;
    let response = app::carts::sign_in(&s.db, id, customer, w.idempotency, render).await?;
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
    let render = |cart| stored(200, &cart_dto(cart, None));
    let response = app::carts::start_handoff(&s.db, id, w.idempotency, render).await?;
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
    let render = |cart| stored(200, &cart_dto(cart, None));
    let response = app::carts::claim(&s.db, code, customer_id, w.idempotency, render).await?;
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
    let price = app::carts::price(&s.reference, &p, &cart, (None, None), &[]).await?;
    Ok(Json(cart_dto(cart, Some(price.priced))))
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
    /// Loyalty points to pay with (the signed-in member's), after store credit: they leave
    /// the balance when the order is placed and come back if it is cancelled.
    #[schema(minimum = 1, maximum = 100000000)]
    pub points: Option<i64>,
    /// A gift card to spend, after store credit and before points: what it holds pays, up to
    /// the total.
    pub gift_card: Option<crate::routes::stored_value::CardPresented>,
}

/// Where a parcel goes: exactly one of `address`, `address_id` (one of the customer's saved
/// addresses) or `store` (ship to store: the store hands it over).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipTo {
    pub address: Option<super::delivery::PostalAddressDto>,
    pub address_id: Option<String>,
    pub store: Option<String>,
    /// Where it goes, to ship from the nearest stock (a store's are known).
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
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
    /// A ship order's method (`GET /v1/carts/{id}/shipping-options`); by default the first
    /// offered on the channel that goes there. Its fee, after promotions, is part of the total.
    #[schema(example = "standard")]
    pub shipping_method: Option<String>,
    /// The signed-in customer, when the cart is anonymous.
    pub customer_id: Option<String>,
    /// Lines fulfilled otherwise than `mode` and `location` (take the jacket now, ship the
    /// shoes; reserve one item, collect the rest). Lines with the same mode and store form one
    /// order: the answer is the first, `companion_orders` names the others, placed together —
    /// all or none; each paid mode is charged for its own order.
    pub lines: Option<Vec<LineChoice>>,
    /// Coupon codes (as typed: case does not matter). Each must apply to the basket, or the
    /// checkout is refused (409, with why) and nothing is charged.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub coupons: Vec<String>,
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
    let cx = app::checkout::Context {
        db: &s.db,
        reference: &s.reference,
        payments: s.payments.as_ref(),
        hold_ttls: s.hold_ttls,
    };
    let principal = w.principal.clone();
    let request = checkout_request(w.body);
    let render = move |placed| render_placed(&principal, placed);
    let (response, cards) =
        app::checkout::checkout(&cx, &w.principal, &id, request, w.idempotency, render).await?;
    Ok(reply(with_gift_cards(response, cards)))
}

/// The first answer to a checkout that sold gift cards, with their codes and PINs (kept
/// nowhere else, so never in the stored answer a replay gives).
fn with_gift_cards(
    mut response: store::StoredResponse,
    cards: Vec<app::stored_value::IssuedCard>,
) -> store::StoredResponse {
    if cards.is_empty() {
        return response;
    }
    let cards: Vec<super::orders::IssuedGiftCardDto> = cards
        .into_iter()
        .map(|c| super::orders::IssuedGiftCardDto {
            id: c.id,
            order_id: c.order_id,
            sku: c.sku,
            code: c.code,
            pin: c.pin,
            amount_minor: c.amount_minor,
            currency: c.currency.code().to_owned(),
            expires_at: c.expires_at,
        })
        .collect();
    if let Ok(serde_json::Value::Object(mut body)) = serde_json::from_str(&response.body) {
        body.insert("gift_cards".into(), serde_json::json!(cards));
        response.body = serde_json::Value::Object(body).to_string();
    }
    response
}

fn checkout_request(b: Checkout) -> app::checkout::CheckoutRequest {
    app::checkout::CheckoutRequest {
        mode: b.mode.into(),
        location: b.location,
        payment: b.payment.map(|p| app::checkout::PaymentChoice {
            method: p.method,
            token: p.token,
            store_credit_id: p.store_credit_id,
            gift_card: p.gift_card.map(|g| (g.code, g.pin)),
            points: p.points,
        }),
        ship_to: b.ship_to.map(|t| app::checkout::ShipTo {
            address: t.address.map(Into::into),
            address_id: t.address_id,
            store: t.store,
            coordinates: t.latitude.zip(t.longitude).map(|(latitude, longitude)| {
                catalog::location::Coordinates {
                    latitude,
                    longitude,
                }
            }),
        }),
        shipping_method: b.shipping_method,
        customer_id: b.customer_id,
        coupons: b.coupons,
        lines: b.lines.map(|ls| {
            ls.into_iter()
                .map(|l| app::checkout::LineChoice {
                    sku: l.sku,
                    mode: l.mode.into(),
                    location: l.location,
                })
                .collect()
        }),
    }
}

/// The first order placed, naming the others of a split basket. Counted as the response is
/// made (a replay is not counted again).
fn render_placed(
    principal: &Principal,
    placed: Vec<store::orders::Order>,
) -> store::StoredResponse {
    for o in &placed {
        metrics::counter!("relais_orders_placed_total", "mode" => o.mode.as_str()).increment(1);
    }
    let companions: Vec<String> = placed.iter().skip(1).map(|o| o.id.clone()).collect();
    let mut dto = placed.into_iter().next().map(|o| order_for(principal, o));
    if let Some(d) = dto.as_mut() {
        d.companion_orders = companions;
    }
    stored(201, &dto)
}
