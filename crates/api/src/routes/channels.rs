//! `/v1/channels`: web, app, kiosks, POS, phone, e-mail, social, marketplaces.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use std::collections::BTreeMap;

use catalog::{Channel, ChannelKind, NewChannel};
use inventory::sourcing::{Fulfilment, SourcingPolicy, SourcingRule};
use kernel::Timestamp;
use serde::{Deserialize, Serialize};
use store::sourcing::EffectivePolicy;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::locations::{LocationKindDto, kind_from, kind_to};
use super::{IdempotencyHeader, PageParams, reply, stored, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel))
        .routes(routes!(get_sourcing, set_sourcing))
}

wire_enum!(ChannelKindDto <=> ChannelKind {
    Web,
    App,
    Kiosk,
    Pos,
    Phone,
    Email,
    Social,
    Marketplace
});

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    /// 2 to 40 of `a-z 0-9 -`.
    #[schema(example = "kiosk-lys-bellecour-1", pattern = r"^[a-z0-9-]{2,40}$")]
    pub code: String,
    pub kind: ChannelKindDto,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    /// Required for `kiosk` and `pos` (the store they stand in); forbidden otherwise.
    #[schema(pattern = r"^[A-Z0-9-]{2,32}$")]
    pub location_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelDto {
    pub code: String,
    pub kind: ChannelKindDto,
    pub name: String,
    pub location_code: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

super::page_of!(ChannelPage, ChannelDto);

impl From<Channel> for ChannelDto {
    fn from(c: Channel) -> Self {
        ChannelDto {
            code: c.code,
            kind: c.kind.into(),
            name: c.name,
            location_code: c.location_code,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChannelQuery {
    /// Only the kiosks and POS of this store.
    pub location: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List channels.
#[utoipa::path(get, path = "/v1/channels", tag = "channels", params(ChannelQuery),
    responses((status = 200, body = ChannelPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_channels(
    State(s): State<AppState>,
    _p: Principal,
    Q(q): Q<ChannelQuery>,
) -> ApiResult<Json<ChannelPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let found = store::channels::list_channels(&s.db, q.location.as_deref(), &page).await?;
    Ok(Json(found.map(ChannelDto::from).into()))
}

/// Create a channel (admin). Kiosks and POS are bound to one store.
#[utoipa::path(post, path = "/v1/channels", tag = "channels", request_body = CreateChannel,
    params(IdempotencyHeader),
    responses((status = 201, body = ChannelDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_channel(State(s): State<AppState>, w: Write<CreateChannel>) -> ApiResult<Response> {
    let b = w.body;
    let new = NewChannel {
        code: b.code,
        kind: b.kind.into(),
        name: b.name,
        location_code: b.location_code,
    };
    let render = |c| stored(201, &ChannelDto::from(c));
    let response =
        app::channels::create(&s.reference, &w.principal, new, w.idempotency, render).await?;
    Ok(reply(response))
}

/// Get one channel.
#[utoipa::path(get, path = "/v1/channels/{code}", tag = "channels", params(("code" = String, Path)),
    responses((status = 200, body = ChannelDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_channel(
    State(s): State<AppState>,
    _p: Principal,
    Path(code): Path<String>,
) -> ApiResult<Json<ChannelDto>> {
    Ok(Json(
        store::channels::get_channel(&s.db, &code).await?.into(),
    ))
}

/// Where one fulfilment may be sourced from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourcingRuleDto {
    /// Kinds of location allowed; each must also offer the fulfilment's capability
    /// (`ship_from`, `pickup`, `reserve`).
    #[schema(min_items = 1)]
    pub location_kinds: Vec<LocationKindDto>,
    /// Locations this channel never promises from for this fulfilment.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// One rule per fulfilment; a fulfilment left out is not offered on the channel.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourcingRulesDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship: Option<SourcingRuleDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup: Option<SourcingRuleDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserve: Option<SourcingRuleDto>,
}

/// A channel's sourcing policy.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSourcing {
    pub rules: SourcingRulesDto,
    /// For a kiosk or POS: list and try its own store first. Default `false`.
    #[serde(default)]
    pub own_store_first: bool,
    /// Units kept back from this channel at every location. Default 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub safety: i64,
    /// Channel safety stock per location code, replacing `safety` there.
    #[serde(default)]
    pub safety_at: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourcingDto {
    pub channel: String,
    /// `true` while the channel uses its kind's default policy.
    pub default: bool,
    pub rules: SourcingRulesDto,
    pub own_store_first: bool,
    pub safety: i64,
    pub safety_at: BTreeMap<String, i64>,
}

fn rule_to_dto(rule: &SourcingRule) -> SourcingRuleDto {
    SourcingRuleDto {
        location_kinds: rule.location_kinds.iter().map(|k| kind_to(*k)).collect(),
        exclude: rule.exclude.iter().cloned().collect(),
    }
}

fn rule_from_dto(rule: SourcingRuleDto) -> SourcingRule {
    SourcingRule {
        location_kinds: rule.location_kinds.into_iter().map(kind_from).collect(),
        exclude: rule.exclude.into_iter().collect(),
    }
}

fn sourcing_dto(e: EffectivePolicy) -> SourcingDto {
    let rule = |f: Fulfilment| e.policy.rules.get(&f).map(rule_to_dto);
    SourcingDto {
        rules: SourcingRulesDto {
            ship: rule(Fulfilment::Ship),
            pickup: rule(Fulfilment::Pickup),
            reserve: rule(Fulfilment::Reserve),
        },
        own_store_first: e.policy.own_store_first,
        safety: e.policy.safety,
        safety_at: e.policy.safety_at.clone(),
        channel: e.channel.code,
        default: e.is_default,
    }
}

fn policy_from(b: SetSourcing) -> SourcingPolicy {
    let mut rules = BTreeMap::new();
    for (f, rule) in [
        (Fulfilment::Ship, b.rules.ship),
        (Fulfilment::Pickup, b.rules.pickup),
        (Fulfilment::Reserve, b.rules.reserve),
    ] {
        if let Some(rule) = rule {
            rules.insert(f, rule_from_dto(rule));
        }
    }
    SourcingPolicy {
        rules,
        own_store_first: b.own_store_first,
        safety: b.safety,
        safety_at: b.safety_at,
    }
}

/// A channel's sourcing policy: which locations it may promise from per fulfilment, and the
/// stock it keeps back. Until one is set, the default for the channel's kind applies.
#[utoipa::path(get, path = "/v1/channels/{code}/sourcing", tag = "channels", params(("code" = String, Path)),
    responses((status = 200, body = SourcingDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_sourcing(
    State(s): State<AppState>,
    _p: Principal,
    Path(code): Path<String>,
) -> ApiResult<Json<SourcingDto>> {
    Ok(Json(sourcing_dto(
        store::sourcing::get_policy(&s.db, &code).await?,
    )))
}

/// Set a channel's sourcing policy (admin). Applies at once to availability, holds and the
/// live stream.
#[utoipa::path(put, path = "/v1/channels/{code}/sourcing", tag = "channels", request_body = SetSourcing,
    params(("code" = String, Path), IdempotencyHeader),
    responses((status = 200, body = SourcingDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_sourcing(
    State(s): State<AppState>,
    Path(code): Path<String>,
    w: Write<SetSourcing>,
) -> ApiResult<Response> {
    let policy = policy_from(w.body);
    let render = |e| stored(200, &sourcing_dto(e));
    let response = app::channels::set_sourcing(
        &s.reference,
        &w.principal,
        code,
        policy,
        w.idempotency,
        render,
    )
    .await?;
    Ok(reply(response))
}
