//! `/v1/promotions`: what baskets get off, on every channel. Admin keys write them; every
//! key reads them. Carts and orders show the promotions they got.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use kernel::{Currency, Error, Timestamp};
use promotions::{
    Budget, Conditions, Coupon, Effect, ItemScope, NewPromotion, Promotion, PromotionPatch,
    Schedule, Usage,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, present, reply, stored, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_promotions, create_promotion))
        .routes(routes!(get_promotion, update_promotion))
        .routes(routes!(list_coupons, create_coupons))
        .routes(routes!(get_coupon))
        .routes(routes!(issue_coupon))
}

/// Which items count; empty lists mean every item. A line counts when it matches any list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemScopeDto {
    #[serde(default)]
    pub skus: BTreeSet<String>,
    #[serde(default)]
    pub products: BTreeSet<String>,
    /// Category paths: `running` covers `running/shoes`.
    #[serde(default)]
    pub categories: BTreeSet<String>,
    #[serde(default)]
    pub brands: BTreeSet<String>,
}

/// When a promotion runs: between two instants, and optionally on some days and hours in a
/// time zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDto {
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Timestamp>,
    /// ISO weekdays, 1 = Monday … 7 = Sunday; empty = every day.
    #[serde(default)]
    pub days: BTreeSet<u8>,
    /// Local time it starts each day, `HH:MM`.
    #[schema(example = "17:00")]
    pub from_time: Option<String>,
    /// Local time it stops each day, `HH:MM` (exclusive).
    #[schema(example = "19:00")]
    pub to_time: Option<String>,
    /// IANA time zone of the days and times.
    #[schema(example = "Europe/Paris")]
    pub time_zone: String,
}

/// Who, where and what a basket must be for the promotion to apply.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionsDto {
    /// Channel codes; empty = every channel.
    #[serde(default)]
    pub channels: BTreeSet<String>,
    /// Stores of the order (pickup, reservation, kiosk, till); empty = anywhere.
    #[serde(default)]
    pub stores: BTreeSet<String>,
    /// Customer segments (the customer must be in one); empty = anyone.
    #[serde(default)]
    pub segments: BTreeSet<String>,
    #[serde(default)]
    pub items: ItemScopeDto,
    /// The qualifying items must cost at least this much at list price.
    pub min_subtotal_minor: Option<i64>,
    /// At least this many qualifying units.
    pub min_quantity: Option<i64>,
    pub schedule: Option<ScheduleDto>,
    /// Only a customer's first order.
    #[serde(default)]
    pub first_order: bool,
    /// Only with one of its coupon codes.
    #[serde(default)]
    pub coupon_required: bool,
}

/// What a qualifying basket gets. Percentages are basis points (2000 = 20 %).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EffectDto {
    PercentOffItems {
        percent_bp: i64,
    },
    AmountOffItems {
        amount_minor: i64,
    },
    PercentOffCart {
        percent_bp: i64,
    },
    AmountOffCart {
        amount_minor: i64,
    },
    PercentOffCheapest {
        percent_bp: i64,
    },
    /// Of every `buy + get` qualifying units (dearest first), the `get` cheapest are
    /// `percent_bp` off.
    BuyXGetY {
        buy: i64,
        get: i64,
        percent_bp: i64,
    },
    /// Every `quantity` qualifying units cost `price_minor` together.
    BundlePrice {
        quantity: i64,
        price_minor: i64,
    },
    /// Up to `quantity` units of `sku` in the basket are free.
    FreeGift {
        sku: String,
        quantity: i64,
    },
    FreeShipping,
}

wire_enum!(
    /// `exclusive`: only on a basket no other promotion applied to, and alone;
    /// `combinable`: after those of higher priority, on what they left.
    StackingDto <=> promotions::Stacking { Exclusive, Combinable }
);

/// Limits; each is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetDto {
    pub max_uses: Option<i64>,
    pub max_discount_minor: Option<i64>,
    /// A customer must be signed in to use a promotion with this limit.
    pub max_uses_per_customer: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePromotion {
    /// Shown to customers on carts, orders and receipts.
    #[schema(example = "−20 % on running shoes", min_length = 1, max_length = 120)]
    pub name: String,
    pub description: Option<String>,
    #[schema(example = "EUR")]
    pub currency: String,
    #[serde(default)]
    pub conditions: ConditionsDto,
    pub effect: EffectDto,
    /// Default `combinable`.
    pub stacking: Option<StackingDto>,
    /// Higher first; default 0.
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub budget: BudgetDto,
    /// Default `true`.
    pub active: Option<bool>,
}

