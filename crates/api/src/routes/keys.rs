//! `/v1/api-keys`: create (the token is shown once), list, revoke. Admin only.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::{Error, ErrorCode, Timestamp};
use serde::{Deserialize, Serialize};
use store::api_keys::ApiKey;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, PageParams, reply, stored};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[schema(
        example = "Lyon Bellecour POS",
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 100
    )]
    pub name: String,
    /// `admin`, `service`, `marketing`, `channel:<code>`, `store:<location code>`.
    #[schema(example = json!(["store:LYS-BELLECOUR"]), min_items = 1, inline)]
    pub scopes: Vec<ScopeText>,
}

/// One scope: `admin`, `service`, `marketing`, `channel:<code>` or `store:<location code>`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(pattern = r"^(admin|service|marketing|channel:[a-z0-9-]{2,40}|store:[A-Z0-9-]{2,32})$")]
pub struct ScopeText(pub String);

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyDto {
    pub id: String,
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    pub scopes: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: KeyDto,
    /// The secret: shown once, never stored in clear — also not with the request's
    /// `Idempotency-Key`: a replay answers `null` here (the key exists; mint another if the
    /// token was lost).
    pub token: Option<String>,
}

super::page_of!(KeyPage, KeyDto);

fn dto(k: ApiKey) -> KeyDto {
    KeyDto {
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        scopes: k.scopes,
        created_at: k.created_at,
        revoked_at: k.revoked_at,
    }
}

/// List API keys (admin). Tokens are never shown again.
#[utoipa::path(get, path = "/v1/api-keys", tag = "access", params(PageParams),
    responses((status = 200, body = KeyPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_keys(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<KeyPage>> {
    let found = app::keys::list(&s.db, &p, &q.request()?).await?;
    Ok(Json(found.map(dto).into()))
}

/// Create an API key (admin). The response holds the token, shown only this once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "access", request_body = CreateKey,
    params(IdempotencyHeader),
    responses((status = 201, body = CreatedKey), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_key(State(s): State<AppState>, w: Write<CreateKey>) -> ApiResult<Response> {
    let scopes: Vec<String> = w.body.scopes.iter().map(|s| s.0.clone()).collect();
    // What the idempotency record keeps: the key without its token.
    let (response, key, token) = app::keys::create(
        &s.db,
        &w.actor(),
        &w.body.name,
        &scopes,
        w.idempotency,
        |key| {
            stored(
                201,
                &CreatedKey {
                    key: dto(key),
                    token: None,
                },
            )
        },
    )
    .await?;
    if response.replayed {
        return Ok(reply(response));
    }
    Ok(reply(stored(
        201,
        &CreatedKey {
            key: dto(key),
            token: Some(token),
        },
    )))
}

/// Revoke an API key (admin): it stops working at once on this node, within seconds on others.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "access", params(("id" = String, Path), IdempotencyHeader),
    responses((status = 204, description = "Revoked"), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn revoke_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Response> {
    if !w.body.is_empty() {
        return Err(Error::new(ErrorCode::InvalidBody, "DELETE takes no body").into());
    }
    let response = app::keys::revoke(&s.db, &w.principal, id, w.idempotency, |()| {
        store::StoredResponse {
            status: 204,
            body: String::new(),
            replayed: false,
        }
    })
    .await?;
    s.keys.clear();
    Ok(reply(response))
}
