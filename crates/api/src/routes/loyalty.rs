//! `/v1/loyalty/programme`: the retailer's programme (every key reads it, admin sets it);
//! `/v1/customers/{id}/loyalty`: enrolment, balance and history on every channel;
//! `/v1/customers/{id}/loyalty/adjustments`: corrections by service. Points are spent at
//! checkout (`payment.points`) and earned, released and clawed back by the orders themselves.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::{Currency, Error, Timestamp};
use loyalty::{BonusPeriod, EntryKind, Programme, Tier};
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
        .routes(routes!(get_programme, set_programme))
        .routes(routes!(get_account, enrol))
        .routes(routes!(adjust))
        .routes(routes!(redeem))
}

wire_enum!(
    /// What a ledger entry records.
    PointsEntryKindDto <=> EntryKind { Earn, Spend, Release, Clawback, Expire, Adjust }
);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BonusPeriodDto {
    #[schema(example = "double-weekend")]
    pub code: String,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    /// Percent of the usual points (200 doubles them).
    #[schema(minimum = 0, maximum = 1000)]
    pub earn_pct: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierDto {
    #[schema(example = "gold")]
    pub code: String,
    /// Points earned over `tier_months` to reach it (the first tier: 0).
    #[schema(minimum = 0)]
    pub threshold: i64,
    #[schema(minimum = 0, maximum = 1000)]
    pub earn_pct: i64,
}

/// The loyalty programme: how sales earn, what a point pays, tiers and expiry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeDto {
    #[schema(example = "EUR")]
    pub currency: String,
    /// Points per whole currency unit paid (after discounts; delivery and points earn none).
    #[schema(minimum = 0, maximum = 1000)]
    pub points_per_unit: i64,
    /// Percent by sales channel code (100 when not named).
    #[serde(default)]
    pub channel_pct: BTreeMap<String, i64>,
    /// Percent by product category.
    #[serde(default)]
    pub category_pct: BTreeMap<String, i64>,
    /// Flat points when a promotion (by id) applied.
    #[serde(default)]
    pub promotion_points: BTreeMap<String, i64>,
    #[serde(default)]
    pub bonus_periods: Vec<BonusPeriodDto>,
    /// Lowest first; the first starts at 0.
    pub tiers: Vec<TierDto>,
    #[schema(minimum = 1, maximum = 60)]
    pub tier_months: i64,
    /// Months after which points expire (oldest spent first); 0: never.
    #[schema(minimum = 0, maximum = 120)]
    pub expiry_months: i64,
    /// What a point pays, in minor units of `currency`.
    #[schema(minimum = 1, maximum = 10000)]
    pub point_value_minor: i64,
    #[schema(minimum = 1)]
    pub min_spend_points: i64,
    /// Vouchers members redeem points for (`POST /v1/customers/{id}/loyalty/rewards`).
    #[serde(default)]
    pub rewards: Vec<RewardDto>,
}

/// A voucher of a fixed value for a fixed number of points, issued as store credit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardDto {
    #[schema(example = "voucher-5")]
    pub code: String,
    #[schema(example = "5 € voucher")]
    pub name: String,
    #[schema(minimum = 1)]
    pub points: i64,
    #[schema(minimum = 1)]
    pub value_minor: i64,
    #[schema(minimum = 1, maximum = 120)]
    pub valid_months: i64,
}

fn programme_dto(p: Programme) -> ProgrammeDto {
    ProgrammeDto {
        currency: p.currency.code().to_owned(),
        points_per_unit: p.points_per_unit,
        channel_pct: p.channel_pct,
        category_pct: p.category_pct,
        promotion_points: p.promotion_points,
        bonus_periods: p
            .bonus_periods
            .into_iter()
            .map(|b| BonusPeriodDto {
                code: b.code,
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                earn_pct: b.earn_pct,
            })
            .collect(),
        tiers: p
            .tiers
            .into_iter()
            .map(|t| TierDto {
                code: t.code,
                threshold: t.threshold,
                earn_pct: t.earn_pct,
            })
            .collect(),
        tier_months: p.tier_months,
        expiry_months: p.expiry_months,
        point_value_minor: p.point_value_minor,
        min_spend_points: p.min_spend_points,
        rewards: p
            .rewards
            .into_iter()
            .map(|r| RewardDto {
                code: r.code,
                name: r.name,
                points: r.points,
                value_minor: r.value_minor,
                valid_months: r.valid_months,
            })
            .collect(),
    }
}

