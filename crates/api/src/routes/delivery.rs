//! Delivery: `/v1/shipping-methods` (every key reads those offered on its channel; admin
//! keys set them), a cart's shipping options with their fees and delivery windows, and a
//! customer's saved postal addresses.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::delivery::{
    DeliveryWindow, MethodKind, PostalAddress, Promise, Rate, ShippingMethod, WeightBand,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, reply, stored, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_methods))
        .routes(routes!(set_method))
        .routes(routes!(shipping_options))
        .routes(routes!(list_addresses, add_address))
        .routes(routes!(delete_address))
}

wire_enum!(
    /// `standard` or `express` to the customer's address; `ship_to_store`: to a store, where
    /// the customer collects the parcel.
    MethodKindDto <=> MethodKind { Standard, Express, ShipToStore }
);

/// A postal address. The postal code is checked against the country's format where known
/// (FR, DE, ES, IT, BE, NL, PT, PL, CH, AT, LU, DK, MC, US).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostalAddressDto {
    /// Who receives it.
    #[schema(example = "Léa Martin", min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(example = "12 rue de la République", min_length = 1, max_length = 100)]
    pub line1: String,
    #[schema(max_length = 100)]
    pub line2: Option<String>,
    #[schema(example = "69002")]
    pub postal_code: String,
    #[schema(example = "Lyon", min_length = 1, max_length = 80)]
    pub city: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "FR")]
    pub country: String,
    /// For the carrier: `+` and 8 to 15 digits.
    #[schema(example = "+33612345678")]
    pub phone: Option<String>,
}

impl From<PostalAddressDto> for PostalAddress {
    fn from(a: PostalAddressDto) -> Self {
        PostalAddress {
            name: a.name,
            line1: a.line1,
            line2: a.line2,
            postal_code: a.postal_code,
            city: a.city,
            country: a.country,
            phone: a.phone,
        }
    }
}

impl From<PostalAddress> for PostalAddressDto {
    fn from(a: PostalAddress) -> Self {
        PostalAddressDto {
            name: a.name,
            line1: a.line1,
            line2: a.line2,
            postal_code: a.postal_code,
            city: a.city,
            country: a.country,
            phone: a.phone,
        }
    }
}

/// Parcels up to `up_to_grams` cost `amount_minor`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightBandDto {
    #[schema(minimum = 1)]
    pub up_to_grams: i64,
    #[schema(minimum = 0)]
    pub amount_minor: i64,
}

/// A flat fee or one per weight band (one of them), free from a threshold of goods after
/// discounts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateDto {
    #[schema(minimum = 0)]
    pub flat_minor: Option<i64>,
    #[serde(default)]
    pub weight_bands: Vec<WeightBandDto>,
    #[schema(minimum = 0)]
    pub free_above_minor: Option<i64>,
}

/// Business days (Monday to Friday) from the day the order is taken (the next one past the
/// cut-off), in the time zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromiseDto {
    #[schema(minimum = 0, maximum = 60)]
    pub min_days: i64,
    #[schema(minimum = 0, maximum = 60)]
    pub max_days: i64,
    /// Local `HH:MM`.
    #[schema(example = "14:00")]
    pub cutoff: Option<String>,
    #[schema(example = "Europe/Paris")]
    pub time_zone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingMethodDto {
    #[schema(example = "standard")]
    pub code: String,
    pub name: String,
    pub kind: MethodKindDto,
    /// The channels it is offered on (empty: all).
    pub channels: BTreeSet<String>,
    /// The countries it delivers to (empty: all).
    pub countries: BTreeSet<String>,
    pub currency: String,
    pub rate: RateDto,
    pub promise: PromiseDto,
    pub active: bool,
    /// Methods are offered in this order; the first that goes there is the default.
    pub position: i64,
}

