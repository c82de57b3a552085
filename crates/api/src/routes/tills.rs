//! The offline till: `POST /v1/tills/{id}/batches` uploads what a till did while offline,
//! applied once and in the till's order; `GET /v1/tills/{id}` says which batch comes next;
//! `/v1/locations/{code}/pos-conflicts` is the store's queue of what offline sales found
//! spent meanwhile, and `/v1/pos-conflicts/{id}/resolution` resolves one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kernel::{Currency, Error, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::tills::{Conflict, SaleLine, Till};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::orders::ConditionDto;
use super::stock::MovementKindDto;
use super::{PageParams, page_of};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_batch))
        .routes(routes!(get_till))
        .routes(routes!(store_conflicts))
        .routes(routes!(resolve))
}

/// A batch of what a till did offline, in its order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TillBatch {
    /// The store the till belongs to (fixed at its first batch).
    #[schema(example = "LYS-BELLECOUR")]
    pub location: String,
    /// 1 for the till's first batch, then each one more: a batch applies only after the one
    /// before it, and once.
    #[schema(minimum = 1)]
    pub seq: i64,
    #[schema(min_items = 1, max_items = 1000)]
    pub operations: Vec<OperationIn>,
}

/// One thing the till did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OperationIn {
    Sale(SaleIn),
    Return(ReturnIn),
    Movement(MovementIn),
}

/// A sale as rung up: its prices, discounts and VAT are the receipt's.
// Not `deny_unknown_fields` (nor `ReturnIn`, `MovementIn`): an operation's `kind` is a field
// of the same object, and the schema would then forbid it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SaleIn {
    /// The till's receipt number (unique per till).
    #[schema(example = "T01-000123")]
    pub receipt: String,
    /// When it was rung up.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    #[schema(example = "EUR")]
    pub currency: String,
    /// The member or customer identified at the till, if any.
    pub customer_id: Option<String>,
    pub lines: Vec<SaleLineIn>,
    pub payments: Vec<TillPaymentIn>,
    /// A coupon code the till accepted.
    pub coupon: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleLineIn {
    pub sku: String,
    #[schema(minimum = 1, maximum = 10000)]
    pub quantity: i64,
    #[schema(minimum = 0)]
    pub unit_price_minor: i64,
    /// Off the line's units together.
    #[serde(default)]
    pub discount_minor: i64,
    /// Basis points (2000 = 20 %).
    #[serde(default)]
    pub tax_rate_bp: i64,
    /// The VAT included in what the line cost.
    #[serde(default)]
    pub tax_minor: i64,
}

/// How part of a sale was paid.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum TillPaymentIn {
    /// The card terminal, which may authorise offline.
    Card {
        amount_minor: i64,
        reference: Option<String>,
    },
    Cash {
        amount_minor: i64,
    },
    /// The sale's customer's points.
    Points {
        points: i64,
    },
    /// A gift card in hand, by its code.
    GiftCard {
        code: String,
        amount_minor: i64,
    },
    StoreCredit {
        store_credit_id: String,
        amount_minor: i64,
    },
}

/// Goods brought back to the till, refunded to how they were paid.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReturnIn {
    pub receipt: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// An order number or e-receipt, or `receipt:<n>` for a receipt of this till.
    pub order: String,
    pub lines: Vec<TillReturnLine>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TillReturnLine {
    pub line: i64,
    #[schema(minimum = 1)]
    pub quantity: i64,
    pub condition: ConditionDto,
}

/// A stock movement made at the till (a count, a damaged unit…).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementIn {
    pub receipt: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub sku: String,
    pub movement: MovementKindDto,
    pub quantity: i64,
    pub reason: String,
}

fn operation(op: OperationIn) -> Result<app::tills::Operation, Error> {
    use app::tills::{Operation, TillMovement, TillReturn};
    Ok(match op {
        OperationIn::Sale(s) => Operation::Sale(sale(s)?),
        OperationIn::Return(r) => Operation::Return(TillReturn {
            receipt: r.receipt,
            at: r.at,
            order: r.order,
            lines: r
                .lines
                .into_iter()
                .map(|l| store::returns::ReturnLineIn {
                    line_no: l.line,
                    quantity: l.quantity,
                    condition: l.condition.into(),
                })
                .collect(),
        }),
        OperationIn::Movement(m) => Operation::Movement(TillMovement {
            receipt: m.receipt,
            at: m.at,
            sku: m.sku,
            kind: m.movement.into(),
            quantity: m.quantity,
            reason: m.reason,
        }),
    })
}