/// Fields to change; absent ones stay. The result is checked as a whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPromotion {
    #[schema(min_length = 1, max_length = 120)]
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub conditions: Option<ConditionsDto>,
    pub effect: Option<EffectDto>,
    pub stacking: Option<StackingDto>,
    pub priority: Option<i64>,
    pub budget: Option<BudgetDto>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionDto {
    #[schema(example = "prm_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub currency: String,
    pub conditions: ConditionsDto,
    pub effect: EffectDto,
    pub stacking: StackingDto,
    pub priority: i64,
    pub budget: BudgetDto,
    pub active: bool,
    /// Orders that used it (given back when an order is cancelled or lapses).
    pub uses: Option<i64>,
    /// Discount it gave in all.
    pub discount_given_minor: Option<i64>,
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

super::page_of!(PromotionPage, PromotionDto);

fn conditions(c: ConditionsDto) -> Conditions {
    Conditions {
        channels: c.channels,
        stores: c.stores,
        segments: c.segments,
        items: ItemScope {
            skus: c.items.skus,
            products: c.items.products,
            categories: c.items.categories,
            brands: c.items.brands,
        },
        min_subtotal_minor: c.min_subtotal_minor,
        min_quantity: c.min_quantity,
        schedule: c.schedule.map(|s| Schedule {
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            days: s.days,
            from_time: s.from_time,
            to_time: s.to_time,
            time_zone: s.time_zone,
        }),
        first_order: c.first_order,
        coupon_required: c.coupon_required,
    }
}

fn conditions_dto(c: Conditions) -> ConditionsDto {
    ConditionsDto {
        channels: c.channels,
        stores: c.stores,
        segments: c.segments,
        items: ItemScopeDto {
            skus: c.items.skus,
            products: c.items.products,
            categories: c.items.categories,
            brands: c.items.brands,
        },
        min_subtotal_minor: c.min_subtotal_minor,
        min_quantity: c.min_quantity,
        schedule: c.schedule.map(|s| ScheduleDto {
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            days: s.days,
            from_time: s.from_time,
            to_time: s.to_time,
            time_zone: s.time_zone,
        }),
        first_order: c.first_order,
        coupon_required: c.coupon_required,
    }
}

/// The effect's wire form mirrors the domain's variant for variant, both ways: a variant
/// added to one and not the other does not compile.
macro_rules! mirror_effect {
    ($($variant:ident { $($field:ident),* }),+ $(,)?) => {
        impl From<EffectDto> for Effect {
            fn from(e: EffectDto) -> Self {
                match e { $(EffectDto::$variant { $($field),* } => Effect::$variant { $($field),* },)+ }
            }
        }

        impl From<Effect> for EffectDto {
            fn from(e: Effect) -> Self {
                match e { $(Effect::$variant { $($field),* } => EffectDto::$variant { $($field),* },)+ }
            }
        }
    };
}

mirror_effect!(
    PercentOffItems { percent_bp },
    AmountOffItems { amount_minor },
    PercentOffCart { percent_bp },
    AmountOffCart { amount_minor },
    PercentOffCheapest { percent_bp },
    BuyXGetY {
        buy,
        get,
        percent_bp
    },
    BundlePrice {
        quantity,
        price_minor
    },
    FreeGift { sku, quantity },
    FreeShipping {},
);

fn budget(b: BudgetDto) -> Budget {
    Budget {
        max_uses: b.max_uses,
        max_discount_minor: b.max_discount_minor,
        max_uses_per_customer: b.max_uses_per_customer,
    }
}

fn promotion_dto(p: Promotion, usage: Option<Usage>) -> PromotionDto {
    PromotionDto {
        id: p.id,
        name: p.name,
        description: p.description,
        currency: p.currency.code().to_owned(),
        conditions: conditions_dto(p.conditions),
        effect: p.effect.into(),
        stacking: p.stacking.into(),
        priority: p.priority,
        budget: BudgetDto {
            max_uses: p.budget.max_uses,
            max_discount_minor: p.budget.max_discount_minor,
            max_uses_per_customer: p.budget.max_uses_per_customer,
        },
        active: p.active,
        uses: usage.map(|u| u.uses),
        discount_given_minor: usage.map(|u| u.discount_minor),
        version: p.version,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// Create a promotion (admin).
#[utoipa::path(post, path = "/v1/promotions", tag = "promotions", request_body = CreatePromotion,
    params(IdempotencyHeader),
    responses((status = 201, body = PromotionDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_promotion(
    State(s): State<AppState>,
    w: Write<CreatePromotion>,
) -> ApiResult<Response> {
    let b = w.body;
    let new = NewPromotion {
        name: b.name,
        description: b.description,
        currency: Currency::parse(&b.currency).map_err(|m| Error::validation("currency", m))?,
        conditions: conditions(b.conditions),
        effect: b.effect.into(),
        stacking: b
            .stacking
            .map_or(promotions::Stacking::Combinable, Into::into),
        priority: b.priority,
        budget: budget(b.budget),
        active: b.active.unwrap_or(true),
    };
    let render = |p| stored(201, &promotion_dto(p, Some(Usage::default())));
    let response =
        app::promotions::create(&s.reference, &w.principal, new, w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PromotionQuery {
    /// Only those switched on.
    pub active: Option<bool>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List promotions, in id order.
#[utoipa::path(get, path = "/v1/promotions", tag = "promotions", params(PromotionQuery),
    responses((status = 200, body = PromotionPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_promotions(
    State(s): State<AppState>,
    _p: Principal,
    Q(q): Q<PromotionQuery>,
) -> ApiResult<Json<PromotionPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let found = app::promotions::list(&s.db, q.active.unwrap_or(false), &page).await?;
    Ok(Json(found.map(|p| promotion_dto(p, None)).into()))
}

/// A promotion, with its use so far.
#[utoipa::path(get, path = "/v1/promotions/{id}", tag = "promotions", params(("id" = String, Path)),
    responses((status = 200, body = PromotionDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_promotion(
    State(s): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PromotionDto>> {
    let (promotion, usage) = app::promotions::get(&s.db, &id).await?;
    Ok(Json(promotion_dto(promotion, Some(usage))))
}

/// Change a promotion, or switch it on or off (admin).
#[utoipa::path(patch, path = "/v1/promotions/{id}", tag = "promotions", request_body = PatchPromotion,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = PromotionDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_promotion(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<PatchPromotion>,
) -> ApiResult<Response> {
    let b = w.body;
    let patch = PromotionPatch {
        name: b.name,
        description: b.description,
        conditions: b.conditions.map(conditions),
        effect: b.effect.map(Into::into),
        stacking: b.stacking.map(Into::into),
        priority: b.priority,
        budget: b.budget.map(budget),
        active: b.active,
    };
    let render = |p| stored(200, &promotion_dto(p, None));
    let response =
        app::promotions::update(&s.reference, &w.principal, id, patch, w.idempotency, render)
            .await?;
    Ok(reply(response))
}

/// A coupon code.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponDto {
    #[schema(example = "WIN-ABCD2345")]
    pub code: String,
    pub promotion_id: String,
    pub batch: Option<String>,
    /// Issued to one customer: only they may use it.
    pub issued: bool,
    pub max_uses: i64,
    pub max_uses_per_customer: Option<i64>,
    /// Orders holding a use (reserved or redeemed).
    pub uses: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Coupon> for CouponDto {
    fn from(c: Coupon) -> Self {
        CouponDto {
            issued: c.customer_id.is_some(),
            code: c.code,
            promotion_id: c.promotion_id,
            batch: c.batch,
            max_uses: c.max_uses,
            max_uses_per_customer: c.max_uses_per_customer,
            uses: c.uses,
            created_at: c.created_at,
        }
    }
}

super::page_of!(CouponPage, CouponDto);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCoupons {
    /// One code as the retailer chose it (e.g. `RUN10`); absent: `count` codes are generated.
    #[schema(example = "RUN10")]
    pub code: Option<String>,
    /// Codes to generate (1 to 10000), each `prefix-` and 8 characters.
    pub count: Option<i64>,
    #[schema(example = "WIN")]
    pub prefix: Option<String>,
    /// Uses of each code in all; default 1 (single use).
    pub max_uses: Option<i64>,
    pub max_uses_per_customer: Option<i64>,
    /// Issue the typed code to this customer at once.
    pub customer_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CouponBatchDto {
    pub promotion_id: String,
    pub batch: Option<String>,
    pub count: i64,
    pub codes: Vec<CouponDto>,
}

/// Make coupon codes for a promotion (admin): one typed code, or a batch of unique
/// generated ones (export them with `GET …/coupons?batch=…&format=csv`).
#[utoipa::path(post, path = "/v1/promotions/{id}/coupons", tag = "promotions", request_body = CreateCoupons,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = CouponBatchDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_coupons(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<CreateCoupons>,
) -> ApiResult<Response> {
    let b = w.body;
    let new = app::coupons::NewCoupons {
        count: b.count.unwrap_or(1),
        prefix: b.prefix.unwrap_or_else(|| "CODE".into()),
        code: b.code,
        max_uses: b.max_uses.unwrap_or(1),
        max_uses_per_customer: b.max_uses_per_customer,
        customer_id: b.customer_id,
    };
    let promotion_id = id.clone();
    let render = move |codes: Vec<Coupon>| {
        stored(
            201,
            &CouponBatchDto {
                promotion_id,
                batch: codes.first().and_then(|c| c.batch.clone()),
                count: codes.len() as i64,
                codes: codes.into_iter().map(Into::into).collect(),
            },
        )
    };
    let response =
        app::coupons::create(&s.db, &w.principal, id, new, w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CouponQuery {
    /// One batch's codes.
    pub batch: Option<String>,
    /// `csv`: every code of the list as CSV (`code,batch,max_uses,uses,issued`), up to
    /// 10000, for printing or mailing; the default is a JSON page.
    pub format: Option<String>,
    /// 1 to 500, default 50 (JSON).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A promotion's coupon codes (staff), as JSON pages or CSV.
#[utoipa::path(get, path = "/v1/promotions/{id}/coupons", tag = "promotions", params(("id" = String, Path), CouponQuery),
    responses((status = 200, content((CouponPage = "application/json"), (String = "text/csv"))), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_coupons(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<CouponQuery>,
) -> ApiResult<Response> {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(
                Error::validation("format", format!("`{other}` is not json or csv")).into(),
            );
        }
    };
    if !csv {
        let page = PageParams {
            limit: q.limit,
            cursor: q.cursor,
        }
        .request()?;
        let found = app::coupons::list(&s.db, &p, &id, q.batch.as_deref(), &page).await?;
        return Ok(Json(CouponPage::from(found.map(CouponDto::from))).into_response());
    }
    let mut out = String::from("code,batch,max_uses,uses,issued\n");
    let mut page = kernel::PageRequest::parse(Some(500), None)?;
    for _ in 0..20 {
        let found = app::coupons::list(&s.db, &p, &id, q.batch.as_deref(), &page).await?;
        for c in &found.data {
            let batch = c.batch.as_deref().unwrap_or("");
            out.push_str(&format!(
                "{},{batch},{},{},{}\n",
                c.code,
                c.max_uses,
                c.uses,
                c.customer_id.is_some()
            ));
        }
        match found.next_cursor {
            Some(cursor) => page = kernel::PageRequest::parse(Some(500), Some(&cursor))?,
            None => break,
        }
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        out,
    )
        .into_response())
}

/// A coupon code, as a till or a shop front checks it.
#[utoipa::path(get, path = "/v1/coupons/{code}", tag = "promotions", params(("code" = String, Path)),
    responses((status = 200, body = CouponDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_coupon(
    State(s): State<AppState>,
    _p: Principal,
    Path(code): Path<String>,
) -> ApiResult<Json<CouponDto>> {
    Ok(Json(app::coupons::check(&s.db, &code).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCoupon {
    pub customer_id: String,
}

/// Issue a code to one customer (a prize won online, redeemable on every channel by that
/// customer only): staff, or the channel the customer is known on.
#[utoipa::path(post, path = "/v1/coupons/{code}/issue", tag = "promotions", request_body = IssueCoupon,
    params(("code" = String, Path), IdempotencyHeader),
    responses((status = 200, body = CouponDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn issue_coupon(
    State(s): State<AppState>,
    Path(code): Path<String>,
    w: Write<IssueCoupon>,
) -> ApiResult<Response> {
    let customer = w.body.customer_id;
    let render = |c: Coupon| stored(200, &CouponDto::from(c));
    let response =
        app::coupons::issue(&s.db, &w.principal, &code, customer, w.idempotency, render).await?;
    Ok(reply(response))
}
