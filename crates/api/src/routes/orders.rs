//! `/v1/orders`: orders of every fulfilment mode, their state machines (one endpoint per
//! transition), store queues, customers' order histories, e-receipts, returns anywhere and
//! the franchise owners' report.
//!
//! Who reads and moves which order is decided by `app` (`app::access::order`): a store key
//! the orders its store sells or fulfils, a channel key its own channel's (and cancels
//! them), staff every order. The e-receipt look-up is the exception: any key holding the
//! receipt gets what a return needs. The pickup code is shown to the order's channel and to
//! staff, never to a store key — the counter must be shown it.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::{Error, ErrorCode, Timestamp};
use orders::{FulfilmentMode, OrderState, Transition};
use serde::{Deserialize, Serialize};
use store::orders::{Order, OrderFilter};
use store::returns::ReturnLineIn;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, page_of, reply, stored, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(order_history))
        .routes(routes!(act))
        .routes(routes!(receipt))
        .routes(routes!(customer_orders))
        .routes(routes!(record_return))
        .routes(routes!(order_returns))
        .routes(routes!(owner_report))
}

wire_enum!(
    /// `ship`, `pickup` (click & collect), `reserve` (click & reserve), `counter` (kiosk),
    /// `carry_out` (POS).
    FulfilmentModeDto <=> FulfilmentMode { Ship, Pickup, Reserve, Counter, CarryOut }
);
wire_enum!(OrderStateDto <=> OrderState {
    Placed, Preparing, Shipped, Delivered, ReadyForPickup, Collected, NoShow, ReadyToTry,
    Purchased, Expired, ReadyAtCounter, HandedOver, Completed, Cancelled
});
wire_enum!(TransitionDto <=> Transition {
    StartPreparing, Ship, Deliver, MarkReady, Collect, NoShow, Purchase, Expire, HandOver, Cancel
});
wire_enum!(ConditionDto <=> orders::returns::Condition { Resellable, Damaged });
wire_enum!(RefundMethodDto <=> orders::returns::RefundMethod { OriginalPayment, StoreCredit, Exchange });
wire_enum!(PaymentMethodDto <=> orders::payment::PaymentMethod { Provider, PayInStore, StoreCredit, Exchange, LoyaltyPoints, GiftCard });

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineDto {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// Off the line's units together; `unit_price_minor × quantity − discount_minor` is
    /// what they cost, and a returned unit refunds its share of that.
    pub discount_minor: i64,
    pub discounts: Vec<DiscountDto>,
    /// The line's VAT rate in basis points (2000 = 20 %) and the VAT in what it costs.
    pub tax_rate_bp: i64,
    pub tax_minor: i64,
    /// Where this line is held and handed over (or shipped from).
    pub location: String,
    pub hold_id: Option<String>,
    /// Units the customer got.
    pub sold: i64,
    pub returned: i64,
}

/// The VAT of one rate on an order or a receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxDto {
    /// Basis points: 2000 = 20 %.
    pub rate_bp: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
}

impl From<promotions::tax::Taxed> for TaxDto {
    fn from(t: promotions::tax::Taxed) -> Self {
        TaxDto {
            rate_bp: t.rate_bp,
            net_minor: t.net_minor,
            tax_minor: t.tax_minor,
            gross_minor: t.gross_minor,
        }
    }
}

/// A discount a promotion gave a line.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscountDto {
    pub promotion_id: String,
    /// The promotion's name, as shown to customers.
    pub name: String,
    pub amount_minor: i64,
}

impl From<promotions::LineDiscount> for DiscountDto {
    fn from(d: promotions::LineDiscount) -> Self {
        DiscountDto {
            promotion_id: d.promotion_id,
            name: d.name,
            amount_minor: d.amount_minor,
        }
    }
}

/// A promotion a basket got: why, and how much in all.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedPromotionDto {
    pub promotion_id: String,
    pub name: String,
    /// What earned it, in words.
    pub why: String,
    pub coupon: Option<String>,
    /// Off the items.
    pub amount_minor: i64,
    /// Off shipping.
    pub shipping_minor: i64,
}

