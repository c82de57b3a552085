//! `/v1/locations`: stores, warehouses, pickup points, and "near me".

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use catalog::{
    Address, Capability, Coordinates, Location, LocationKind, LocationPatch, NewLocation,
    OpeningHours, Owner, OwnerKind, TimeRange,
};
use kernel::{Error, ErrorCode, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, present, reply, stored, stored_version};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::precondition::{self, with_etag};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_locations, create_location))
        .routes(routes!(get_location, update_location))
        .routes(routes!(local_inventory_feed))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocationKindDto {
    Store,
    Warehouse,
    PickupPoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityDto {
    Pickup,
    Reserve,
    ShipFrom,
    Returns,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKindDto {
    Company,
    Franchisee,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerDto {
    pub kind: OwnerKindDto,
    /// The company or the franchisee's legal name.
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressDto {
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub line1: String,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 0,
        max_length = 200
    )]
    pub line2: Option<String>,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 20
    )]
    pub postal_code: String,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 100
    )]
    pub city: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "FR", pattern = r"^[A-Z]{2}$")]
    pub country: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordinatesDto {
    /// WGS 84, -90 to 90.
    #[schema(example = 45.7578, minimum = -90, maximum = 90)]
    pub latitude: f64,
    /// WGS 84, -180 to 180.
    #[schema(example = 4.832, minimum = -180, maximum = 180)]
    pub longitude: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodDto {
    /// Local time `HH:MM`.
    #[schema(example = "09:30", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub opens: String,
    /// Local time `HH:MM`; `24:00` for midnight.
    #[schema(
        example = "19:30",
        pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
    )]
    pub closes: String,
}

/// Weekly opening hours in local time; a day left out is closed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursDto {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mon: Vec<PeriodDto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tue: Vec<PeriodDto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wed: Vec<PeriodDto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thu: Vec<PeriodDto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fri: Vec<PeriodDto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sat: Vec<PeriodDto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sun: Vec<PeriodDto>,
}