fn sale(s: SaleIn) -> Result<app::tills::TillSale, Error> {
    use app::tills::TillPayment;
    Ok(app::tills::TillSale {
        receipt: s.receipt,
        at: s.at,
        currency: Currency::parse(&s.currency).map_err(|m| Error::validation("currency", m))?,
        customer_id: s.customer_id,
        lines: s
            .lines
            .into_iter()
            .map(|l| SaleLine {
                sku: l.sku,
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
                discount_minor: l.discount_minor,
                tax_rate_bp: l.tax_rate_bp,
                tax_minor: l.tax_minor,
            })
            .collect(),
        payments: s
            .payments
            .into_iter()
            .map(|p| match p {
                TillPaymentIn::Card {
                    amount_minor,
                    reference,
                } => TillPayment::Card {
                    amount_minor,
                    reference,
                },
                TillPaymentIn::Cash { amount_minor } => TillPayment::Cash { amount_minor },
                TillPaymentIn::Points { points } => TillPayment::Points { points },
                TillPaymentIn::GiftCard { code, amount_minor } => {
                    TillPayment::GiftCard { code, amount_minor }
                }
                TillPaymentIn::StoreCredit {
                    store_credit_id,
                    amount_minor,
                } => TillPayment::StoreCredit {
                    id: store_credit_id,
                    amount_minor,
                },
            })
            .collect(),
        coupon: s.coupon,
    })
}

