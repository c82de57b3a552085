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
use crate::auth::{Principal, Scope};
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
    /// `admin`, `service`, `channel:<code>`, `store:<location code>`.
    #[schema(example = json!(["store:LYS-BELLECOUR"]), min_items = 1, inline)]
    pub scopes: Vec<ScopeText>,
}

/// One scope: `admin`, `service`, `channel:<code>` or `store:<location code>`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(pattern = r"^(admin|service|channel:[a-z0-9-]{2,40}|store:[A-Z0-9-]{2,32})$")]
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

/// Validates the name and scopes and mints a token; returns the key to store and its token.
pub fn mint_key(name: &str, scopes: &[String]) -> Result<(ApiKey, String), Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::validation(
            "name",
            "name must be 1 to 100 characters, without control characters",
        ));
    }
    if scopes.is_empty() {
        return Err(Error::validation(
            "scopes",
            "a key needs at least one scope",
        ));
    }
    let scopes = scopes
        .iter()
        .map(|s| Scope::parse(s).map(|s| s.to_text()))
        .collect::<Result<Vec<_>, _>>()?;
    let token = format!("rls_{}", kernel::id::new_secret_hex());
    let key = ApiKey {
        id: kernel::id::new_id("key"),
        name: name.to_owned(),
        prefix: token[..12].to_owned(),
        scopes,
        created_at: Timestamp::now(),
        revoked_at: None,
    };
    Ok((key, token))
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
    p.require_admin()?;
    let found = store::api_keys::list_keys(&s.db, &q.request()?).await?;
    Ok(Json(found.map(dto).into()))
}

/// Create an API key (admin). The response holds the token, shown only this once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "access", request_body = CreateKey,
    params(IdempotencyHeader),
    responses((status = 201, body = CreatedKey), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_key(State(s): State<AppState>, w: Write<CreateKey>) -> ApiResult<Response> {
    let actor = w.actor();
    let scopes: Vec<String> = w.body.scopes.iter().map(|s| s.0.clone()).collect();
    let (key, token) = mint_key(&w.body.name, &scopes)?;
    let first_answer = CreatedKey {
        key: dto(key.clone()),
        token: Some(token.clone()),
    };
    // What the idempotency record keeps: the key without its token.
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| Box::pin(async move { store::api_keys::create_key(c, &key, &token, &actor).await.map(|_| key) }),
            |key| stored(201, &CreatedKey { key: dto(key), token: None }),
        )
        .await?;
    if response.replayed {
        return Ok(reply(response));
    }
    Ok(reply(stored(201, &first_answer)))
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
    let actor = w.actor();
    let response =
        s.db.write_once(
            w.idempotency,
            move |c| Box::pin(async move { store::api_keys::revoke_key(c, &id, &actor).await }),
            |()| store::StoredResponse {
                status: 204,
                body: String::new(),
                replayed: false,
            },
        )
        .await?;
    s.keys.clear();
    Ok(reply(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_are_validated_and_secret() {
        let (key, token) = mint_key(" POS Lyon ", &["store:LYS-BELLECOUR".into()]).unwrap();
        assert_eq!(key.name, "POS Lyon");
        assert!(token.starts_with("rls_") && token.len() == 68 && token.starts_with(&key.prefix));
        assert_ne!(mint_key("x", &["admin".into()]).unwrap().1, token);
        for (name, scopes) in [
            ("", vec!["admin"]),
            ("x\u{9b}", vec!["admin"]),
            ("x", vec![]),
            ("x", vec!["root"]),
        ] {
            let scopes: Vec<String> = scopes.into_iter().map(String::from).collect();
            assert!(mint_key(name, &scopes).is_err(), "{name:?} {scopes:?}");
        }
    }
}