impl From<ShippingMethod> for ShippingMethodDto {
    fn from(m: ShippingMethod) -> Self {
        ShippingMethodDto {
            code: m.code,
            name: m.name,
            kind: m.kind.into(),
            channels: m.channels,
            countries: m.countries,
            currency: m.currency.code().to_owned(),
            rate: RateDto {
                flat_minor: m.rate.flat_minor,
                weight_bands: m
                    .rate
                    .weight_bands
                    .iter()
                    .map(|b| WeightBandDto {
                        up_to_grams: b.up_to_grams,
                        amount_minor: b.amount_minor,
                    })
                    .collect(),
                free_above_minor: m.rate.free_above_minor,
            },
            promise: PromiseDto {
                min_days: m.promise.min_days,
                max_days: m.promise.max_days,
                cutoff: m.promise.cutoff,
                time_zone: m.promise.time_zone,
            },
            active: m.active,
            position: m.position,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingMethodList {
    pub data: Vec<ShippingMethodDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetShippingMethod {
    #[schema(example = "Colissimo à domicile", min_length = 1, max_length = 80)]
    pub name: String,
    pub kind: MethodKindDto,
    #[serde(default)]
    pub channels: BTreeSet<String>,
    #[serde(default)]
    pub countries: BTreeSet<String>,
    #[schema(example = "EUR")]
    pub currency: String,
    pub rate: RateDto,
    pub promise: PromiseDto,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub position: i64,
}

fn yes() -> bool {
    true
}

/// The shipping methods: those offered on the key's channel (active), or every one for
/// store, service and admin keys.
#[utoipa::path(get, path = "/v1/shipping-methods", tag = "orders",
    responses((status = 200, body = ShippingMethodList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_methods(
    State(s): State<AppState>,
    p: Principal,
) -> ApiResult<Json<ShippingMethodList>> {
    let data = app::shipping::offered(&s.reference, &p)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(ShippingMethodList { data }))
}

/// Set a shipping method (admin): its channels, countries, rate and delivery promise. It
/// applies to checkouts from now on.
#[utoipa::path(put, path = "/v1/shipping-methods/{code}", tag = "orders", request_body = SetShippingMethod,
    params(("code" = String, Path, pattern = r"^[a-z0-9_-]{1,40}$"), IdempotencyHeader),
    responses((status = 200, body = ShippingMethodDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_method(
    State(s): State<AppState>,
    Path(code): Path<String>,
    w: Write<SetShippingMethod>,
) -> ApiResult<Response> {
    let b = w.body;
    let currency = Currency::parse(&b.currency)
        .map_err(|e| Error::validation("currency", e).with("value", b.currency.clone()))?;
    let method = ShippingMethod {
        code,
        name: b.name,
        kind: b.kind.into(),
        channels: b.channels,
        countries: b.countries,
        currency,
        rate: Rate {
            flat_minor: b.rate.flat_minor,
            weight_bands: b
                .rate
                .weight_bands
                .iter()
                .map(|w| WeightBand {
                    up_to_grams: w.up_to_grams,
                    amount_minor: w.amount_minor,
                })
                .collect(),
            free_above_minor: b.rate.free_above_minor,
        },
        promise: Promise {
            min_days: b.promise.min_days,
            max_days: b.promise.max_days,
            cutoff: b.promise.cutoff,
            time_zone: b.promise.time_zone,
        },
        active: b.active,
        position: b.position,
    };
    let render = |m| stored(200, &ShippingMethodDto::from(m));
    let response =
        app::shipping::set(&s.reference, &w.principal, method, w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryWindowDto {
    /// Local dates, `YYYY-MM-DD`.
    #[schema(example = "2026-12-09")]
    pub earliest: String,
    #[schema(example = "2026-12-10")]
    pub latest: String,
}

impl From<DeliveryWindow> for DeliveryWindowDto {
    fn from(w: DeliveryWindow) -> Self {
        DeliveryWindowDto {
            earliest: w.earliest,
            latest: w.latest,
        }
    }
}

/// One way the cart could go: its fee and window, or why it cannot.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingOptionDto {
    pub method: String,
    pub name: String,
    pub kind: MethodKindDto,
    pub currency: String,
    /// Before promotions on the fee itself (free shipping shows at checkout).
    pub fee_minor: Option<i64>,
    pub window: Option<DeliveryWindowDto>,
    /// Why the method cannot take this cart there.
    pub unavailable: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingOptionList {
    pub data: Vec<ShippingOptionDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OptionsQuery {
    /// Where the parcel would go (ISO 3166-1 alpha-2).
    #[param(example = "FR")]
    pub country: String,
}

/// How a cart could be shipped to a country: every method offered on the key's channel,
/// with the fee it would charge for these goods (after their promotions, by their weight)
/// and the delivery window, or why it cannot.
#[utoipa::path(get, path = "/v1/carts/{id}/shipping-options", tag = "orders",
    params(("id" = String, Path), OptionsQuery),
    responses((status = 200, body = ShippingOptionList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn shipping_options(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<OptionsQuery>,
) -> ApiResult<Json<ShippingOptionList>> {
    let options = app::shipping::cart_options(&s.reference, &p, &id, &q.country).await?;
    let data = options
        .into_iter()
        .map(|o| {
            let (quote, unavailable) = match o.quote {
                Ok(q) => (Some(q), None),
                Err(why) => (None, Some(why)),
            };
            ShippingOptionDto {
                method: o.method.code,
                name: o.method.name,
                kind: o.method.kind.into(),
                currency: o.method.currency.code().to_owned(),
                fee_minor: quote.as_ref().map(|q| q.fee_minor),
                window: quote.map(|q| q.window.into()),
                unavailable,
            }
        })
        .collect();
    Ok(Json(ShippingOptionList { data }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedAddressDto {
    #[schema(example = "adr_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    pub label: Option<String>,
    pub address: PostalAddressDto,
    /// Checkout ships here when the customer names no other.
    pub is_default: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<store::addresses::SavedAddress> for SavedAddressDto {
    fn from(a: store::addresses::SavedAddress) -> Self {
        SavedAddressDto {
            id: a.id,
            label: a.label,
            address: a.address.into(),
            is_default: a.is_default,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedAddressList {
    pub data: Vec<SavedAddressDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAddress {
    /// The customer's name for it.
    #[schema(example = "Maison", max_length = 40)]
    pub label: Option<String>,
    pub address: PostalAddressDto,
    /// Make it the default (the first address is the default anyway).
    #[serde(default)]
    pub default: bool,
}

/// A customer's saved addresses, the default first.
#[utoipa::path(get, path = "/v1/customers/{id}/addresses", tag = "customers", params(("id" = String, Path)),
    responses((status = 200, body = SavedAddressList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_addresses(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<SavedAddressList>> {
    let found = app::addresses::list(&s.db, &p, &id).await?;
    let data = found.into_iter().map(Into::into).collect();
    Ok(Json(SavedAddressList { data }))
}

/// Save a postal address for a customer (at most 20); checkout ships to it by its id.
#[utoipa::path(post, path = "/v1/customers/{id}/addresses", tag = "customers", request_body = NewAddress,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = SavedAddressDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_address(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<NewAddress>,
) -> ApiResult<Response> {
    let b = w.body;
    let saved = (b.label, b.address.into(), b.default);
    let render = |a| stored(201, &SavedAddressDto::from(a));
    let response =
        app::addresses::add(&s.db, &w.principal, id, saved, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Delete one of a customer's addresses (orders keep the address they were sent to).
#[utoipa::path(delete, path = "/v1/customers/{id}/addresses/{address_id}", tag = "customers",
    params(("id" = String, Path), ("address_id" = String, Path), IdempotencyHeader),
    responses((status = 204, description = "Deleted"), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_address(
    State(s): State<AppState>,
    Path((id, address_id)): Path<(String, String)>,
    w: Write<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Response> {
    if !w.body.is_empty() {
        return Err(Error::new(ErrorCode::InvalidBody, "DELETE takes no body").into());
    }
    let no_content = |()| store::StoredResponse {
        status: 204,
        body: String::new(),
        replayed: false,
    };
    let response = app::addresses::delete(
        &s.db,
        &w.principal,
        id,
        address_id,
        w.idempotency,
        no_content,
    )
    .await?;
    Ok(reply(response))
}
