//! Stored value: gift cards and store credit, one ledger. `/v1/gift-cards/lookup` tells a
//! card's balance on its code and PIN (any channel); `/v1/gift-cards/{id}` shows a card to
//! staff; `/v1/store-credits/{id}` and `/v1/customers/{id}/store-credits` show credits, and
//! service issues one by hand there with a reason. Cards and credits pay at checkout
//! (`payment.gift_card`, `payment.store_credit_id`).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::{Currency, Error, Timestamp};
use serde::{Deserialize, Serialize};
use store::stored_value::{Account, Entry};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, reply, stored};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(look_up))
        .routes(routes!(get_gift_card))
        .routes(routes!(unblock))
        .routes(routes!(get_store_credit))
        .routes(routes!(customer_store_credits, issue_credit))
}

/// One movement on a card or credit.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValueEntryDto {
    pub seq: i64,
    /// `issue`, `spend`, `give_back`, `expire` or `void`.
    pub kind: String,
    /// Signed: positive adds value.
    pub amount_minor: i64,
    pub balance_after: i64,
    pub order_id: Option<String>,
    pub reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A gift card or a store credit (never its code nor PIN).
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredValueDto {
    #[schema(example = "gc_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    /// `gift_card` or `credit`.
    pub kind: String,
    /// `active` or `void`.
    pub status: String,
    /// Whose credit it is; absent for a gift card or a bearer voucher.
    pub customer_id: Option<String>,
    pub currency: String,
    /// What it was issued with.
    pub amount_minor: i64,
    /// What is left to spend at any checkout.
    pub balance_minor: i64,
    /// A gift card's code's last four characters.
    pub code_hint: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// The return that issued a credit.
    pub return_id: Option<String>,
    /// The order that bought a gift card.
    pub order_id: Option<String>,
    /// Why service issued a credit by hand.
    pub reason: Option<String>,
    /// Wrong PINs in a row (a card stops paying at 5).
    pub pin_failures: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Its ledger, oldest first (on a single card or credit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<ValueEntryDto>>,
}

pub(crate) fn value_dto(a: Account, entries: Option<Vec<Entry>>) -> StoredValueDto {
    StoredValueDto {
        id: a.id,
        kind: a.kind.as_str().to_owned(),
        status: a.status,
        customer_id: a.customer_id,
        currency: a.currency.code().to_owned(),
        amount_minor: a.amount_minor,
        balance_minor: a.balance_minor,
        code_hint: a.code_hint,
        expires_at: a.expires_at,
        return_id: a.return_id,
        order_id: a.order_id,
        reason: a.reason,
        pin_failures: a.pin_failures,
        created_at: a.created_at,
        entries: entries.map(|es| {
            es.into_iter()
                .map(|e| ValueEntryDto {
                    seq: e.seq,
                    kind: e.kind,
                    amount_minor: e.amount_minor,
                    balance_after: e.balance_after,
                    order_id: e.order_id,
                    reason: e.reason,
                    at: e.at,
                })
                .collect()
        }),
    }
}

/// A gift card's code and PIN, as the holder types them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardPresented {
    /// 16 characters; spaces and dashes are ignored.
    #[schema(example = "ABCD-EFGH-JKLM-NPQR", max_length = 40)]
    pub code: String,
    #[schema(example = "123456", max_length = 12)]
    pub pin: String,
}

