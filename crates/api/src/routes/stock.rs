//! Stock: the movement ledger, safety stock, availability (ATP) and holds.

use app::availability::ChannelView;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use inventory::sourcing::Fulfilment;
use inventory::{Hold, HoldPurpose, HoldStatus, Level, MovementKind};
use kernel::Timestamp;
use serde::{Deserialize, Serialize};
use store::stock::{HoldAction, Movement, NewHold, NewMovement, Stock};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, page_of, reply, stored};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_movements, record_movement))
        .routes(routes!(set_safety))
        .routes(routes!(variant_availability))
        .routes(routes!(location_stock))
        .routes(routes!(create_hold))
        .routes(routes!(get_hold))
        .routes(routes!(commit_hold))
        .routes(routes!(release_hold))
        .routes(routes!(ship_transfer, list_transfers))
        .routes(routes!(get_transfer))
        .routes(routes!(receive_transfer))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKindDto {
    Receipt,
    Sale,
    Return,
    TransferOut,
    TransferIn,
    Adjustment,
    Count,
}

impl From<MovementKindDto> for MovementKind {
    fn from(k: MovementKindDto) -> Self {
        match k {
            MovementKindDto::Receipt => MovementKind::Receipt,
            MovementKindDto::Sale => MovementKind::Sale,
            MovementKindDto::Return => MovementKind::Return,
            MovementKindDto::TransferOut => MovementKind::TransferOut,
            MovementKindDto::TransferIn => MovementKind::TransferIn,
            MovementKindDto::Adjustment => MovementKind::Adjustment,
            MovementKindDto::Count => MovementKind::Count,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordMovement {
    pub sku: String,
    pub location: String,
    pub kind: MovementKindDto,
    /// Units moved (positive) for receipts, sales, returns and transfers; a signed non-zero
    /// delta for an adjustment; the units found for a count.
    pub quantity: i64,
    /// Why, for people reading the ledger.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
    /// A delivery note, a till receipt, an import line.
    pub reference: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MovementDto {
    pub seq: i64,
    pub id: String,
    pub sku: String,
    pub location: String,
    #[schema(value_type = MovementKindDto)]
    pub kind: MovementKind,
    /// Signed change to on hand.
    pub delta: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub actor: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// Stock of a variant at a location. `atp` is what may be promised; the other figures are
/// shown to admins and to the location's own store key.
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelDto {
    pub sku: String,
    pub location: String,
    /// Available to promise: on hand − held − safety, never below 0.
    pub atp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_hand: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety: Option<i64>,
    /// Units on their way here from another location: shown, never promised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_transit: Option<i64>,
    /// On `near` queries: kilometres from the given point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    /// On `near` queries, for stores offering pickup with stock: when an order placed now can
    /// be collected (preparation lead time, then the store's opening hours in its time zone).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub pickup_ready_by: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedMovement {
    pub movement: MovementDto,
    pub level: LevelDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    pub sku: String,
    /// The channel whose view this is (its sourcing policy and channel safety applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Every location that stocks the variant.
    pub data: Vec<LevelDto>,
}

page_of!(MovementPage, MovementDto);
page_of!(LevelPage, LevelDto);

fn movement_dto(m: Movement) -> MovementDto {
    MovementDto {
        seq: m.seq,
        id: m.id,
        sku: m.sku,
        location: m.location,
        kind: m.kind,
        delta: m.delta,
        reason: m.reason,
        reference: m.reference,
        actor: m.actor,
        at: m.at,
    }
}

/// A level with its in-transit units (listed only when some are on their way).
fn stock_dto(p: &Principal, st: Stock) -> LevelDto {
    let mut dto = level_dto(p, st.sku, st.location, st.level);
    dto.in_transit = (st.in_transit > 0).then_some(st.in_transit);
    dto
}

fn level_dto(p: &Principal, sku: String, location: String, level: Level) -> LevelDto {
    let inside = p.can_access_store(&location);
    LevelDto {
        atp: level.atp(),
        on_hand: inside.then_some(level.on_hand),
        held: inside.then_some(level.held),
        safety: inside.then_some(level.safety),
        in_transit: None,
        distance_km: None,
        pickup_ready_by: None,
        sku,
        location,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// `latitude,longitude`: only locations within `radius_km`, nearest first, with their
    /// pickup promise ("in stock near me").
    #[param(example = "45.76,4.84")]
    pub near: Option<String>,
    /// With `near`; default 50, at most 1000.
    #[param(exclusive_minimum = 0, maximum = 1000)]
    pub radius_km: Option<f64>,
    /// Only locations offering this capability (e.g. `pickup`).
    pub capability: Option<super::locations::CapabilityDto>,
    /// Only locations with at least one unit available to promise.
    pub in_stock: Option<bool>,
    /// Answer as this channel sees it: only the locations its sourcing policy allows (its own
    /// store first for a kiosk or POS), ATP less its channel safety stock. A channel key gets
    /// its own channel's view without asking.
    pub channel: Option<String>,
    /// With a channel: only the locations it may promise from for this fulfilment.
    #[param(inline)]
    pub fulfilment: Option<FulfilmentDto>,
}

/// How the customer gets the goods.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentDto {
    Ship,
    Pickup,
    Reserve,
}

impl From<FulfilmentDto> for Fulfilment {
    fn from(f: FulfilmentDto) -> Self {
        match f {
            FulfilmentDto::Ship => Fulfilment::Ship,
            FulfilmentDto::Pickup => Fulfilment::Pickup,
            FulfilmentDto::Reserve => Fulfilment::Reserve,
        }
    }
}

impl From<Fulfilment> for FulfilmentDto {
    fn from(f: Fulfilment) -> Self {
        match f {
            Fulfilment::Ship => FulfilmentDto::Ship,
            Fulfilment::Pickup => FulfilmentDto::Pickup,
            Fulfilment::Reserve => FulfilmentDto::Reserve,
        }
    }
}

/// Record a stock movement (admin, or the location's store key). Recorded once per Idempotency-Key.
#[utoipa::path(post, path = "/v1/stock/movements", tag = "stock", request_body = RecordMovement, params(IdempotencyHeader),
    responses((status = 201, body = RecordedMovement), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn record_movement(
    State(s): State<AppState>,
    w: Write<RecordMovement>,
) -> ApiResult<Response> {
    let principal = w.principal.clone();
    let b = w.body;
    let new = NewMovement {
        client_key: w
            .idempotency
            .as_ref()
            .map(|k| format!("{}:{}", k.scope, k.key)),
        sku: b.sku,
        location: b.location,
        kind: b.kind.into(),
        quantity: b.quantity,
        reason: b.reason,
        reference: b.reference,
    };
    let response = app::stock::record_movement(
        &s.db,
        &w.principal,
        new,
        w.idempotency,
        move |(m, level)| {
            let level = level_dto(&principal, m.sku.clone(), m.location.clone(), level);
            stored(
                201,
                &RecordedMovement {
                    movement: movement_dto(m),
                    level,
                },
            )
        },
    )
    .await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MovementQuery {
    pub sku: String,
    pub location: String,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The ledger of a variant at a location, oldest first (admin, or the location's store key).
#[utoipa::path(get, path = "/v1/stock/movements", tag = "stock", params(MovementQuery),
    responses((status = 200, body = MovementPage), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn list_movements(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<MovementQuery>,
) -> ApiResult<Json<MovementPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    Ok(Json(
        app::stock::movements(&s.db, &p, &q.sku, &q.location, &page)
            .await?
            .map(movement_dto)
            .into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSafety {
    /// Units kept out of ATP at this location.
    #[schema(minimum = 0)]
    pub quantity: i64,
}

/// Set the safety stock of a variant at a location (admin).
#[utoipa::path(put, path = "/v1/locations/{code}/stock/{sku}/safety", tag = "stock", request_body = SetSafety,
    params(("code" = String, Path), ("sku" = String, Path), IdempotencyHeader),
    responses((status = 200, body = LevelDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn set_safety(
    State(s): State<AppState>,
    Path((code, sku)): Path<(String, String)>,
    w: Write<SetSafety>,
) -> ApiResult<Response> {
    let principal = w.principal.clone();
    let quantity = w.body.quantity;
    let response = app::stock::set_safety(
        &s.db,
        &w.principal,
        sku,
        code,
        quantity,
        w.idempotency,
        move |(sku, code, level)| stored(200, &level_dto(&principal, sku, code, level)),
    )
    .await?;
    Ok(reply(response))
}

/// Availability of a variant at every location that stocks it — or, with `near`, at the
/// locations around a point, nearest first, with each store's pickup promise.
#[utoipa::path(get, path = "/v1/variants/{sku}/availability", tag = "stock", params(("sku" = String, Path), AvailabilityQuery),
    responses((status = 200, body = Availability), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn variant_availability(
    State(s): State<AppState>,
    p: Principal,
    Path(sku): Path<String>,
    Q(q): Q<AvailabilityQuery>,
) -> ApiResult<Response> {
    let near = near_of(&q)?;
    let fulfilment = q.fulfilment;
    let view =
        ChannelView::resolve(&s.reference, &p, q.channel, fulfilment.map(Into::into)).await?;
    // Answers without `near` or `capability` (no distances, no ready-by times) are kept until
    // the next commit; the count is taken before reading, so a commit during the read makes
    // the answer unusable rather than stale.
    let cache_key = (near.is_none() && q.capability.is_none())
        .then(|| cache_key(&p, &sku, view.as_ref(), fulfilment, q.in_stock));
    // Both read before the database: see `read_cache`.
    let epoch = s.live.feed_epoch().await?;
    let commits = s.db.commit_count();
    if let Some(body) = cache_key
        .as_deref()
        .and_then(|k| s.availability_cache.get(k, commits, epoch))
    {
        return Ok(json_bytes(body));
    }
    let query = app::availability::VariantQuery {
        sku,
        near,
        capability: q.capability.map(super::locations::capability_from),
        in_stock: q.in_stock.unwrap_or(false),
    };
    let seen = app::availability::of_variant(&s.reference, view.as_ref(), &query).await?;
    let body = Bytes::from(
        serde_json::to_vec(&Availability {
            sku: query.sku,
            channel: view.as_ref().map(|v| v.code().to_owned()),
            data: seen.into_iter().map(|x| seen_dto(&p, x)).collect(),
        })
        .map_err(|e| kernel::Error::internal(format!("cannot render availability: {e}")))?,
    );
    if let Some(key) = cache_key {
        s.availability_cache.put(key, commits, epoch, body.clone());
    }
    Ok(json_bytes(body))
}

/// The point and radius an availability query searches around (`radius_km` needs `near`).
fn near_of(q: &AvailabilityQuery) -> Result<Option<(catalog::Coordinates, f64)>, kernel::Error> {
    if q.radius_km.is_some() && q.near.is_none() {
        return Err(
            kernel::Error::new(kernel::ErrorCode::InvalidQuery, "radius_km needs near")
                .with("field", "radius_km"),
        );
    }
    q.near
        .as_deref()
        .map(|n| super::locations::parse_near(n, q.radius_km))
        .transpose()
}

/// What a cached availability answer depends on: the SKU, the books the key sees, the
/// channel view and the filters.
fn cache_key(
    p: &Principal,
    sku: &str,
    view: Option<&ChannelView>,
    fulfilment: Option<FulfilmentDto>,
    in_stock: Option<bool>,
) -> String {
    format!(
        "{sku}|{}|{}|{}|{}",
        books_key(p),
        view.map(|v| v.code()).unwrap_or(""),
        fulfilment
            .map(|f| Fulfilment::from(f).as_str())
            .unwrap_or(""),
        in_stock.unwrap_or(false)
    )
}

/// A location's availability as the caller may see it (its books only where it keeps them).
fn seen_dto(p: &Principal, seen: app::availability::Seen) -> LevelDto {
    let mut dto = stock_dto(p, seen.stock);
    dto.atp = seen.atp;
    dto.distance_km = seen.distance_km;
    dto.pickup_ready_by = seen.pickup_ready_by;
    dto
}

/// Which stores' books a key sees, as part of a cache key: every store, or its own.
fn books_key(p: &Principal) -> String {
    use crate::auth::Scope;
    if p.scopes
        .iter()
        .any(|s| matches!(s, Scope::Admin | Scope::Service))
    {
        return "*".into();
    }
    let mut stores: Vec<&str> = p
        .scopes
        .iter()
        .filter_map(|s| match s {
            Scope::Store(code) => Some(code.as_str()),
            _ => None,
        })
        .collect();
    stores.sort_unstable();
    stores.join(",")
}

fn json_bytes(body: Bytes) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// A location's stock, in SKU order.
#[utoipa::path(get, path = "/v1/locations/{code}/stock", tag = "stock", params(("code" = String, Path), PageParams),
    responses((status = 200, body = LevelPage), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn location_stock(
    State(s): State<AppState>,
    p: Principal,
    Path(code): Path<String>,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<LevelPage>> {
    store::locations::get_location(&s.db, &code).await?;
    let found = store::stock::location_stock(&s.db, &code, &q.request()?).await?;
    Ok(Json(found.map(|st| stock_dto(&p, st)).into()))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldPurposeDto {
    Cart,
    Pickup,
    Reserve,
    Ship,
}

impl From<HoldPurposeDto> for HoldPurpose {
    fn from(p: HoldPurposeDto) -> Self {
        match p {
            HoldPurposeDto::Cart => HoldPurpose::Cart,
            HoldPurposeDto::Pickup => HoldPurpose::Pickup,
            HoldPurposeDto::Reserve => HoldPurpose::Reserve,
            HoldPurposeDto::Ship => HoldPurpose::Ship,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatusDto {
    Pending,
    Committed,
    Released,
    Expired,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHold {
    pub sku: String,
    pub location: String,
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: i64,
    pub purpose: HoldPurposeDto,
    /// What holds the stock: a cart, an order, a reservation.
    #[schema(min_length = 1, max_length = 200)]
    pub owner_ref: String,
    /// The channel promising the stock (its sourcing policy and channel safety stock apply).
    /// A channel key's holds are its channel's; admin, service and store keys may name one.
    #[schema(min_length = 2, max_length = 40)]
    pub channel: Option<String>,
    /// Lifetime in seconds; defaults per purpose as the retailer configured them
    /// (out of the box: cart 15 min, reserve 48 h, pickup 7 days, ship 3 days).
    #[schema(minimum = 1, maximum = 2592000)]
    pub ttl_s: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldDto {
    pub id: String,
    pub sku: String,
    pub location: String,
    pub quantity: i64,
    #[schema(value_type = HoldPurposeDto)]
    pub purpose: HoldPurpose,
    pub owner_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[schema(value_type = HoldStatusDto)]
    pub status: HoldStatus,
    pub committed_quantity: i64,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
}

fn hold_dto(h: Hold) -> HoldDto {
    HoldDto {
        id: h.id,
        sku: h.sku,
        location: h.location,
        quantity: h.quantity,
        purpose: h.purpose,
        owner_ref: h.owner_ref,
        channel: h.channel,
        status: h.status,
        committed_quantity: h.committed_quantity,
        expires_at: h.expires_at,
        created_at: h.created_at,
        ended_at: h.ended_at,
    }
}

/// Claim stock for a cart, an order or a reservation. Refused with `insufficient_stock` (and
/// the quantity available) when ATP cannot cover it — never oversold, whatever the concurrency.
#[utoipa::path(post, path = "/v1/holds", tag = "stock", request_body = CreateHold, params(IdempotencyHeader),
    responses((status = 201, body = HoldDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn create_hold(State(s): State<AppState>, w: Write<CreateHold>) -> ApiResult<Response> {
    let b = w.body;
    // The channel's policy is checked here from the reference cache, off the single writer.
    let channel = app::access::promising_channel(&w.principal, b.channel)?;
    let purpose: HoldPurpose = b.purpose.into();
    let checked_channel_safety = match &channel {
        Some(c) => s.reference.hold_safety(c, &b.location, purpose).await,
        None => None,
    };
    let new = NewHold {
        sku: b.sku,
        location: b.location,
        quantity: b.quantity,
        purpose,
        owner_ref: b.owner_ref,
        owner: inventory::HoldOwner::Api,
        channel,
        checked_channel_safety,
        ttl_s: Some(b.ttl_s.unwrap_or_else(|| s.hold_ttls.for_purpose(purpose))),
    };
    let response = app::holds::create(&s.db, &w.principal, new, w.idempotency, |h| {
        stored(201, &hold_dto(h))
    })
    .await?;
    Ok(reply(response))
}

/// Get a hold.
#[utoipa::path(get, path = "/v1/holds/{id}", tag = "stock", params(("id" = String, Path)),
    responses((status = 200, body = HoldDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn get_hold(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<HoldDto>> {
    Ok(Json(hold_dto(app::holds::get(&s.db, &p, &id).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitHold {
    /// Units sold, 1 to the hold's quantity; the rest is released. Default: all.
    #[schema(minimum = 1)]
    pub quantity: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseHold {}

async fn end_hold(
    s: AppState,
    principal: &Principal,
    id: String,
    action: HoldAction,
    idem: Option<store::IdempotencyKey>,
) -> ApiResult<Response> {
    let response = app::holds::end(&s.db, principal, id, action, idem, |h| {
        stored(200, &hold_dto(h))
    })
    .await?;
    Ok(reply(response))
}

/// Commit a hold: the units become a sale; a partial commit releases the rest. Only the key
/// that made the hold (or an admin key) may; a cart's or an order's hold ends through that
/// cart or order (409 `conflict`).
#[utoipa::path(post, path = "/v1/holds/{id}/commit", tag = "stock", request_body = CommitHold, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = HoldDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn commit_hold(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<CommitHold>,
) -> ApiResult<Response> {
    end_hold(
        s,
        &w.principal,
        id,
        HoldAction::Commit(w.body.quantity),
        w.idempotency,
    )
    .await
}

/// Release a hold: its units are available again. Only the key that made the hold (or an
/// admin key) may; a cart's or an order's hold ends through that cart or order (409).
#[utoipa::path(post, path = "/v1/holds/{id}/release", tag = "stock", request_body = ReleaseHold, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = HoldDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn release_hold(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<ReleaseHold>,
) -> ApiResult<Response> {
    end_hold(s, &w.principal, id, HoldAction::Release, w.idempotency).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipTransfer {
    pub sku: String,
    pub from_location: String,
    pub to_location: String,
    #[schema(minimum = 1, maximum = 1000000000)]
    pub quantity: i64,
    /// A delivery note or a carrier's tracking number.
    pub reference: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferDto {
    pub id: String,
    pub sku: String,
    pub from_location: String,
    pub to_location: String,
    pub quantity: i64,
    /// `in_transit`, then `received`.
    pub status: String,
    pub reference: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub received_at: Option<Timestamp>,
}

fn transfer_dto(t: store::stock::Transfer) -> TransferDto {
    TransferDto {
        id: t.id,
        sku: t.sku,
        from_location: t.from_location,
        to_location: t.to_location,
        quantity: t.quantity,
        status: t.status,
        reference: t.reference,
        created_at: t.created_at,
        received_at: t.received_at,
    }
}

/// Ship stock to another location (admin, or the source store's key): it leaves the source
/// now and is in transit — shown at the destination, never promised — until received.
#[utoipa::path(post, path = "/v1/transfers", tag = "stock", request_body = ShipTransfer, params(IdempotencyHeader),
    responses((status = 201, body = TransferDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn ship_transfer(State(s): State<AppState>, w: Write<ShipTransfer>) -> ApiResult<Response> {
    let b = w.body;
    let shipped = app::stock::ShipTransfer {
        sku: b.sku,
        from_location: b.from_location,
        to_location: b.to_location,
        quantity: b.quantity,
        reference: b.reference,
    };
    let response = app::stock::ship_transfer(&s.db, &w.principal, shipped, w.idempotency, |t| {
        stored(201, &transfer_dto(t))
    })
    .await?;
    Ok(reply(response))
}

page_of!(TransferPage, TransferDto);

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferDirection {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatusDto {
    InTransit,
    Received,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferListQuery {
    /// The location whose transfers are listed.
    pub location: String,
    /// Arriving there (`inbound`) or leaving it (`outbound`); both when absent.
    #[param(inline)]
    pub direction: Option<TransferDirection>,
    #[param(inline)]
    pub status: Option<TransferStatusDto>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A location's transfers, arriving and leaving, oldest first (admin, or the location's
/// store key): what a store has to receive, and what it sent.
#[utoipa::path(get, path = "/v1/transfers", tag = "stock", params(TransferListQuery),
    responses((status = 200, body = TransferPage), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn list_transfers(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<TransferListQuery>,
) -> ApiResult<Json<TransferPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let which = store::stock::TransferQuery {
        inbound: q.direction.map(|d| matches!(d, TransferDirection::Inbound)),
        status: q.status.map(|st| {
            match st {
                TransferStatusDto::InTransit => "in_transit",
                TransferStatusDto::Received => "received",
            }
            .to_owned()
        }),
    };
    let found = app::stock::transfers(&s.db, &p, &q.location, &which, &page).await?;
    Ok(Json(found.map(transfer_dto).into()))
}

/// Get a transfer.
#[utoipa::path(get, path = "/v1/transfers/{id}", tag = "stock", params(("id" = String, Path)),
    responses((status = 200, body = TransferDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn get_transfer(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TransferDto>> {
    Ok(Json(transfer_dto(
        app::stock::transfer(&s.db, &p, &id).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveTransfer {}

/// Receive a transfer at its destination (admin, or the destination store's key), once.
#[utoipa::path(post, path = "/v1/transfers/{id}/receive", tag = "stock", request_body = ReceiveTransfer, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = TransferDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
async fn receive_transfer(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<ReceiveTransfer>,
) -> ApiResult<Response> {
    let response = app::stock::receive_transfer(&s.db, &w.principal, id, w.idempotency, |t| {
        stored(200, &transfer_dto(t))
    })
    .await?;
    Ok(reply(response))
}
