//! `/v1/webhooks` (admin): subscriptions of receivers to event types, their secrets, their
//! delivery logs and replays. Deliveries are signed as the Standard Webhooks specification
//! says (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::Timestamp;
use outbox::webhooks::SubscriptionStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, present, reply, stored, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(deliveries))
        .routes(routes!(replay_one))
        .routes(routes!(replay_since))
}

wire_enum!(
    /// `active`: events are queued and delivered; `disabled`: neither (a receiver answered
    /// 410, a delivery failed for 3 days, or an admin disabled it).
    WebhookStatusDto <=> SubscriptionStatus { Active, Disabled }
);

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDto {
    #[schema(example = "whk_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    /// Event types or `relais.<entity>.*`; empty: every type.
    pub event_types: Vec<String>,
    pub status: WebhookStatusDto,
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_…`): only in the answers that create or rotate it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// While a rotated-out secret still signs too.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_until: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

fn webhook_dto(s: store::webhooks::Subscription, show_secret: bool) -> WebhookDto {
    WebhookDto {
        id: s.id,
        url: s.url,
        description: s.description,
        event_types: s.event_types,
        status: s.status.into(),
        disabled_reason: s.disabled_reason,
        secret: show_secret.then_some(s.secret),
        previous_secret_until: s.previous_until.filter(|_| s.previous_secret.is_some()),
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<WebhookDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    #[schema(example = "https://erp.example.com/relais/events")]
    pub url: String,
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// Event types (`GET /v1/event-types`) or `relais.<entity>.*`; empty or absent: all.
    #[serde(default)]
    #[schema(example = json!(["relais.order.*", "relais.stock.moved"]))]
    pub event_types: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhook {
    pub url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    /// `active` enables it again (deliveries resume where they stopped).
    pub status: Option<WebhookStatusDto>,
}

/// Every webhook subscription (admin).
#[utoipa::path(get, path = "/v1/webhooks", tag = "outbox",
    responses((status = 200, body = WebhookList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_webhooks(State(s): State<AppState>, p: Principal) -> ApiResult<Json<WebhookList>> {
    let data = app::webhooks::list(&s.db, &p).await?;
    let data = data.into_iter().map(|w| webhook_dto(w, false)).collect();
    Ok(Json(WebhookList { data }))
}

/// Subscribe a receiver to event types (admin). The answer holds the signing secret, shown
/// this once; events committed from now on are delivered, at least once, in order per
/// subject, retried for about three days.
#[utoipa::path(post, path = "/v1/webhooks", tag = "outbox", request_body = CreateWebhook, params(IdempotencyHeader),
    responses((status = 201, body = WebhookDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_webhook(State(s): State<AppState>, w: Write<CreateWebhook>) -> ApiResult<Response> {
    let b = w.body;
    let new = app::webhooks::NewSubscription {
        url: b.url,
        description: b.description,
        event_types: b.event_types,
    };
    let render = |s| stored(201, &webhook_dto(s, true));
    let response = app::webhooks::create(&s.db, &w.principal, new, w.idempotency, render).await?;
    Ok(reply(response))
}

/// One webhook subscription (admin).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "outbox", params(("id" = String, Path)),
    responses((status = 200, body = WebhookDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_webhook(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookDto>> {
    Ok(Json(webhook_dto(
        app::webhooks::get(&s.db, &p, &id).await?,
        false,
    )))
}

/// Change a subscription (admin): its URL, description, event types, or enable or disable it.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "outbox", request_body = PatchWebhook,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = WebhookDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_webhook(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<PatchWebhook>,
) -> ApiResult<Response> {
    let b = w.body;
    let patch = app::webhooks::SubscriptionPatch {
        url: b.url,
        description: b.description,
        event_types: b.event_types,
        status: b.status.map(Into::into),
    };
    let render = |s| stored(200, &webhook_dto(s, false));
    let response =
        app::webhooks::update(&s.db, &w.principal, id, patch, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Give a subscription a new signing secret (admin), shown in the answer; the previous one
/// keeps signing next to it for 24 hours, so the receiver can switch.
#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate-secret", tag = "outbox", request_body = super::EmptyBody,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = WebhookDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn rotate_secret(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<super::EmptyBody>,
) -> ApiResult<Response> {
    let render = |s| stored(200, &webhook_dto(s, true));
    let response =
        app::webhooks::rotate_secret(&s.db, &w.principal, id, w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    /// The event's place in the outbox; `webhook-id` is `event_id`.
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub subject: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i64,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    /// The receiver's last answer, or why there was none.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<DeliveryDto>,
    /// Pass as `before` for older deliveries; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// Only deliveries of events before this sequence number (paging).
    pub before: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A subscription's delivery log, newest first (admin).
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "outbox", params(("id" = String, Path), DeliveryQuery),
    responses((status = 200, body = DeliveryList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn deliveries(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<DeliveryQuery>,
) -> ApiResult<Json<DeliveryList>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(kernel::Error::validation("limit", "1 to 500").into());
    }
    if let Some(st) = q.status.as_deref()
        && !["pending", "delivered", "failed"].contains(&st)
    {
        return Err(kernel::Error::validation("status", "pending, delivered or failed").into());
    }
    let page = (q.before, limit);
    let found = app::webhooks::log(&s.db, &p, &id, q.status.as_deref(), page).await?;
    let next_before = (found.len() as i64 == limit)
        .then(|| found.last().map(|d| d.seq))
        .flatten();
    let data = found
        .into_iter()
        .map(|d| DeliveryDto {
            seq: d.seq,
            event_id: d.event_id,
            event_type: d.event_type,
            subject: d.subject,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        })
        .collect();
    Ok(Json(DeliveryList { data, next_before }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// Deliveries that will be sent again.
    pub replayed: u64,
}

/// Send one delivery again, now (admin).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{seq}/replay", tag = "outbox", request_body = super::EmptyBody,
    params(("id" = String, Path), ("seq" = i64, Path), IdempotencyHeader),
    responses((status = 200, body = Replayed), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn replay_one(
    State(s): State<AppState>,
    Path((id, seq)): Path<(String, i64)>,
    w: Write<super::EmptyBody>,
) -> ApiResult<Response> {
    let render = |replayed| stored(200, &Replayed { replayed });
    let response =
        app::webhooks::replay(&s.db, &w.principal, id, Ok(seq), w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySince {
    /// Every delivery queued at or after this instant is sent again.
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

/// Send again every delivery queued since a time (admin): a receiver that lost data
/// catches up.
#[utoipa::path(post, path = "/v1/webhooks/{id}/replay", tag = "outbox", request_body = ReplaySince,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = Replayed), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn replay_since(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<ReplaySince>,
) -> ApiResult<Response> {
    let since = Err(w.body.since);
    let render = |replayed| stored(200, &Replayed { replayed });
    let response =
        app::webhooks::replay(&s.db, &w.principal, id, since, w.idempotency, render).await?;
    Ok(reply(response))
}
