//! `POST /v1/events`: behavioural events from every channel — one event or a batch of up to
//! 1,000 — validated one by one (a bad event is reported by its index; the others are
//! stored), stored durably in one command, each resolved to a profile.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use customers::CustomerEvent;
use kernel::{Error, ErrorCode, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::customers::{IdentifierIn, parse_identifiers};
use super::{IdempotencyHeader, reply, stored};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorDetail};
use crate::extract::{Q, Write, parse_json};
use crate::state::AppState;

/// Most events in one request.
pub const MAX_BATCH: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest))
        .routes(routes!(resolution))
        .routes(routes!(set_aside))
        .routes(routes!(retry_set_aside))
}

/// One behavioural event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// The channel it happened on; a channel key's own channel by default.
    #[schema(example = "app")]
    pub channel: Option<String>,
    /// `page_view`, `product_view`, `search`, `add_to_cart`, `store_visit`,
    /// `kiosk_session`, `sign_in`… or any snake_case type.
    #[serde(rename = "type")]
    #[schema(example = "product_view")]
    pub kind: String,
    /// What the channel knows of the customer: at least one identifier. Identifiers named
    /// together are linked (their profiles merge under the survivor rule and guard rails).
    #[schema(min_items = 1, max_items = 10)]
    pub identifiers: Vec<IdentifierIn>,
    /// The store, for store visits and kiosk sessions.
    pub location_code: Option<String>,
    /// Free properties (a SKU, a search query…), up to 8 KiB of JSON.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// When it happened; now by default. At most 5 minutes in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<Timestamp>,
}

/// A batch: `{"events": [...]}`. A single event may also be sent on its own.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<EventIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoredEventDto {
    /// Position of the event in the request.
    pub index: usize,
    /// The profile it was resolved to (when resolved as it was stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedEventDto {
    pub index: usize,
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestDto {
    pub accepted: usize,
    /// `done`: resolved to profiles as they were stored; `pending`: durable, resolved behind
    /// the log (`relais.customer.events_resolved`).
    #[schema(example = "pending")]
    pub resolution: &'static str,
    pub stored: Vec<StoredEventDto>,
    /// Events refused, by index; nothing was written for them.
    pub rejected: Vec<RejectedEventDto>,
    /// Profiles created by this batch (when resolved as they were stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles_created: Option<usize>,
    /// Merges this batch caused (when resolved as they were stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merges: Option<usize>,
}

fn detail(e: Error) -> ErrorDetail {
    ErrorDetail {
        code: e.code,
        message: e.message,
        details: e.details,
    }
}

/// The events of a body: a batch (`{"events": [...]}`) or one event. Each event is parsed
/// on its own, so a malformed one is reported by index without failing the others.
fn split_body(body: &RawValue) -> Result<Vec<Result<EventIn, Error>>, ApiError> {
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(borrow)]
        events: Option<Vec<&'a RawValue>>,
    }
    // The top level only: values stay raw, so a batch is not parsed twice.
    let is_batch = body.get().trim_start().starts_with('{')
        && serde_json::from_str::<std::collections::HashMap<&str, &RawValue>>(body.get())
            .map(|m| m.len() == 1 && m.contains_key("events"))
            .unwrap_or(false);
    if !is_batch {
        return Ok(vec![
            parse_json::<EventIn>(body.get().as_bytes()).map_err(|e| e.0),
        ]);
    }
    let shape: Shape = serde_json::from_str(body.get()).map_err(|e| {
        ApiError(Error::new(ErrorCode::InvalidBody, e.to_string()).with("field", "events"))
    })?;
    let events = shape.events.unwrap_or_default();
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(ApiError(Error::validation(
            "events",
            format!("a batch holds 1 to {MAX_BATCH} events"),
        )));
    }
    Ok(events
        .into_iter()
        .map(|raw| parse_json::<EventIn>(raw.get().as_bytes()).map_err(|e| e.0))
        .collect())
}

fn to_event(
    s: &AppState,
    p: &Principal,
    e: EventIn,
    now: Timestamp,
) -> Result<CustomerEvent, Error> {
    let channel = app::access::event_channel(p, e.channel)?;
    let identifiers = parse_identifiers(
        "identifiers",
        &e.identifiers,
        &s.phones,
        customers::event::MAX_IDENTIFIERS,
    )?
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    let event = CustomerEvent {
        channel,
        kind: e.kind,
        identifiers,
        location_code: e.location_code,
        properties: e.properties,
        occurred_at: e.occurred_at.unwrap_or(now),
    };
    event.validate(now)?;
    Ok(event)
}