/// What a batch did; a replay answers the same, with `replayed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchDone {
    pub till: String,
    pub location: String,
    pub seq: i64,
    pub sales: i64,
    pub returns: i64,
    pub movements: i64,
    /// What each receipt became: an order, a return, a stock movement.
    pub receipts: Vec<TillReceiptDto>,
    /// The conflicts opened in the store's queue.
    pub conflicts: Vec<ConflictNoteDto>,
    /// True when this batch had been applied before: nothing changed now.
    pub replayed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TillReceiptDto {
    pub receipt: String,
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictNoteDto {
    pub id: String,
    pub receipt: String,
    pub kind: String,
    pub short: i64,
}

/// Upload a batch of what a till did offline (store key of the till's store, or service).
/// It applies once, in the till's order: `seq` must follow the last batch applied (else
/// `conflict` with `expected_seq`); a batch applied before answers 200 with what it did then
/// and changes nothing. Sales are never refused: what they found spent meanwhile opens
/// conflicts in the store's queue.
#[utoipa::path(post, path = "/v1/tills/{id}/batches", tag = "tills", request_body = TillBatch,
    params(("id" = String, Path, description = "The till's own id")),
    responses((status = 201, body = BatchDone), (status = 200, body = BatchDone), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn post_batch(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<TillBatch>,
) -> ApiResult<Response> {
    let body = serde_json::to_vec(&w.body).map_err(|e| Error::internal(e.to_string()))?;
    let digest = kernel::hex::encode(&Sha256::digest(&body));
    let b = w.body;
    let batch = app::tills::Batch {
        till: id,
        location: b.location,
        seq: b.seq,
        digest,
        operations: b
            .operations
            .into_iter()
            .map(operation)
            .collect::<Result<_, _>>()?,
    };
    let (a, replayed) =
        app::tills::apply_batch(&s.db, s.payments.as_ref(), &w.principal, batch).await?;
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let done = BatchDone {
        till: a.till,
        location: a.location,
        seq: a.seq,
        sales: a.sales,
        returns: a.returns,
        movements: a.movements,
        receipts: a
            .receipts
            .into_iter()
            .map(|r| TillReceiptDto {
                receipt: r.receipt,
                id: r.id,
            })
            .collect(),
        conflicts: a
            .conflicts
            .into_iter()
            .map(|c| ConflictNoteDto {
                id: c.id,
                receipt: c.receipt,
                kind: c.kind,
                short: c.short,
            })
            .collect(),
        replayed,
    };
    Ok((status, Json(done)).into_response())
}

/// A till: its store, and the last batch applied (send `last_seq + 1` next).
#[derive(Debug, Serialize, ToSchema)]
pub struct TillDto {
    pub id: String,
    pub location: String,
    pub channel: String,
    pub last_seq: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_batch_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A till and the batch it should send next (its store's key, or service).
#[utoipa::path(get, path = "/v1/tills/{id}", tag = "tills", params(("id" = String, Path)),
    responses((status = 200, body = TillDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn get_till(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TillDto>> {
    let t: Till = app::tills::till(&s.db, &p, &id).await?;
    Ok(Json(TillDto {
        id: t.id,
        location: t.location,
        channel: t.channel,
        last_seq: t.last_seq,
        last_batch_at: t.last_batch_at,
        created_at: t.created_at,
    }))
}

/// A conflict between an offline sale and what happened meanwhile.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictDto {
    pub id: String,
    pub location: String,
    pub till_id: String,
    pub batch_seq: i64,
    pub receipt: String,
    pub order_id: Option<String>,
    /// `stock`, `points`, `coupon` or `gift_card`.
    pub kind: String,
    pub sku: Option<String>,
    pub customer_id: Option<String>,
    /// The coupon code, or the gift card's or credit's id.
    pub reference: Option<String>,
    /// Units, points or minor units short.
    pub short: i64,
    pub detail: String,
    /// `open` or `resolved`.
    pub status: String,
    /// `transfer`, `cancel_online` or `accept`.
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    pub note: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Conflict> for ConflictDto {
    fn from(c: Conflict) -> Self {
        ConflictDto {
            id: c.id,
            location: c.location,
            till_id: c.till_id,
            batch_seq: c.batch_seq,
            receipt: c.receipt,
            order_id: c.order_id,
            kind: c.kind,
            sku: c.sku,
            customer_id: c.customer_id,
            reference: c.reference,
            short: c.short,
            detail: c.detail,
            status: c.status,
            resolution: c.resolution,
            resolved_by: c.resolved_by,
            resolved_at: c.resolved_at,
            note: c.note,
            created_at: c.created_at,
        }
    }
}

page_of!(ConflictPage, ConflictDto);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConflictQuery {
    /// `open` (the queue) or `resolved`; both when absent.
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A store's till conflicts, oldest first: its queue with `status=open`.
#[utoipa::path(get, path = "/v1/locations/{code}/pos-conflicts", tag = "tills", params(("code" = String, Path), ConflictQuery),
    responses((status = 200, body = ConflictPage), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn store_conflicts(
    State(s): State<AppState>,
    p: Principal,
    Path(code): Path<String>,
    Q(q): Q<ConflictQuery>,
) -> ApiResult<Json<ConflictPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let found = app::tills::conflicts(&s.db, &p, &code, q.status.as_deref(), &page).await?;
    Ok(Json(found.map(ConflictDto::from).into()))
}

/// How the store resolves a conflict.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionIn {
    /// `transfer` (name the transfer bringing the units), `cancel_online` (name the online
    /// order the store can no longer serve: it is cancelled and refunded) or `accept`.
    pub action: String,
    pub transfer_id: Option<String>,
    pub order_id: Option<String>,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Resolve a conflict of the store's queue (the store's key, or service).
#[utoipa::path(post, path = "/v1/pos-conflicts/{id}/resolution", tag = "tills", request_body = ResolutionIn,
    params(("id" = String, Path)),
    responses((status = 200, body = ConflictDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn resolve(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<ResolutionIn>,
) -> ApiResult<Json<ConflictDto>> {
    use app::tills::Resolution;
    let b = w.body;
    let missing = |f: &str| Error::validation(f, format!("`{}` names the {f}", b.action));
    let resolution = match b.action.as_str() {
        "transfer" => Resolution::Transfer {
            transfer_id: b
                .transfer_id
                .clone()
                .ok_or_else(|| missing("transfer_id"))?,
        },
        "cancel_online" => Resolution::CancelOnline {
            order_id: b.order_id.clone().ok_or_else(|| missing("order_id"))?,
        },
        "accept" => Resolution::Accept,
        other => {
            return Err(Error::validation(
                "action",
                format!("`{other}` is not transfer, cancel_online or accept"),
            )
            .into());
        }
    };
    let change = (resolution, b.note);
    let done = app::tills::resolve(&s.db, s.payments.as_ref(), &w.principal, &id, change).await?;
    Ok(Json(done.into()))
}