fn programme_of(b: ProgrammeDto) -> Result<Programme, Error> {
    Ok(Programme {
        currency: Currency::parse(&b.currency).map_err(|m| Error::validation("currency", m))?,
        points_per_unit: b.points_per_unit,
        channel_pct: b.channel_pct,
        category_pct: b.category_pct,
        promotion_points: b.promotion_points,
        bonus_periods: b
            .bonus_periods
            .into_iter()
            .map(|d| BonusPeriod {
                code: d.code,
                starts_at: d.starts_at,
                ends_at: d.ends_at,
                earn_pct: d.earn_pct,
            })
            .collect(),
        tiers: b
            .tiers
            .into_iter()
            .map(|t| Tier {
                code: t.code,
                threshold: t.threshold,
                earn_pct: t.earn_pct,
            })
            .collect(),
        tier_months: b.tier_months,
        expiry_months: b.expiry_months,
        point_value_minor: b.point_value_minor,
        min_spend_points: b.min_spend_points,
        rewards: b
            .rewards
            .into_iter()
            .map(|r| loyalty::Reward {
                code: r.code,
                name: r.name,
                points: r.points,
                value_minor: r.value_minor,
                valid_months: r.valid_months,
            })
            .collect(),
    })
}

/// A reward to redeem.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redemption {
    /// A reward's code in the programme.
    #[schema(example = "voucher-5")]
    pub reward: String,
}

/// Redeem a member's points for a reward, from any channel: the points leave the balance and
/// a store credit of the reward's value is issued to the member (spend it with
/// `payment.store_credit_id`). Not enough points: `409`.
#[utoipa::path(post, path = "/v1/customers/{id}/loyalty/rewards", tag = "loyalty",
    request_body = Redemption, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = super::stored_value::StoredValueDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn redeem(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<Redemption>,
) -> ApiResult<Response> {
    let render = |a| stored(201, &super::stored_value::value_dto(a, None));
    let reward = w.body.reward;
    let response =
        app::loyalty::redeem(&s.db, &w.principal, &id, &reward, w.idempotency, render).await?;
    Ok(reply(response))
}

