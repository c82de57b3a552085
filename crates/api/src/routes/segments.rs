//! `/v1/segments`: rule-based groups of customers, always current.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use customers::segment::{Rule, Segment};
use kernel::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::customers::{CustomerPage, customer_page};
use super::{IdempotencyHeader, PageParams, reply, stored};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_segments, create_segment))
        .routes(routes!(get_segment))
        .routes(routes!(members))
        .routes(routes!(customer_segments))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSegment {
    #[schema(example = "lyon-app-browsers", pattern = r"^[a-z0-9-]{2,60}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The rule, e.g. `{"all": [{"home_store": ["LYS-BELLECOUR"]}, {"event_count":
    /// {"type": "product_view", "channel": "app", "within_days": 30, "at_least": 3}},
    /// {"consent": {"purpose": "email_marketing", "channel": "email"}}]}`. Conditions:
    /// `all`, `any`, `not`, `home_store`, `created_within_days`, `has_identity`,
    /// `event_count` (`type`, `channel`, `within_days`, `at_least`, `at_most`), `consent`
    /// (`purpose`, `channel`, `granted`). At most 32 conditions, 4 levels deep.
    #[schema(value_type = Object)]
    pub rule: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentDto {
    pub code: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub rule: serde_json::Value,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

super::page_of!(SegmentPage, SegmentDto);

impl From<Segment> for SegmentDto {
    fn from(s: Segment) -> Self {
        SegmentDto {
            rule: serde_json::to_value(&s.rule).unwrap_or_default(),
            code: s.code,
            name: s.name,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// Define a segment.
#[utoipa::path(post, path = "/v1/segments", tag = "customers", request_body = CreateSegment,
    params(IdempotencyHeader),
    responses((status = 201, body = SegmentDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_segment(State(s): State<AppState>, w: Write<CreateSegment>) -> ApiResult<Response> {
    let b = w.body;
    let code = kernel::text::code(
        "code",
        &b.code,
        2,
        60,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        "a-z 0-9 -",
    )?;
    // The schema promises 200 characters (a person's name, not a segment's, stops at 100).
    let name = kernel::text::bounded("name", &b.name, 1, 200)?;
    let rule: Rule = serde_json::from_value(b.rule).map_err(|e| {
        kernel::Error::new(kernel::ErrorCode::InvalidBody, format!("rule: {e}"))
            .with("field", "rule")
    })?;
    let now = Timestamp::now();
    let segment = Segment {
        code,
        name,
        rule,
        created_at: now,
        updated_at: now,
    };
    let response = app::segments::create(&s.db, &w.principal, segment, w.idempotency, |seg| {
        stored(201, &SegmentDto::from(seg))
    })
    .await?;
    Ok(reply(response))
}

/// List segments.
#[utoipa::path(get, path = "/v1/segments", tag = "customers", params(PageParams),
    responses((status = 200, body = SegmentPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_segments(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<SegmentPage>> {
    let found = app::segments::list(&s.db, &p, &q.request()?).await?;
    Ok(Json(found.map(SegmentDto::from).into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentWithCount {
    #[serde(flatten)]
    pub segment: SegmentDto,
    /// Members now.
    pub members: i64,
}

/// A segment and how many customers are members now.
#[utoipa::path(get, path = "/v1/segments/{code}", tag = "customers", params(("code" = String, Path)),
    responses((status = 200, body = SegmentWithCount), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_segment(
    State(s): State<AppState>,
    p: Principal,
    Path(code): Path<String>,
) -> ApiResult<Json<SegmentWithCount>> {
    let (segment, members) = app::segments::get_with_count(&s.db, &p, &code).await?;
    Ok(Json(SegmentWithCount {
        segment: segment.into(),
        members,
    }))
}

/// The members now, in id order.
#[utoipa::path(get, path = "/v1/segments/{code}/members", tag = "customers",
    params(("code" = String, Path), PageParams),
    responses((status = 200, body = CustomerPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn members(
    State(s): State<AppState>,
    p: Principal,
    Path(code): Path<String>,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<CustomerPage>> {
    let found = app::segments::members(&s.db, &p, &code, &q.request()?).await?;
    let page = customer_page(&mut s.db.read().await?, found).await?;
    Ok(Json(page))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerSegmentsDto {
    pub customer_id: String,
    pub segments: Vec<String>,
}

/// The segments a customer belongs to now.
#[utoipa::path(get, path = "/v1/customers/{id}/segments", tag = "customers", params(("id" = String, Path)),
    responses((status = 200, body = CustomerSegmentsDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn customer_segments(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerSegmentsDto>> {
    let active = app::customers::reach(&mut s.db.read().await?, &p, &id)
        .await?
        .id;
    let segments = store::segments::segments_of(&s.db, &active).await?;
    Ok(Json(CustomerSegmentsDto {
        customer_id: active,
        segments,
    }))
}