impl HoursDto {
    fn days(&self) -> [(&'static str, &Vec<PeriodDto>); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }

    fn day_mut(&mut self, day: &str) -> Option<&mut Vec<PeriodDto>> {
        match day {
            "mon" => Some(&mut self.mon),
            "tue" => Some(&mut self.tue),
            "wed" => Some(&mut self.wed),
            "thu" => Some(&mut self.thu),
            "fri" => Some(&mut self.fri),
            "sat" => Some(&mut self.sat),
            "sun" => Some(&mut self.sun),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLocation {
    /// 2 to 32 of `A-Z 0-9 -`.
    #[schema(example = "LYS-BELLECOUR", pattern = r"^[A-Z0-9-]{2,32}$")]
    pub code: String,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    pub kind: LocationKindDto,
    pub address: AddressDto,
    pub coordinates: CoordinatesDto,
    /// IANA time zone.
    #[schema(example = "Europe/Paris")]
    pub time_zone: String,
    #[serde(default)]
    pub opening_hours: HoursDto,
    pub owner: OwnerDto,
    #[serde(default)]
    pub capabilities: BTreeSet<CapabilityDto>,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 0,
        max_length = 40
    )]
    pub phone: Option<String>,
    #[schema(
        pattern = r"^[^@\s\x00-\x1F\x7F-\x9F]+@[^@\s\x00-\x1F\x7F-\x9F]+\.[^@\s\x00-\x1F\x7F-\x9F]+$",
        max_length = 254
    )]
    pub email: Option<String>,
    /// Minutes to prepare a click & collect order (default 120).
    #[schema(minimum = 0, maximum = 10080)]
    pub pickup_lead_min: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchLocation {
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: Option<String>,
    pub address: Option<AddressDto>,
    pub coordinates: Option<CoordinatesDto>,
    pub time_zone: Option<String>,
    pub opening_hours: Option<HoursDto>,
    pub owner: Option<OwnerDto>,
    pub capabilities: Option<BTreeSet<CapabilityDto>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Minutes to prepare a click & collect order.
    #[schema(minimum = 0, maximum = 10080)]
    pub pickup_lead_min: Option<i64>,
    /// `false` closes the location to new business; it stays in history.
    pub active: Option<bool>,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationDto {
    pub code: String,
    pub name: String,
    pub kind: LocationKindDto,
    pub address: AddressDto,
    pub coordinates: CoordinatesDto,
    pub time_zone: String,
    pub opening_hours: HoursDto,
    /// Whether it is open right now, by its hours in its own time zone.
    pub open_now: bool,
    pub owner: OwnerDto,
    pub capabilities: Vec<CapabilityDto>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Minutes to prepare a click & collect order.
    pub pickup_lead_min: i64,
    pub active: bool,
    pub version: i64,
    /// Present on `near` queries: kilometres from the given point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

super::page_of!(LocationPage, LocationDto);

pub(crate) fn kind_from(k: LocationKindDto) -> LocationKind {
    match k {
        LocationKindDto::Store => LocationKind::Store,
        LocationKindDto::Warehouse => LocationKind::Warehouse,
        LocationKindDto::PickupPoint => LocationKind::PickupPoint,
    }
}

pub(crate) fn kind_to(k: LocationKind) -> LocationKindDto {
    match k {
        LocationKind::Store => LocationKindDto::Store,
        LocationKind::Warehouse => LocationKindDto::Warehouse,
        LocationKind::PickupPoint => LocationKindDto::PickupPoint,
    }
}

pub(crate) fn capability_from(c: CapabilityDto) -> Capability {
    match c {
        CapabilityDto::Pickup => Capability::Pickup,
        CapabilityDto::Reserve => Capability::Reserve,
        CapabilityDto::ShipFrom => Capability::ShipFrom,
        CapabilityDto::Returns => Capability::Returns,
    }
}

fn capability_to(c: Capability) -> CapabilityDto {
    match c {
        Capability::Pickup => CapabilityDto::Pickup,
        Capability::Reserve => CapabilityDto::Reserve,
        Capability::ShipFrom => CapabilityDto::ShipFrom,
        Capability::Returns => CapabilityDto::Returns,
    }
}

fn owner_from(o: OwnerDto) -> Owner {
    let kind = match o.kind {
        OwnerKindDto::Company => OwnerKind::Company,
        OwnerKindDto::Franchisee => OwnerKind::Franchisee,
    };
    Owner { kind, name: o.name }
}

fn owner_to(o: Owner) -> OwnerDto {
    let kind = match o.kind {
        OwnerKind::Company => OwnerKindDto::Company,
        OwnerKind::Franchisee => OwnerKindDto::Franchisee,
    };
    OwnerDto { kind, name: o.name }
}

fn address_from(a: AddressDto) -> Address {
    Address {
        line1: a.line1,
        line2: a.line2,
        postal_code: a.postal_code,
        city: a.city,
        country: a.country,
    }
}

fn address_to(a: Address) -> AddressDto {
    AddressDto {
        line1: a.line1,
        line2: a.line2,
        postal_code: a.postal_code,
        city: a.city,
        country: a.country,
    }
}

fn hours_from(h: HoursDto) -> Result<OpeningHours, Error> {
    let mut weekly = BTreeMap::new();
    for (day, periods) in h.days() {
        if periods.is_empty() {
            continue;
        }
        let ranges = periods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                TimeRange::parse(&format!("opening_hours.{day}[{i}]"), &p.opens, &p.closes)
            })
            .collect::<Result<Vec<_>, _>>()?;
        weekly.insert(day.to_owned(), ranges);
    }
    Ok(OpeningHours { weekly })
}

fn hours_to(h: &OpeningHours) -> HoursDto {
    let mut out = HoursDto::default();
    for (day, ranges) in &h.weekly {
        if let Some(slot) = out.day_mut(day) {
            *slot = ranges
                .iter()
                .map(|r| PeriodDto {
                    opens: r.opens(),
                    closes: r.closes(),
                })
                .collect();
        }
    }
    out
}

fn coordinates_from(c: CoordinatesDto) -> Coordinates {
    Coordinates {
        latitude: c.latitude,
        longitude: c.longitude,
    }
}

pub fn location_dto(l: Location, distance_km: Option<f64>, now: Timestamp) -> LocationDto {
    LocationDto {
        open_now: l.is_open_at(now),
        opening_hours: hours_to(&l.opening_hours),
        code: l.code,
        name: l.name,
        kind: kind_to(l.kind),
        address: address_to(l.address),
        coordinates: CoordinatesDto {
            latitude: l.coordinates.latitude,
            longitude: l.coordinates.longitude,
        },
        time_zone: l.time_zone,
        owner: owner_to(l.owner),
        capabilities: l.capabilities.into_iter().map(capability_to).collect(),
        phone: l.phone,
        email: l.email,
        pickup_lead_min: l.pickup_lead_min,
        active: l.active,
        version: l.version,
        // Kilometres to the metre; more digits would be noise.
        distance_km: distance_km.map(|d| (d * 1000.0).round() / 1000.0),
        created_at: l.created_at,
        updated_at: l.updated_at,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LocationQuery {
    pub kind: Option<LocationKindDto>,
    /// Only locations offering this capability.
    pub capability: Option<CapabilityDto>,
    pub city: Option<String>,
    /// `latitude,longitude`: only locations within `radius_km`, nearest first.
    #[param(
        example = "48.8566,2.3522",
        pattern = r"^-?[0-9]{1,2}(\.[0-9]+)?,-?[0-9]{1,3}(\.[0-9]+)?$"
    )]
    pub near: Option<String>,
    /// With `near`; default 50, at most 1000.
    #[param(exclusive_minimum = 0, maximum = 1000)]
    pub radius_km: Option<f64>,
    /// Include locations closed to business (default false).
    pub include_inactive: Option<bool>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub(crate) fn parse_near(near: &str, radius_km: Option<f64>) -> Result<(Coordinates, f64), Error> {
    let bad = || {
        Error::new(ErrorCode::InvalidQuery, "near must be `latitude,longitude`")
            .with("field", "near")
    };
    let (lat, lon) = near.split_once(',').ok_or_else(bad)?;
    let at = Coordinates {
        latitude: lat.trim().parse().map_err(|_| bad())?,
        longitude: lon.trim().parse().map_err(|_| bad())?,
    };
    let at = at
        .validate("near")
        .map_err(|e| Error::new(ErrorCode::InvalidQuery, e.message).with("field", "near"))?;
    let radius = radius_km.unwrap_or(50.0);
    if !(radius > 0.0 && radius <= 1000.0) {
        return Err(Error::new(
            ErrorCode::InvalidQuery,
            "radius_km must be more than 0 and at most 1000",
        )
        .with("field", "radius_km"));
    }
    Ok((at, radius))
}

/// List locations by code, or nearest first with `near`.
#[utoipa::path(get, path = "/v1/locations", tag = "locations", params(LocationQuery),
    responses((status = 200, body = LocationPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_locations(
    State(s): State<AppState>,
    _p: Principal,
    Q(q): Q<LocationQuery>,
) -> ApiResult<Json<LocationPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    if q.radius_km.is_some() && q.near.is_none() {
        return Err(Error::new(ErrorCode::InvalidQuery, "radius_km needs near")
            .with("field", "radius_km")
            .into());
    }
    let filter = store::locations::LocationFilter {
        kind: q.kind.map(kind_from),
        capability: q.capability.map(capability_from),
        city: q.city,
        include_inactive: q.include_inactive.unwrap_or(false),
        near: q
            .near
            .as_deref()
            .map(|n| parse_near(n, q.radius_km))
            .transpose()?,
    };
    let now = Timestamp::now();
    let found = store::locations::list_locations(&s.db, &filter, &page).await?;
    Ok(Json(
        found
            .map(|h| location_dto(h.location, h.distance_km, now))
            .into(),
    ))
}

/// Create a location (admin).
#[utoipa::path(post, path = "/v1/locations", tag = "locations", request_body = CreateLocation,
    params(IdempotencyHeader),
    responses((status = 201, body = LocationDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_location(
    State(s): State<AppState>,
    w: Write<CreateLocation>,
) -> ApiResult<Response> {
    let b = w.body;
    let new = NewLocation {
        code: b.code,
        name: b.name,
        kind: kind_from(b.kind),
        address: address_from(b.address),
        coordinates: coordinates_from(b.coordinates),
        time_zone: b.time_zone,
        opening_hours: hours_from(b.opening_hours)?,
        owner: owner_from(b.owner),
        capabilities: b.capabilities.into_iter().map(capability_from).collect(),
        phone: b.phone,
        email: b.email,
        pickup_lead_min: b.pickup_lead_min,
    };
    let render = |l| stored(201, &location_dto(l, None, Timestamp::now()));
    let response =
        app::locations::create(&s.reference, &w.principal, new, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Get one location.
#[utoipa::path(get, path = "/v1/locations/{code}", tag = "locations", params(("code" = String, Path)),
    responses((status = 200, body = LocationDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_location(
    State(s): State<AppState>,
    _p: Principal,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let l = store::locations::get_location(&s.db, &code).await?;
    let version = l.version;
    let dto = location_dto(l, None, Timestamp::now());
    Ok(with_etag(Json(dto).into_response(), Some(version)))
}

/// Change a location (admin). The code never changes.
#[utoipa::path(patch, path = "/v1/locations/{code}", tag = "locations", request_body = PatchLocation,
    params(("code" = String, Path), IdempotencyHeader),
    responses((status = 200, body = LocationDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_location(
    State(s): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    w: Write<PatchLocation>,
) -> ApiResult<Response> {
    let b = w.body;
    let (expected, by_header) = precondition::expected_version(&headers, b.expected_version)?;
    let patch = LocationPatch {
        name: b.name,
        address: b.address.map(address_from),
        coordinates: b.coordinates.map(coordinates_from),
        time_zone: b.time_zone,
        opening_hours: b.opening_hours.map(hours_from).transpose()?,
        owner: b.owner.map(owner_from),
        capabilities: b
            .capabilities
            .map(|c| c.into_iter().map(capability_from).collect()),
        phone: b.phone,
        email: b.email,
        pickup_lead_min: b.pickup_lead_min,
        active: b.active,
    };
    let render = |l| stored(200, &location_dto(l, None, Timestamp::now()));
    let change = (code, patch, expected);
    let response =
        app::locations::update(&s.reference, &w.principal, change, w.idempotency, render)
            .await
            .map_err(|e| precondition::from_if_match(e, by_header))?;
    let version = stored_version(&response);
    Ok(with_etag(reply(response), version))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The channel the feed is for (its prices, its sourcing policy, its safety stock); a
    /// channel key's own channel by default.
    pub channel: Option<String>,
    /// ISO 4217; the default currency when absent.
    pub currency: Option<String>,
    /// At most this many units is `limited availability` (default 3).
    #[param(minimum = 0, maximum = 1000)]
    pub limited_at: Option<i64>,
}

/// The local inventory feed of a channel, as TSV (for a shopping search engine's scheduled
/// fetch: it may send the key as the password of `Authorization: Basic`). One row per
/// variant stocked at each store the channel promises pickup from: quantity the channel may
/// promise, availability, price, pickup method and the store's usual pickup SLA.
#[utoipa::path(get, path = "/v1/feeds/local-inventory", tag = "stock", params(FeedQuery),
    responses((status = 200, content_type = "text/tab-separated-values", body = String), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn local_inventory_feed(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<FeedQuery>,
) -> ApiResult<Response> {
    let channel =
        app::access::promising_channel(&p, q.channel)?.ok_or_else(super::channel_required)?;
    let currency = super::query_currency(&s, q.currency.as_deref())?;
    let limited_at = q.limited_at.unwrap_or(3);
    if !(0..=1000).contains(&limited_at) {
        return Err(
            Error::new(ErrorCode::InvalidQuery, "limited_at is 0 to 1000")
                .with("field", "limited_at")
                .into(),
        );
    }
    let options = app::feeds::LocalInventory {
        currency,
        channel,
        limited_at,
    };
    let mut body = Vec::new();
    app::feeds::local_inventory(&s.db, &options, &mut body).await?;
    let content_type = "text/tab-separated-values; charset=utf-8";
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response())
}
