//! `/v1/stream/availability`: ATP changes pushed as Server-Sent Events, resumable.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use kernel::{Error, ErrorCode, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::stock::FulfilmentDto;
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Q;
use crate::live::{Change, Filter, Follower};
use crate::state::AppState;
use app::availability::ChannelView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream_availability))
}

/// The most SKUs or locations one stream may name.
pub const MAX_FILTER_ITEMS: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Comma-separated SKUs to follow (at most 1000); default all.
    #[param(example = "ES001-BLE-38,ES001-BLE-39")]
    pub skus: Option<String>,
    /// Comma-separated location codes to follow (at most 1000); default all.
    pub locations: Option<String>,
    /// Follow ATP as this channel sees it (its sourcing policy and channel safety stock);
    /// a channel key follows its own channel's view without asking.
    pub channel: Option<String>,
    /// With a channel: only locations it may promise from for this fulfilment.
    #[param(inline)]
    pub fulfilment: Option<FulfilmentDto>,
    /// Resume after this event id (as the `Last-Event-ID` header does, which wins).
    #[param(minimum = 0)]
    pub last_event_id: Option<i64>,
}

/// One ATP change (SSE event `availability`, `id` = this `seq`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityEvent {
    /// The outbox position of the change: the SSE event id, to resume after it.
    pub seq: i64,
    pub sku: String,
    pub location: String,
    /// Available to promise after the change (the channel's view when one applies).
    pub atp: i64,
    /// The books, for keys that may see the location's own data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_hand: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The event behind the change, e.g. `relais.hold.created`.
    #[schema(example = "relais.hold.created")]
    pub cause: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

fn list(field: &str, text: Option<&str>) -> Result<Option<HashSet<String>>, Error> {
    let Some(text) = text else { return Ok(None) };
    let items: HashSet<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if items.is_empty() || items.len() > MAX_FILTER_ITEMS {
        return Err(Error::new(
            ErrorCode::InvalidQuery,
            format!("{field} lists 1 to {MAX_FILTER_ITEMS} comma-separated values"),
        )
        .with("field", field));
    }
    Ok(Some(items))
}

fn last_event_id(headers: &HeaderMap, query: Option<i64>) -> Result<Option<i64>, Error> {
    let Some(header) = headers.get("last-event-id") else {
        return Ok(query);
    };
    header
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| *id >= 0)
        .map(Some)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidQuery,
                "Last-Event-ID is the id of an event this stream sent",
            )
            .with("field", "last_event_id")
        })
}

/// What a subscriber may see of a change, as its event (`None`: not for it).
struct Lens {
    principal: Principal,
    view: Option<ChannelView>,
    /// Only with a channel view.
    locations: Arc<HashMap<String, catalog::Location>>,
}

impl Lens {
    fn event(&self, change: &Change) -> Option<Event> {
        let level = &change.level;
        let atp = match &self.view {
            Some(view) => {
                let place = self.locations.get(&level.location)?;
                if !view.allows(place) {
                    return None;
                }
                view.atp(&level.location, level.level())
            }
            None => level.atp,
        };
        let inside = self.principal.can_access_store(&level.location);
        let render = || {
            let body = AvailabilityEvent {
                seq: change.seq,
                sku: level.sku.clone(),
                location: level.location.clone(),
                atp,
                on_hand: inside.then_some(level.on_hand),
                held: inside.then_some(level.held),
                safety: inside.then_some(level.safety),
                channel: self.view.as_ref().map(|v| v.code().to_owned()),
                cause: change.cause.clone(),
                at: change.at,
            };
            serde_json::to_string(&body).unwrap_or_default()
        };
        // Without a channel view the event depends only on `inside`: render it once per change.
        let data = match &self.view {
            None => change.rendered[usize::from(inside)]
                .get_or_init(render)
                .clone(),
            Some(_) => render(),
        };
        Some(
            Event::default()
                .event("availability")
                .id(change.seq.to_string())
                .data(data),
        )
    }
}

/// Follow available-to-promise as it changes (Server-Sent Events). Each event is a committed
/// change of one variant at one location; its `id` is an outbox position, so a client that
/// reconnects with `Last-Event-ID` gets every change it missed, in order, then the live ones.
#[utoipa::path(get, path = "/v1/stream/availability", tag = "stock", params(StreamQuery),
    responses((status = 200, content_type = "text/event-stream", body = AvailabilityEvent,
               description = "`event: availability`, `id: <seq>`, `data: <AvailabilityEvent>`; a comment every 15 s keeps the connection open"),
              (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn stream_availability(
    State(s): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    Q(q): Q<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let filter = Filter {
        skus: list("skus", q.skus.as_deref())?,
        locations: list("locations", q.locations.as_deref())?,
    };
    let resume_after = match last_event_id(&headers, q.last_event_id)? {
        Some(seq) => Some(resume_position(&s.db, seq).await?),
        None => None,
    };
    let view =
        ChannelView::resolve(&s.reference, &p, q.channel, q.fulfilment.map(Into::into)).await?;
    let locations = match view {
        Some(_) => s.reference.locations().await?,
        None => Arc::default(),
    };
    let lens = Arc::new(Lens {
        principal: p,
        view,
        locations,
    });
    // Subscribed before answering: every change committed after the answer reaches the client.
    let subscription = s.live.subscribe(filter.clone()).await?;
    let follower = Follower::new(s.live.clone(), filter, resume_after, subscription);
    Ok(Sse::new(events(follower, lens))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Where a stream resumes: the outbox position of the last event the client had.
async fn resume_position(db: &store::Db, seq: i64) -> Result<store::feed::Position, Error> {
    store::feed::position_of(db, seq).await?.ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidQuery,
            format!("no event {seq} to resume after"),
        )
        .with("field", "last_event_id")
    })
}

/// The changes the follower reads, as the events the lens lets through.
fn events(follower: Follower, lens: Arc<Lens>) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold((follower, lens), |(mut follower, lens)| async move {
        loop {
            match follower.next().await {
                Ok(change) => {
                    if let Some(event) = lens.event(&change) {
                        return Some((Ok(event), (follower, lens)));
                    }
                }
                Err(e) => {
                    // The client reconnects with Last-Event-ID and resumes where it was.
                    tracing::warn!(error = %e, "an availability stream stopped");
                    return None;
                }
            }
        }
    })
}
