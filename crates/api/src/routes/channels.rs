//! `/v1/channels`: web, app, kiosks, POS, phone, e-mail, social, marketplaces.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use catalog::{Channel, ChannelKind, NewChannel};
use kernel::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, reply, stored};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKindDto {
    Web,
    App,
    Kiosk,
    Pos,
    Phone,
    Email,
    Social,
    Marketplace,
}

impl From<ChannelKindDto> for ChannelKind {
    fn from(k: ChannelKindDto) -> Self {
        match k {
            ChannelKindDto::Web => ChannelKind::Web,
            ChannelKindDto::App => ChannelKind::App,
            ChannelKindDto::Kiosk => ChannelKind::Kiosk,
            ChannelKindDto::Pos => ChannelKind::Pos,
            ChannelKindDto::Phone => ChannelKind::Phone,
            ChannelKindDto::Email => ChannelKind::Email,
            ChannelKindDto::Social => ChannelKind::Social,
            ChannelKindDto::Marketplace => ChannelKind::Marketplace,
        }
    }
}

impl From<ChannelKind> for ChannelKindDto {
    fn from(k: ChannelKind) -> Self {
        match k {
            ChannelKind::Web => ChannelKindDto::Web,
            ChannelKind::App => ChannelKindDto::App,
            ChannelKind::Kiosk => ChannelKindDto::Kiosk,
            ChannelKind::Pos => ChannelKindDto::Pos,
            ChannelKind::Phone => ChannelKindDto::Phone,
            ChannelKind::Email => ChannelKindDto::Email,
            ChannelKind::Social => ChannelKindDto::Social,
            ChannelKind::Marketplace => ChannelKindDto::Marketplace,
        }
    }
}

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
    let actor = w.actor();
    let b = w.body;
    let channel = NewChannel {
        code: b.code,
        kind: b.kind.into(),
        name: b.name,
        location_code: b.location_code,
    }
    .validate(Timestamp::now())?;
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| {
                Box::pin(async move {
                    store::channels::create_channel(c, &channel, &actor)
                        .await
                        .map(|_| channel)
                })
            },
            |c| stored(201, &ChannelDto::from(c)),
        )
        .await?;
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