impl From<promotions::Applied> for AppliedPromotionDto {
    fn from(a: promotions::Applied) -> Self {
        AppliedPromotionDto {
            promotion_id: a.promotion_id,
            name: a.name,
            why: a.why,
            coupon: a.coupon,
            amount_minor: a.amount_minor,
            shipping_minor: a.shipping_minor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDto {
    pub id: String,
    pub method: PaymentMethodDto,
    pub currency: String,
    pub authorised_minor: i64,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub provider_ref: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerDto {
    /// `company` or `franchisee`.
    pub kind: String,
    pub name: String,
}

/// A ship order's delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingDto {
    /// The shipping method's code and name.
    pub method: String,
    pub method_name: String,
    pub kind: super::delivery::MethodKindDto,
    pub address: super::delivery::PostalAddressDto,
    /// Ship to store: the store that hands the parcel over.
    pub store: Option<String>,
    /// The method's fee, what promotions took off it, its VAT rate and VAT, and what the
    /// customer paid for delivery (`fee − discount`, plus VAT where prices exclude it).
    pub fee_minor: i64,
    pub discount_minor: i64,
    pub tax_rate_bp: i64,
    pub tax_minor: i64,
    pub paid_minor: i64,
    /// Of `paid_minor`, what went back to the customer (with the last unit returned, or by
    /// staff's decision).
    pub refunded_minor: i64,
    pub window: super::delivery::DeliveryWindowDto,
}

fn shipping_dto(s: orders::delivery::OrderShipping, refunded_minor: i64) -> ShippingDto {
    ShippingDto {
        paid_minor: s.paid_minor(),
        method: s.method,
        method_name: s.method_name,
        kind: s.kind.into(),
        address: s.address.into(),
        store: s.store,
        fee_minor: s.fee_minor,
        discount_minor: s.discount_minor,
        tax_rate_bp: s.tax_rate_bp,
        tax_minor: s.tax_minor,
        refunded_minor,
        window: s.window.into(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptDto {
    /// Accepted by every store and channel for returns and look-ups.
    pub token: String,
    /// What the receipt's QR code encodes.
    pub qr_payload: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    #[schema(example = "ord_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    pub customer_id: Option<String>,
    /// The channel the order came from.
    pub channel: String,
    pub mode: FulfilmentModeDto,
    pub state: OrderStateDto,
    /// The transitions possible now (each is `POST /v1/orders/{id}/{transition}`).
    pub allowed_transitions: Vec<TransitionDto>,
    /// The fulfilling store (all modes but ship).
    pub location: Option<String>,
    /// That store's owner, for franchise attribution.
    pub owner: Option<OwnerDto>,
    pub currency: String,
    /// The lines at their unit prices.
    pub subtotal_minor: i64,
    /// Off the lines, by the promotions in `promotions`.
    pub discount_minor: i64,
    /// What the customer pays: `subtotal_minor − discount_minor`, and delivery
    /// (`shipping.paid_minor`).
    pub total_minor: i64,
    /// A ship order's delivery: where, how, its fee and promised window.
    pub shipping: Option<ShippingDto>,
    pub promotions: Vec<AppliedPromotionDto>,
    /// The country whose VAT applies (ISO 3166-1 alpha-2), the VAT in `total_minor`, and its
    /// breakdown per rate (net, tax, gross), as a receipt prints it.
    pub tax_country: Option<String>,
    pub tax_minor: i64,
    pub taxes: Vec<TaxDto>,
    /// Captured less refunded.
    pub paid_minor: i64,
    /// Shown to the customer's channels and staff, never to store keys.
    pub pickup_code: Option<String>,
    pub receipt: ReceiptDto,
    /// When a reservation expires or a ready pickup becomes a no-show.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deadline_at: Option<Timestamp>,
    /// Ship orders: allocations and, per location, why it was chosen.
    #[schema(value_type = Option<Object>)]
    pub routing: Option<serde_json::Value>,
    /// The order whose return this exchange sale settled.
    pub exchange_of: Option<String>,
    pub lines: Vec<OrderLineDto>,
    pub payments: Vec<PaymentDto>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    pub version: i64,
    /// In a checkout's answer: the other orders the same basket became (one order per
    /// fulfilment mode and store). Absent elsewhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub companion_orders: Vec<String>,
    /// In the first answer to a checkout that sold gift cards: each card with its code and
    /// PIN, shown this once (only their hashes are kept; a replay shows none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gift_cards: Vec<IssuedGiftCardDto>,
}

/// A gift card just sold, with what only its buyer ever sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedGiftCardDto {
    pub id: String,
    pub order_id: String,
    pub sku: String,
    #[schema(example = "ABCD-EFGH-JKLM-NPQR")]
    pub code: String,
    #[schema(example = "123456")]
    pub pin: String,
    pub amount_minor: i64,
    pub currency: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

impl From<orders::order::OrderLine> for OrderLineDto {
    fn from(l: orders::order::OrderLine) -> Self {
        OrderLineDto {
            line: l.line_no,
            sku: l.sku,
            quantity: l.quantity,
            unit_price_minor: l.unit_price_minor,
            discount_minor: l.discount_minor,
            discounts: l.discounts.into_iter().map(Into::into).collect(),
            tax_rate_bp: l.tax_rate_bp,
            tax_minor: l.tax_minor,
            location: l.location,
            hold_id: l.hold_id,
            sold: l.sold,
            returned: l.returned,
        }
    }
}

impl From<orders::order::PaymentRecord> for PaymentDto {
    fn from(p: orders::order::PaymentRecord) -> Self {
        PaymentDto {
            id: p.id,
            method: p.amounts.method.into(),
            currency: p.amounts.currency.code().to_owned(),
            authorised_minor: p.amounts.authorised,
            captured_minor: p.amounts.captured,
            refunded_minor: p.amounts.refunded,
            provider_ref: p.provider_ref,
        }
    }
}

pub(crate) fn order_dto(o: Order, show_pickup_code: bool) -> OrderDto {
    let paid_minor = o.paid_minor();
    let taxes = o.tax_by_rate().into_iter().map(Into::into).collect();
    let added: i64 = o.lines.iter().map(|l| l.tax_added_minor).sum();
    let delivery = o.shipping.as_ref().map_or(0, |s| s.paid_minor());
    OrderDto {
        shipping: o
            .shipping
            .map(|s| shipping_dto(s, o.shipping_refunded_minor)),
        allowed_transitions: o
            .mode
            .allowed(o.state)
            .into_iter()
            .map(Into::into)
            .collect(),
        receipt: ReceiptDto {
            qr_payload: orders::receipt::qr_payload(&o.receipt_token),
            token: o.receipt_token,
        },
        owner: o
            .owner_kind
            .zip(o.owner_name)
            .map(|(kind, name)| OwnerDto { kind, name }),
        pickup_code: o.pickup_code.filter(|_| show_pickup_code),
        lines: o.lines.into_iter().map(Into::into).collect(),
        payments: o.payments.into_iter().map(Into::into).collect(),
        id: o.id,
        customer_id: o.customer_id,
        channel: o.channel,
        mode: o.mode.into(),
        state: o.state.into(),
        location: o.location,
        currency: o.currency.code().to_owned(),
        subtotal_minor: o.total_minor + o.discount_minor - added - delivery,
        tax_country: o.tax_country,
        tax_minor: o.tax_minor,
        taxes,
        discount_minor: o.discount_minor,
        total_minor: o.total_minor,
        promotions: o.promotions.into_iter().map(Into::into).collect(),
        paid_minor,
        deadline_at: o.deadline_at,
        routing: o.routing,
        exchange_of: o.exchange_of,
        created_at: o.created_at,
        updated_at: o.updated_at,
        version: o.version,
        companion_orders: Vec::new(),
        gift_cards: Vec::new(),
    }
}

/// The order as `p` may see it (the pickup code only for staff and the order's channel).
pub(crate) fn order_for(p: &Principal, o: Order) -> OrderDto {
    let show = app::orders::shows_pickup_code(p, &o);
    order_dto(o, show)
}

/// Read an order.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn get_order(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderDto>> {
    Ok(Json(order_for(
        &p,
        app::orders::reach(&s.db, &p, &id).await?,
    )))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryStepDto {
    pub transition: TransitionDto,
    pub from_state: OrderStateDto,
    pub to_state: OrderStateDto,
    /// The store that acted, when a store key did.
    pub location: Option<String>,
    /// The API key (or `system` for deadlines).
    pub actor: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// The order's transitions, oldest first.
#[utoipa::path(get, path = "/v1/orders/{id}/history", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = Vec<HistoryStepDto>), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn order_history(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<HistoryStepDto>>> {
    app::orders::reach(&s.db, &p, &id).await?;
    let steps = store::orders::history(&s.db, &id).await?;
    Ok(Json(
        steps
            .into_iter()
            .map(|h| HistoryStepDto {
                transition: h.transition.into(),
                from_state: h.from_state.into(),
                to_state: h.to_state.into(),
                location: h.location,
                actor: h.actor,
                at: h.at,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseLine {
    pub line: i64,
    /// Units bought (0: tried and declined).
    #[schema(minimum = 0)]
    pub quantity: i64,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// `collect`: the code the customer shows.
    pub pickup_code: Option<String>,
    /// `purchase`: units bought per line; lines not named are declined. Absent: all.
    pub lines: Option<Vec<PurchaseLine>>,
}

/// Move an order: `start_preparing`, `ship`, `deliver`, `mark_ready` (a pickup gets its
/// code and `relais.order.ready_for_pickup` is emitted), `collect` (the code is checked),
/// `no_show`, `purchase` (a reservation bought at the till, perhaps in part), `expire`,
/// `hand_over`, `cancel` (stock released, payment refunded). Each emits
/// `relais.order.<new state>`. A transition the mode does not allow from the current state
/// is a 409 with `details.current_state` and `details.allowed`.
#[utoipa::path(post, path = "/v1/orders/{id}/{transition}", tag = "orders", request_body = TransitionBody,
    params(("id" = String, Path), ("transition" = TransitionDto, Path), IdempotencyHeader),
    responses((status = 200, body = OrderDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn act(
    State(s): State<AppState>,
    Path((id, transition)): Path<(String, TransitionDto)>,
    w: Write<TransitionBody>,
) -> ApiResult<Response> {
    let b = w.body;
    let request = app::orders::TransitionRequest {
        pickup_code: b.pickup_code,
        purchase: b
            .lines
            .map(|ls| ls.into_iter().map(|l| (l.line, l.quantity)).collect()),
        pickup_days: s.order_rules.pickup_days,
    };
    let principal = w.principal.clone();
    let response = app::orders::transition(
        &s.db,
        s.payments.as_ref(),
        &w.principal,
        id,
        transition.into(),
        request,
        w.idempotency,
        move |order| {
            metrics::counter!("relais_order_transitions_total", "to" => order.state.as_str())
                .increment(1);
            stored(200, &order_for(&principal, order))
        },
    )
    .await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// A store's queue. A store key always sees its own.
    pub location: Option<String>,
    /// Comma-separated states, e.g. `placed,preparing`.
    pub state: Option<String>,
    pub mode: Option<FulfilmentModeDto>,
    pub customer_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

page_of!(OrderPage, OrderDto);

fn parse_states(text: Option<&str>) -> Result<Vec<OrderState>, Error> {
    text.map(|t| {
        t.split(',')
            .map(|s| {
                OrderState::parse(s.trim()).ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidQuery,
                        format!("`{s}` is not an order state"),
                    )
                    .with("field", "state")
                })
            })
            .collect()
    })
    .unwrap_or(Ok(vec![]))
}

/// Orders, newest first: a store's queue (`location`, `state`), a mode, a customer's.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, body = OrderPage), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn list_orders(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<OrderQuery>,
) -> ApiResult<Json<OrderPage>> {
    let customer_id = match q.customer_id {
        Some(c) => Some(store::customers::active_id(&mut s.db.read().await?, &c).await?),
        None => None,
    };
    let filter = OrderFilter {
        customer_id,
        location: q.location,
        states: parse_states(q.state.as_deref())?,
        mode: q.mode.map(Into::into),
        channel: None,
    };
    let page = kernel::PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let found = app::orders::list(&s.db, &p, filter, &page).await?;
    Ok(Json(found.map(|o| order_for(&p, o)).into()))
}

/// A customer's orders from every channel, newest first (a merged profile's included).
#[utoipa::path(get, path = "/v1/customers/{id}/orders", tag = "orders", params(("id" = String, Path), PageParams),
    responses((status = 200, body = OrderPage), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn customer_orders(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<OrderPage>> {
    let found = app::orders::of_customer(&s.db, &p, &id, &q.request()?).await?;
    Ok(Json(found.map(|o| order_for(&p, o)).into()))
}

/// What a return needs of an order, and nothing more: no customer, payments or pickup code.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptLookupDto {
    pub order_id: String,
    pub channel: String,
    pub mode: FulfilmentModeDto,
    pub state: OrderStateDto,
    /// The store that sold it (all modes but ship).
    pub location: Option<String>,
    pub currency: String,
    pub total_minor: i64,
    /// Off the lines by promotions, and the VAT per rate, as printed on the receipt.
    pub discount_minor: i64,
    pub taxes: Vec<TaxDto>,
    /// What delivery cost (ship orders; 0 otherwise), part of `total_minor`.
    pub shipping_minor: i64,
    /// `line` and `quantity` are what `POST /v1/returns` names; at most `sold − returned`.
    pub lines: Vec<ReceiptLineDto>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptLineDto {
    pub line: i64,
    pub sku: String,
    pub unit_price_minor: i64,
    /// What the line's units cost together after discounts, tax included: a returned unit
    /// refunds its share of it.
    pub paid_minor: i64,
    pub sold: i64,
    pub returned: i64,
}

fn receipt_lookup_dto(o: Order) -> ReceiptLookupDto {
    let taxes = o.tax_by_rate().into_iter().map(Into::into).collect();
    ReceiptLookupDto {
        shipping_minor: o.shipping.as_ref().map_or(0, |s| s.paid_minor()),
        discount_minor: o.discount_minor,
        taxes,
        order_id: o.id,
        channel: o.channel,
        mode: o.mode.into(),
        state: o.state.into(),
        location: o.location,
        currency: o.currency.code().to_owned(),
        total_minor: o.total_minor,
        lines: o
            .lines
            .into_iter()
            .map(|l| ReceiptLineDto {
                paid_minor: l.paid_minor(),
                line: l.line_no,
                sku: l.sku,
                unit_price_minor: l.unit_price_minor,
                sold: l.sold,
                returned: l.returned,
            })
            .collect(),
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

/// The order behind an e-receipt (its token, or the QR payload as scanned), as a store
/// taking a return needs it: any key holding the receipt may look it up — the documented
/// exception to the order rules — and gets only the lines, amounts and states. Looked up
/// by order number instead, the order rules apply.
#[utoipa::path(get, path = "/v1/receipts/{token}", tag = "orders", params(("token" = String, Path)),
    responses((status = 200, body = ReceiptLookupDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn receipt(
    State(s): State<AppState>,
    p: Principal,
    Path(token): Path<String>,
) -> ApiResult<Json<ReceiptLookupDto>> {
    let order = app::returns::find_by_reference(&s.db, &token).await?;
    if orders::receipt::token_from_qr(&token).is_none() {
        app::orders::check(&p, &order)?;
    }
    Ok(Json(receipt_lookup_dto(order)))
}

/// An order by id, e-receipt token or scanned QR payload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineBody {
    pub line: i64,
    #[schema(minimum = 1)]
    pub quantity: i64,
    pub condition: ConditionDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeLine {
    pub sku: String,
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordReturn {
    /// The order number, its e-receipt token or the receipt's scanned QR payload.
    #[schema(example = "relais:receipt:rcp_6f1c0d2e9a8b47c5b3e2a1f0d9c8b7a6")]
    pub order: String,
    /// The receiving location: the store taking the return (it must take returns), or where
    /// a parcel returned by mail arrives. A store key's own store by default.
    pub location: Option<String>,
    /// Sent back by mail rather than brought to a store.
    #[serde(default)]
    pub by_mail: bool,
    pub lines: Vec<ReturnLineBody>,
    pub refund: RefundMethodDto,
    /// `exchange`: the goods taken instead, sold at the store in the same transaction.
    pub exchange_lines: Option<Vec<ExchangeLine>>,
    /// Give a ship order's delivery price back although goods stay with the customer (a
    /// wrong or faulty item). It goes back anyway with the order's last unit; once at most.
    #[serde(default)]
    pub refund_shipping: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnedLineDto {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
    pub condition: ConditionDto,
    pub amount_minor: i64,
    /// Why a discounted line comes back at less than its list price (a "buy 2 get 1"
    /// spreads its free unit over the units it was earned with).
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnDto {
    pub id: String,
    pub order_id: String,
    pub location: String,
    pub by_mail: bool,
    pub refund: RefundMethodDto,
    /// What the goods were bought for.
    pub value_minor: i64,
    /// The VAT in `value_minor` and `shipping_minor`, reversed.
    pub tax_minor: i64,
    /// The delivery's price given back with this return (when the last unit came back, or
    /// staff asked).
    pub shipping_minor: i64,
    /// Given back to the original payments.
    pub refund_minor: i64,
    /// Paid on top by the customer (an exchange for dearer goods).
    pub paid_minor: i64,
    pub currency: String,
    /// The exchange's sale.
    pub exchange_order: Option<String>,
    pub store_credit_id: Option<String>,
    pub lines: Vec<ReturnedLineDto>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

fn return_dto(r: store::returns::Return) -> ReturnDto {
    ReturnDto {
        id: r.id,
        order_id: r.order_id,
        location: r.location,
        by_mail: r.by_mail,
        refund: r.method.into(),
        value_minor: r.value_minor,
        tax_minor: r.tax_minor,
        shipping_minor: r.shipping_minor,
        refund_minor: r.refund_minor,
        paid_minor: r.paid_minor,
        currency: r.currency.code().to_owned(),
        exchange_order: r.exchange_order,
        store_credit_id: r.store_credit_id,
        lines: r
            .lines
            .into_iter()
            .map(|l| ReturnedLineDto {
                line: l.line_no,
                sku: l.sku,
                quantity: l.quantity,
                condition: l.condition.into(),
                amount_minor: l.amount_minor,
                note: l.note,
            })
            .collect(),
        created_at: r.created_at,
    }
}

/// Take goods back, in any store that takes returns or by mail, from an order number or an
/// e-receipt: per line at most what was bought less what already came back, within the
/// return window. Refund to the original payment, as store credit, or as an exchange (a
/// new sale in the same transaction; the difference is refunded or paid at the till).
#[utoipa::path(post, path = "/v1/returns", tag = "orders", request_body = RecordReturn, params(IdempotencyHeader),
    responses((status = 201, body = ReturnDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn record_return(State(s): State<AppState>, w: Write<RecordReturn>) -> ApiResult<Response> {
    let b = w.body;
    let req = app::returns::ReturnRequest {
        order: b.order,
        location: b.location,
        by_mail: b.by_mail,
        lines: b
            .lines
            .into_iter()
            .map(|l| ReturnLineIn {
                line_no: l.line,
                quantity: l.quantity,
                condition: l.condition.into(),
            })
            .collect(),
        method: b.refund.into(),
        exchange_lines: b.exchange_lines.map(|lines| {
            lines
                .into_iter()
                .map(|l| orders::cart::Line {
                    sku: l.sku,
                    quantity: l.quantity,
                })
                .collect()
        }),
        refund_shipping: b.refund_shipping,
    };
    let window = s.order_rules.return_window_days;
    let render = |r| stored(201, &return_dto(r));
    let payments = s.payments.as_ref();
    let response = app::returns::record(
        &s.reference,
        payments,
        &w.principal,
        (req, window),
        w.idempotency,
        render,
    )
    .await?;
    Ok(reply(response))
}

/// The returns of an order, oldest first (a store that took back goods of an order it did
/// not sell sees the returns it took).
#[utoipa::path(get, path = "/v1/orders/{id}/returns", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = Vec<ReturnDto>), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn order_returns(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ReturnDto>>> {
    Ok(Json(
        app::orders::returns_of(&s.db, &p, &id)
            .await?
            .into_iter()
            .map(return_dto)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Start (inclusive), RFC 3339; default 30 days ago.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Timestamp>,
    /// End (exclusive), RFC 3339; default now.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Timestamp>,
    /// Only orders placed on channels no store owns (web, app…): what the owner fulfilled
    /// for the retailer's online business.
    pub online: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerLineDto {
    pub order_id: String,
    pub channel: String,
    pub mode: FulfilmentModeDto,
    pub state: OrderStateDto,
    /// The owner's location that fulfilled or handed over these lines.
    pub location: String,
    pub currency: String,
    pub amount_minor: i64,
    /// Placed on a channel no store owns (web, app, marketplace…).
    pub online: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

page_of!(OwnerReportPage, OwnerLineDto);

/// A franchise owner's report: the orders their locations fulfilled or handed over, with the
/// value of those lines (staff only).
#[utoipa::path(get, path = "/v1/reports/owners/{owner}/orders", tag = "orders",
    params(("owner" = String, Path, description = "The owner's name as on its locations"), ReportQuery),
    responses((status = 200, body = OwnerReportPage), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn owner_report(
    State(s): State<AppState>,
    p: Principal,
    Path(owner): Path<String>,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Json<OwnerReportPage>> {
    let now = Timestamp::now();
    let from = q
        .from
        .unwrap_or_else(|| Timestamp::from_unix_ms(now.unix_ms() - 30 * 86_400_000));
    let to =
        q.to.unwrap_or_else(|| Timestamp::from_unix_ms(now.unix_ms() + 1));
    let page = kernel::PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let scope = (owner.as_str(), from, to, q.online.unwrap_or(false));
    let found = app::reports::owner_orders(&s.db, &p, scope, &page).await?;
    Ok(Json(
        found
            .map(|l| OwnerLineDto {
                order_id: l.order_id,
                channel: l.channel,
                mode: l.mode.into(),
                state: l.state.into(),
                location: l.location,
                currency: l.currency.code().to_owned(),
                amount_minor: l.amount_minor,
                online: l.online,
                created_at: l.created_at,
            })
            .into(),
    ))
}
