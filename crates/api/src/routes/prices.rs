//! Prices: one base price per variant and currency; channel overrides with a reason.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::{Currency, Error, ErrorCode, Money, Timestamp};
use pricing::{BasePrice, ChannelPrice, PriceOverride};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, query_currency, reply, stored};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_base_prices))
        .routes(routes!(set_base_price))
        .routes(routes!(set_override, remove_override))
        .routes(routes!(channel_price))
        .routes(routes!(prices_by_channel))
        .routes(routes!(parity_report))
}

fn currency(field: &str, code: &str) -> Result<Currency, Error> {
    Currency::parse(code).map_err(|m| Error::validation(field, m))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPrice {
    /// Integer minor units (cents for EUR): 5999 is 59.99 €.
    #[schema(example = 5999, minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount_minor: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOverride {
    /// Integer minor units.
    #[schema(example = 4999, minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount_minor: i64,
    /// Shown to customers wherever this price shows, e.g. "Web exclusive until Sunday".
    #[schema(
        example = "Web exclusive: -15 % until Sunday",
        pattern = r"^\s*[^\x00-\x1F\x7F-\x9F\s][^\x00-\x1F\x7F-\x9F]{1,198}[^\x00-\x1F\x7F-\x9F\s]\s*$",
        min_length = 3,
        max_length = 200
    )]
    pub reason: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BasePriceDto {
    pub sku: String,
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
    pub amount_minor: i64,
    /// For people, e.g. `59.99 EUR`.
    pub display: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BasePriceList {
    pub data: Vec<BasePriceDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideDto {
    pub sku: String,
    #[schema(value_type = String)]
    pub currency: Currency,
    pub channel: String,
    pub amount_minor: i64,
    pub reason: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Why a channel's price differs from the base price.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedOverride {
    pub reason: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelPriceDto {
    pub sku: String,
    pub channel: String,
    #[schema(value_type = String)]
    pub currency: Currency,
    /// What this channel charges.
    pub amount_minor: i64,
    pub display: String,
    /// The one price every channel charges unless an override applies.
    pub base_amount_minor: i64,
    /// Present when this channel's price differs from the base price.
    pub r#override: Option<AppliedOverride>,
    /// The promotions one unit gets on this channel now, on its own (no code, no basket
    /// threshold, no customer): what a product page shows.
    pub promotions: Vec<super::orders::AppliedPromotionDto>,
    /// `amount_minor` less those promotions.
    pub final_amount_minor: i64,
}

super::page_of!(ChannelPricePage, ChannelPriceDto);

#[derive(Debug, Serialize, ToSchema)]
pub struct ParityLineDto {
    pub sku: String,
    #[schema(value_type = String)]
    pub currency: Currency,
    pub channel: String,
    pub base_amount_minor: i64,
    pub override_amount_minor: i64,
    /// Override minus base, in minor units (negative when cheaper).
    pub difference_minor: i64,
    pub reason: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Timestamp>,
    /// Whether the override applies right now (inside its window).
    pub active_now: bool,
}

/// A promotion in force on some channels only: a deliberate difference between channels.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelPromotionDto {
    pub promotion_id: String,
    /// Shown to customers: the reason for the difference.
    pub name: String,
    pub description: Option<String>,
    pub channels: Vec<String>,
}

/// The parity report: every channel override, and the promotions scoped to some channels.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParityPage {
    pub data: Vec<ParityLineDto>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// On the first page: the promotions in force on some channels only.
    pub channel_promotions: Vec<ChannelPromotionDto>,
}

fn base_dto(p: BasePrice) -> BasePriceDto {
    BasePriceDto {
        display: Money::new(p.amount_minor, p.currency).display(),
        sku: p.sku,
        currency: p.currency,
        amount_minor: p.amount_minor,
        updated_at: p.updated_at,
    }
}

fn override_dto(o: PriceOverride) -> OverrideDto {
    OverrideDto {
        sku: o.sku,
        currency: o.currency,
        channel: o.channel,
        amount_minor: o.amount_minor,
        reason: o.reason,
        starts_at: o.starts_at,
        ends_at: o.ends_at,
        updated_at: o.updated_at,
    }
}

fn channel_price_dto((p, priced): (ChannelPrice, promotions::PricedBasket)) -> ChannelPriceDto {
    ChannelPriceDto {
        final_amount_minor: priced.total_minor,
        promotions: priced.applied.into_iter().map(Into::into).collect(),
        display: Money::new(p.amount_minor, p.currency).display(),
        r#override: p.override_reason.map(|reason| AppliedOverride {
            reason,
            ends_at: p.override_ends_at,
        }),
        sku: p.sku,
        channel: p.channel,
        currency: p.currency,
        amount_minor: p.amount_minor,
        base_amount_minor: p.base_amount_minor,
    }
}