/// A gift card's balance and ledger on its code and PIN, from any channel (a web page, a
/// kiosk, the till). Five wrong PINs in a row block the card until service unblocks it.
#[utoipa::path(post, path = "/v1/gift-cards/lookup", tag = "stored value", request_body = CardPresented,
    responses((status = 200, body = StoredValueDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn look_up(
    State(s): State<AppState>,
    w: Write<CardPresented>,
) -> ApiResult<Json<StoredValueDto>> {
    let b = w.body;
    if b.code.len() > 40 || b.pin.len() > 12 {
        return Err(Error::validation("code", "a code has 16 characters, a PIN 6 digits").into());
    }
    let (card, entries) = app::stored_value::look_up(&s.db, &b.code, &b.pin).await?;
    Ok(Json(value_dto(card, Some(entries))))
}

/// A gift card by id, with its ledger (service and admin).
#[utoipa::path(get, path = "/v1/gift-cards/{id}", tag = "stored value", params(("id" = String, Path)),
    responses((status = 200, body = StoredValueDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn get_gift_card(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StoredValueDto>> {
    let (card, entries) = app::stored_value::gift_card(&s.db, &p, &id).await?;
    Ok(Json(value_dto(card, Some(entries))))
}

/// Why service unblocks a card (kept in the logs, not on the card).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unblocking {
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

/// Let a card blocked by wrong PINs pay again (service and admin).
#[utoipa::path(post, path = "/v1/gift-cards/{id}/unblock", tag = "stored value", request_body = Unblocking,
    params(("id" = String, Path)),
    responses((status = 200, body = StoredValueDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn unblock(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<Unblocking>,
) -> ApiResult<Json<StoredValueDto>> {
    let card = app::stored_value::unblock(&s.db, &w.principal, &id).await?;
    let reason = w.body.reason.as_deref().unwrap_or("");
    tracing::info!(gift_card = %id, by = %w.principal.key_id, reason, "gift card unblocked");
    Ok(Json(value_dto(card, None)))
}

/// A store credit, what is left of it and its ledger: staff, or a key that may see its
/// customer.
#[utoipa::path(get, path = "/v1/store-credits/{id}", tag = "stored value", params(("id" = String, Path)),
    responses((status = 200, body = StoredValueDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn get_store_credit(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StoredValueDto>> {
    let (credit, entries) = app::stored_value::account(&s.db, &p, &id).await?;
    if credit.kind != store::stored_value::Kind::Credit {
        return Err(Error::not_found("store credit", &id).into());
    }
    Ok(Json(value_dto(credit, Some(entries))))
}

/// A customer's store credits, newest first (a merged profile's included).
#[utoipa::path(get, path = "/v1/customers/{id}/store-credits", tag = "stored value", params(("id" = String, Path)),
    responses((status = 200, body = Vec<StoredValueDto>), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn customer_store_credits(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<StoredValueDto>>> {
    let credits = app::stored_value::of_customer(&s.db, &p, &id).await?;
    Ok(Json(
        credits.into_iter().map(|c| value_dto(c, None)).collect(),
    ))
}

/// Store credit issued by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditIssue {
    #[schema(minimum = 1, maximum = 10000000)]
    pub amount_minor: i64,
    #[schema(example = "EUR")]
    pub currency: String,
    /// Why (a goodwill gesture, a late delivery…); blanked if the customer is erased.
    #[schema(min_length = 3, max_length = 200)]
    pub reason: String,
    /// Months it stays valid; it never expires when absent.
    #[schema(minimum = 1, maximum = 120)]
    pub valid_months: Option<i64>,
}

/// Issue store credit to a customer (service and admin), with the reason; it pays at any
/// checkout of that customer's with `payment.store_credit_id`.
#[utoipa::path(post, path = "/v1/customers/{id}/store-credits", tag = "stored value",
    request_body = CreditIssue, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = StoredValueDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn issue_credit(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<CreditIssue>,
) -> ApiResult<Response> {
    let b = w.body;
    let credit = app::stored_value::NewCredit {
        amount_minor: b.amount_minor,
        currency: Currency::parse(&b.currency).map_err(|m| Error::validation("currency", m))?,
        reason: b.reason,
        valid_months: b.valid_months,
    };
    let render = |a| stored(201, &value_dto(a, None));
    let response =
        app::stored_value::issue_credit(&s.db, &w.principal, &id, credit, w.idempotency, render)
            .await?;
    Ok(reply(response))
}