/// The loyalty programme in force (channels show it to customers).
#[utoipa::path(get, path = "/v1/loyalty/programme", tag = "loyalty",
    responses((status = 200, body = ProgrammeDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_programme(State(s): State<AppState>, _p: Principal) -> ApiResult<Json<ProgrammeDto>> {
    Ok(Json(programme_dto(app::loyalty::programme(&s.db).await?)))
}

/// Set the loyalty programme (admin): the whole of it. Points already earned keep their
/// expiry; tiers are recomputed as members earn.
#[utoipa::path(put, path = "/v1/loyalty/programme", tag = "loyalty", request_body = ProgrammeDto,
    params(IdempotencyHeader),
    responses((status = 200, body = ProgrammeDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_programme(State(s): State<AppState>, w: Write<ProgrammeDto>) -> ApiResult<Response> {
    let programme = programme_of(w.body)?;
    let render = |p| stored(200, &programme_dto(p));
    let response =
        app::loyalty::set_programme(&s.db, &w.principal, programme, w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointsEntryDto {
    pub seq: i64,
    #[schema(example = "lpt_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    pub kind: PointsEntryKindDto,
    /// Signed: positive adds points.
    pub points: i64,
    pub balance_after: i64,
    pub order_id: Option<String>,
    pub channel: Option<String>,
    pub location: Option<String>,
    /// Why (adjustments).
    pub reason: Option<String>,
    /// When these points expire (earned points).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

fn entry_dto(e: store::loyalty::Entry) -> PointsEntryDto {
    PointsEntryDto {
        seq: e.seq,
        id: e.id,
        kind: e.kind.into(),
        points: e.points,
        balance_after: e.balance_after,
        order_id: e.order_id,
        channel: e.channel,
        location: e.location,
        reason: e.reason,
        expires_at: e.expires_at,
        at: e.at,
    }
}

/// A member's account: tier, balance and the latest entries of the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoyaltyAccount {
    pub customer_id: String,
    #[schema(example = "silver")]
    pub tier: String,
    /// Points to spend; never negative.
    pub balance: i64,
    /// `active`, `merged` or `erased`.
    pub status: String,
    /// The channel it joined on.
    pub channel: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_expiry_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub enrolled_at: Timestamp,
    /// Newest first.
    pub entries: Vec<PointsEntryDto>,
    /// Pass as `before` for older entries.
    pub next_before: Option<i64>,
}

fn account_dto(
    m: store::loyalty::Member,
    entries: Vec<store::loyalty::Entry>,
    full: bool,
) -> LoyaltyAccount {
    let next_before = entries.last().filter(|_| full).map(|e| e.seq);
    LoyaltyAccount {
        customer_id: m.customer_id,
        tier: m.tier,
        balance: m.balance,
        status: m.status,
        channel: m.channel,
        next_expiry_at: m.next_expiry_at,
        enrolled_at: m.enrolled_at,
        entries: entries.into_iter().map(entry_dto).collect(),
        next_before,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    /// Only entries older than this `seq` (paging).
    pub before: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A member's balance, tier and history, the same on every channel.
#[utoipa::path(get, path = "/v1/customers/{id}/loyalty", tag = "loyalty",
    params(("id" = String, Path), AccountQuery),
    responses((status = 200, body = LoyaltyAccount), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_account(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<AccountQuery>,
) -> ApiResult<Json<LoyaltyAccount>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::validation("limit", "1 to 500").into());
    }
    let (member, entries) = app::loyalty::account(&s.db, &p, &id, q.before, limit).await?;
    let full = entries.len() as i64 == limit;
    Ok(Json(account_dto(member, entries, full)))
}

/// An enrolment: nothing to say yet (the member joins on the key's channel, in the first
/// tier).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {}

/// Enrol a customer in the loyalty programme, from any channel (a member already enrolled
/// gets their account). Their loyalty card is one of their identifiers
/// (`POST /v1/customers/{id}/identities`).
#[utoipa::path(post, path = "/v1/customers/{id}/loyalty", tag = "loyalty",
    request_body = Enrolment, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = LoyaltyAccount), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn enrol(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<Enrolment>,
) -> ApiResult<Response> {
    let render = |m| stored(201, &account_dto(m, Vec::new(), false));
    let response = app::loyalty::enrol(&s.db, &w.principal, &id, w.idempotency, render).await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    /// Points to add (positive) or take (negative); the balance never goes below zero.
    #[schema(minimum = -1000000, maximum = 1000000, example = 250)]
    pub points: i64,
    #[schema(
        min_length = 3,
        max_length = 200,
        example = "Goodwill: parcel arrived late"
    )]
    pub reason: String,
}

/// Correct a member's points (service and admin), with the reason; in the ledger as an
/// `adjust` entry.
#[utoipa::path(post, path = "/v1/customers/{id}/loyalty/adjustments", tag = "loyalty",
    request_body = Adjustment, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = PointsEntryDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn adjust(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<Adjustment>,
) -> ApiResult<Response> {
    let b = w.body;
    if !(-1_000_000..=1_000_000).contains(&b.points) {
        return Err(Error::validation("points", "from -1000000 to 1000000").into());
    }
    let render = |e| stored(201, &entry_dto(e));
    let change = (b.points, b.reason);
    let response =
        app::loyalty::adjust(&s.db, &w.principal, &id, change, w.idempotency, render).await?;
    Ok(reply(response))
}