/// How `POST /v1/events` answers.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngestQuery {
    /// `resolved`: answer once the events are resolved, with each event's profile. By
    /// default the answer comes as soon as the events are durable, and resolution follows
    /// within milliseconds (every read through Relais sees them resolved).
    pub wait: Option<String>,
}

/// Ingest behavioural events: one event, or `{"events": [...]}` with up to 1,000. Each is
/// validated on its own: refused ones are listed by index with their error and nothing is
/// written for them; the others are stored durably. 200 when at least one event was stored;
/// 422 (`validation_failed`, `details.rejected`) when none was. On SQLite the events are
/// resolved to profiles behind the log unless `wait=resolved` (`resolution: pending`, no
/// profile ids); on PostgreSQL, and with `wait=resolved`, as they are stored
/// (`resolution: done`, each event's `customer_id`, `profiles_created`, `merges`).
/// Event identifiers are never `verified` (a sign-in proves them: `/v1/customers/identify`).
#[utoipa::path(post, path = "/v1/events", tag = "customer events", request_body = EventBatch,
    params(IdempotencyHeader, IngestQuery),
    responses((status = 200, body = IngestDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn ingest(
    State(s): State<AppState>,
    Q(q): Q<IngestQuery>,
    w: Write<Box<RawValue>>,
) -> ApiResult<Response> {
    let wait = match q.wait.as_deref() {
        None => false,
        Some("resolved") => true,
        Some(_) => {
            return Err(ApiError(Error::validation(
                "wait",
                "the only value is `resolved`",
            )));
        }
    };
    let now = Timestamp::now();
    let mut valid = Vec::new();
    let mut rejected = Vec::new();
    for (index, parsed) in split_body(&w.body)?.into_iter().enumerate() {
        match parsed.and_then(|e| to_event(&s, &w.principal, e, now)) {
            // Rendered here, on the request's task, so the writer only binds the columns.
            Ok(event) => valid.push(store::customer_events::ReadyEvent::new(index, event)),
            Err(e) => rejected.push((index, e)),
        }
    }
    let batch = app::events::Batch {
        valid,
        rejected,
        wait_resolved: wait,
    };
    let response = app::events::ingest(
        &s.db,
        s.resolution,
        &w.principal,
        batch,
        w.idempotency,
        render_ingested,
    )
    .await?;
    Ok(reply(response))
}

/// The answer to a batch. Counted as the response is made, inside the command (a replay is
/// not counted again; a batch whose commit then fails, rare, is).
fn render_ingested(ingested: app::events::Ingested) -> store::StoredResponse {
    let dto = match ingested {
        app::events::Ingested::Resolved(o) => {
            count_batch(o.stored.len(), o.rejected.len());
            let merges = o.stored.iter().map(|i| i.absorbed.len()).sum::<usize>();
            metrics::counter!("relais_customer_merges_total").increment(merges as u64);
            IngestDto {
                accepted: o.stored.len(),
                resolution: "done",
                profiles_created: Some(o.stored.iter().filter(|i| i.created).count()),
                merges: Some(merges),
                stored: o
                    .stored
                    .into_iter()
                    .map(|i| StoredEventDto {
                        index: i.index,
                        customer_id: Some(i.customer_id),
                    })
                    .collect(),
                rejected: rejected_dtos(o.rejected),
            }
        }
        app::events::Ingested::Pending(o) => {
            count_batch(o.stored.len(), o.rejected.len());
            IngestDto {
                accepted: o.stored.len(),
                resolution: "pending",
                profiles_created: None,
                merges: None,
                stored: o
                    .stored
                    .into_iter()
                    .map(|index| StoredEventDto {
                        index,
                        customer_id: None,
                    })
                    .collect(),
                rejected: rejected_dtos(o.rejected),
            }
        }
    };
    stored(200, &dto)
}

fn count_batch(stored: usize, rejected: usize) {
    metrics::counter!("relais_customer_events_stored_total").increment(stored as u64);
    metrics::counter!("relais_customer_events_rejected_total").increment(rejected as u64);
}

fn rejected_dtos(rejected: Vec<(usize, Error)>) -> Vec<RejectedEventDto> {
    rejected
        .into_iter()
        .map(|(index, e)| RejectedEventDto {
            index,
            error: detail(e),
        })
        .collect()
}

/// Where identity resolution stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolutionStatusDto {
    /// The last event sequence number appended to the log.
    pub appended_upto: i64,
    /// The last event sequence number resolved to a profile.
    pub resolved_upto: i64,
    /// Events acknowledged and not yet resolved.
    pub pending: i64,
    /// Events that failed resolution on their own and were set aside, so that the events
    /// after them could be resolved (`relais.customer.event_set_aside` names each, with its
    /// error). They stay in the log, without a profile.
    pub set_aside: i64,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolutionQuery {
    /// `true`: resolve every event acknowledged so far before answering.
    #[serde(default)]
    pub wait: bool,
}

/// Where identity resolution of acknowledged events stands (always caught up on
/// PostgreSQL); with `wait=true`, once every event acknowledged before the call is resolved.
#[utoipa::path(get, path = "/v1/events/resolution", tag = "customer events",
    params(ResolutionQuery),
    responses((status = 200, body = ResolutionStatusDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn resolution(
    State(s): State<AppState>,
    _caller: Principal,
    Q(q): Q<ResolutionQuery>,
) -> ApiResult<axum::Json<ResolutionStatusDto>> {
    if q.wait {
        store::customer_events::catch_up(&s.db).await?;
    }
    let at = store::customer_events::positions(&s.db).await?;
    Ok(axum::Json(ResolutionStatusDto {
        appended_upto: at.appended,
        resolved_upto: at.resolved,
        pending: at.appended - at.resolved,
        set_aside: store::customer_events::set_aside_count(&s.db).await?,
    }))
}

/// An event set aside by the resolver: it failed resolution on its own, and stays in the
/// log without a profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetAsideEventDto {
    pub seq: i64,
    pub channel: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The error it failed with.
    pub code: String,
    pub message: String,
    /// When it was set aside.
    #[schema(value_type = String, format = DateTime)]
    pub set_at: Timestamp,
}

impl From<store::customer_events::SetAsideEvent> for SetAsideEventDto {
    fn from(e: store::customer_events::SetAsideEvent) -> Self {
        SetAsideEventDto {
            seq: e.seq,
            channel: e.channel,
            kind: e.kind,
            code: e.code,
            message: e.message,
            set_at: e.set_at,
        }
    }
}

super::page_of!(SetAsidePage, SetAsideEventDto);

/// Events the resolver set aside because they failed resolution on their own (a damaged
/// row, a bug), oldest first, with their error: each was also announced as
/// `relais.customer.event_set_aside`. Service and admin keys.
#[utoipa::path(get, path = "/v1/events/set-aside", tag = "customer events",
    params(super::PageParams),
    responses((status = 200, body = SetAsidePage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_aside(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<super::PageParams>,
) -> ApiResult<axum::Json<SetAsidePage>> {
    let found = app::reports::set_aside_events(&s.db, &p, &q.request()?).await?;
    Ok(axum::Json(found.map(SetAsideEventDto::from).into()))
}

/// What resolving a set-aside event again did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetriedDto {
    pub seq: i64,
    /// The profile the event now belongs to.
    pub customer_id: String,
    /// Whether that profile was made for it.
    pub created: bool,
    /// Profiles merged by its link.
    pub merges: usize,
}

/// Resolve a set-aside event again — once its row is repaired, or when what failed did not
/// last: it is linked like any event, filed under its profile, and leaves the list
/// (`relais.customer.event_retried`). 409 with the error when it still fails (nothing
/// changes); 404 when the event is not set aside. Service and admin keys.
#[utoipa::path(post, path = "/v1/events/set-aside/{seq}/retry", tag = "customer events",
    request_body = super::EmptyBody,
    params(("seq" = i64, Path), IdempotencyHeader),
    responses((status = 200, body = RetriedDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn retry_set_aside(
    State(s): State<AppState>,
    crate::extract::Path(seq): crate::extract::Path<i64>,
    w: Write<super::EmptyBody>,
) -> ApiResult<Response> {
    let response = app::customers::retry_set_aside(
        &s.db,
        &w.principal,
        seq,
        s.resolution,
        w.idempotency,
        |r| {
            stored(
                200,
                &RetriedDto {
                    seq: r.seq,
                    customer_id: r.customer_id,
                    created: r.created,
                    merges: r.merges,
                },
            )
        },
    )
    .await?;
    Ok(reply(response))
}

/// Reads of profiles, identities, histories and reviews see every acknowledged event
/// resolved: the log's tail is resolved first (one small read when nothing waits).
pub async fn resolved_reads(
    State(db): State<store::Db>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let reads_profiles = path.starts_with("/v1/customers") || path.starts_with("/v1/merge-reviews");
    if request.method() == axum::http::Method::GET
        && reads_profiles
        && let Err(e) = store::customer_events::catch_up(&db).await
    {
        return ApiError(e).into_response();
    }
    next.run(request).await
}
