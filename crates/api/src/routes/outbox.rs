//! `/v1/outbox`: the outbox, readable by admins (CloudEvents 1.0, in commit order per node);
//! `/v1/event-types`: the event catalogue, with the JSON Schema of each type's `data`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::PageParams;
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(list_event_types))
        .routes(routes!(get_event_type))
}

/// A CloudEvents 1.0 event (structured JSON mode) and its outbox position.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDto {
    /// Position in the outbox.
    pub seq: i64,
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    #[schema(example = "relais.product.created")]
    pub kind: String,
    pub subject: String,
    #[schema(format = DateTime)]
    pub time: String,
    pub datacontenttype: String,
    /// The schema of `data` (see `GET /v1/event-types/{type}`); absent on older events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataschema: Option<String>,
    /// Who made the change (an API key id).
    pub actor: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

super::page_of!(EventPage, EventDto);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this type, e.g. `relais.price.set`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only events about this subject (a product id, a SKU, a location code).
    pub subject: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Read the outbox (admin).
#[utoipa::path(get, path = "/v1/outbox", tag = "outbox", params(EventQuery),
    responses((status = 200, body = EventPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_events(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<EventQuery>,
) -> ApiResult<Json<EventPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let filter = (q.kind.as_deref(), q.subject.as_deref());
    let found = app::reports::outbox(&s.db, &p, filter, &page).await?;
    Ok(Json(
        found
            .map(|e| EventDto {
                seq: e.seq,
                specversion: e.event.specversion,
                id: e.event.id,
                source: e.event.source,
                kind: e.event.kind,
                subject: e.event.subject,
                time: e.event.time.to_text(),
                datacontenttype: e.event.datacontenttype,
                dataschema: e.event.dataschema,
                actor: e.event.actor,
                data: e.event.data,
            })
            .into(),
    ))
}

/// One type of the event catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeDto {
    #[serde(rename = "type")]
    #[schema(example = "relais.order.ready_for_pickup")]
    pub kind: String,
    pub description: String,
    /// What the envelope's `subject` holds.
    pub subject: String,
    pub version: u32,
    /// The envelopes' `dataschema`, also the `$id` of the schema.
    pub dataschema: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeList {
    pub data: Vec<EventTypeDto>,
}

/// The event catalogue: every type Relais emits (also `docs/events.md`).
#[utoipa::path(get, path = "/v1/event-types", tag = "outbox",
    responses((status = 200, body = EventTypeList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_event_types() -> Json<EventTypeList> {
    let data = outbox::TYPES
        .iter()
        .map(|t| EventTypeDto {
            kind: t.kind.to_owned(),
            description: t.description(),
            subject: t.subject.to_owned(),
            version: outbox::catalogue::SCHEMA_VERSION,
            dataschema: t.dataschema(),
        })
        .collect();
    Json(EventTypeList { data })
}

/// The JSON Schema (draft 2020-12) of one event type's `data`.
#[utoipa::path(get, path = "/v1/event-types/{type}", tag = "outbox",
    params(("type" = String, Path, description = "An event type, e.g. `relais.hold.created`.")),
    responses((status = 200, description = "A JSON Schema", body = Object),
        (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_event_type(Path(kind): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let found = outbox::catalogue::find(&kind)
        .ok_or_else(|| kernel::Error::not_found("event type", &kind))?;
    Ok(Json(found.schema()))
}
