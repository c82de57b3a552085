//! `/v1/outbox`: the outbox, readable by admins (CloudEvents 1.0, in commit order per node).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::PageParams;
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Q;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
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
    p.require_admin()?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let found = store::events::list(&s.db, q.kind.as_deref(), q.subject.as_deref(), &page).await?;
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
                actor: e.event.actor,
                data: e.event.data,
            })
            .into(),
    ))
}