/// The base prices of a variant, one per currency.
#[utoipa::path(get, path = "/v1/variants/{sku}/prices", tag = "prices", params(("sku" = String, Path)),
    responses((status = 200, body = BasePriceList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_base_prices(
    State(s): State<AppState>,
    _p: Principal,
    Path(sku): Path<String>,
) -> ApiResult<Json<BasePriceList>> {
    store::catalog::get_variant(&s.db, &sku).await?;
    let data = store::prices::base_prices(&s.db, &sku)
        .await?
        .into_iter()
        .map(base_dto)
        .collect();
    Ok(Json(BasePriceList { data }))
}

/// Set the base price of a variant in a currency (admin): the price on every channel.
#[utoipa::path(put, path = "/v1/variants/{sku}/prices/{currency}", tag = "prices", request_body = SetPrice,
    params(("sku" = String, Path), ("currency" = String, Path, description = "ISO 4217, e.g. EUR", pattern = r"^[A-Z]{3}$"), IdempotencyHeader),
    responses((status = 200, body = BasePriceDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_base_price(
    State(s): State<AppState>,
    Path((sku, code)): Path<(String, String)>,
    w: Write<SetPrice>,
) -> ApiResult<Response> {
    let price = BasePrice {
        currency: currency("currency", &code)?,
        amount_minor: w.body.amount_minor,
        sku,
        updated_at: Timestamp::now(),
    };
    let render = |p| stored(200, &base_dto(p));
    let response =
        app::prices::set_base_price(&s.db, &w.principal, price, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Set a channel's own price, with the reason customers see (admin).
#[utoipa::path(put, path = "/v1/variants/{sku}/prices/{currency}/overrides/{channel}", tag = "prices", request_body = SetOverride,
    params(("sku" = String, Path), ("currency" = String, Path, pattern = r"^[A-Z]{3}$"), ("channel" = String, Path), IdempotencyHeader),
    responses((status = 200, body = OverrideDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_override(
    State(s): State<AppState>,
    Path((sku, code, channel)): Path<(String, String, String)>,
    w: Write<SetOverride>,
) -> ApiResult<Response> {
    let b = w.body;
    let o = PriceOverride {
        sku,
        currency: currency("currency", &code)?,
        channel,
        amount_minor: b.amount_minor,
        reason: b.reason,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        updated_at: Timestamp::now(),
    };
    let render = |o| stored(200, &override_dto(o));
    let response = app::prices::set_override(&s.db, &w.principal, o, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Remove a channel's override: it charges the base price again (admin).
#[utoipa::path(delete, path = "/v1/variants/{sku}/prices/{currency}/overrides/{channel}", tag = "prices",
    params(("sku" = String, Path), ("currency" = String, Path, pattern = r"^[A-Z]{3}$"), ("channel" = String, Path), IdempotencyHeader),
    responses((status = 204, description = "Removed"), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove_override(
    State(s): State<AppState>,
    Path((sku, code, channel)): Path<(String, String, String)>,
    w: Write<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Response> {
    if !w.body.is_empty() {
        return Err(Error::new(ErrorCode::InvalidBody, "DELETE takes no body").into());
    }
    let target = (sku, currency("currency", &code)?, channel);
    let render = |()| store::StoredResponse {
        status: 204,
        body: String::new(),
        replayed: false,
    };
    let response =
        app::prices::remove_override(&s.db, &w.principal, target, w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PriceQuery {
    /// The channel asking; defaults to the caller's channel for a `channel:` key.
    pub channel: Option<String>,
    /// ISO 4217; defaults to the retailer's currency.
    #[param(pattern = r"^[A-Z]{3}$")]
    pub currency: Option<String>,
}

/// The price a channel charges now: the base price, or an override and its reason.
#[utoipa::path(get, path = "/v1/variants/{sku}/price", tag = "prices", params(("sku" = String, Path), PriceQuery),
    responses((status = 200, body = ChannelPriceDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn channel_price(
    State(s): State<AppState>,
    p: Principal,
    Path(sku): Path<String>,
    Q(q): Q<PriceQuery>,
) -> ApiResult<Json<ChannelPriceDto>> {
    let channel = q
        .channel
        .or_else(|| p.own_channel().map(String::from))
        .ok_or_else(super::channel_required)?;
    let cur = query_currency(&s, q.currency.as_deref())?;
    let price = store::prices::channel_price(&s.db, &sku, &channel, cur).await?;
    let priced = app::pricing::unit_prices(&s.reference, vec![price]).await?;
    let found = priced
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("price", &sku))?;
    Ok(Json(channel_price_dto(found)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChannelPricesQuery {
    /// ISO 4217; defaults to the retailer's currency.
    #[param(pattern = r"^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The price on every channel side by side: identical unless an override explains it.
#[utoipa::path(get, path = "/v1/variants/{sku}/price/channels", tag = "prices", params(("sku" = String, Path), ChannelPricesQuery),
    responses((status = 200, body = ChannelPricePage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn prices_by_channel(
    State(s): State<AppState>,
    _p: Principal,
    Path(sku): Path<String>,
    Q(q): Q<ChannelPricesQuery>,
) -> ApiResult<Json<ChannelPricePage>> {
    let cur = query_currency(&s, q.currency.as_deref())?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let found = store::prices::prices_on_all_channels(&s.db, &sku, cur, &page).await?;
    let priced = app::pricing::unit_prices(&s.reference, found.data).await?;
    let page = kernel::Page {
        data: priced.into_iter().map(channel_price_dto).collect(),
        next_cursor: found.next_cursor,
    };
    Ok(Json(page.into()))
}

/// Price parity: every channel override, its base price and its reason (admin).
#[utoipa::path(get, path = "/v1/reports/price-parity", tag = "prices", params(PageParams),
    responses((status = 200, body = ParityPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn parity_report(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<ParityPage>> {
    let (found, scoped) = app::reports::price_parity(&s.db, &p, &q.request()?).await?;
    let channel_promotions = scoped
        .into_iter()
        .map(|p| ChannelPromotionDto {
            promotion_id: p.id,
            name: p.name,
            description: p.description,
            channels: p.conditions.channels.into_iter().collect(),
        })
        .collect();
    let page = found.map(|l| {
        let o = l.price_override;
        ParityLineDto {
            difference_minor: o.amount_minor - l.base_amount_minor,
            base_amount_minor: l.base_amount_minor,
            override_amount_minor: o.amount_minor,
            sku: o.sku,
            currency: o.currency,
            channel: o.channel,
            reason: o.reason,
            starts_at: o.starts_at,
            ends_at: o.ends_at,
            active_now: l.active_now,
        }
    });
    Ok(Json(ParityPage {
        data: page.data,
        next_cursor: page.next_cursor,
        channel_promotions,
    }))
}
