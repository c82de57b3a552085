//! Authentication, and the route table at the door.
//!
//! Callers send `Authorization: Bearer <token>` (or `Basic` with the token as the password). The token's SHA-256 is looked up (with a
//! short in-memory cache) to find the key and its scopes (`admin`, `channel:<code>`,
//! `store:<location code>`, `service`). [`enforce_route_access`] then applies the route
//! table of `app::access` before any handler reads the request; the rules about which
//! resources a key may touch live in `app` too, next to the use cases.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kernel::{Error, ErrorCode};

pub use app::access::Scope;

use crate::error::ApiError;
use crate::key_cache::KeyCache;
use crate::state::AppState;

/// The caller of a request, as an extractor: the key found by the route-access layer
/// ([`enforce_route_access`]), which already refused the roles the route table excludes.
/// It dereferences to [`app::Principal`], where every access rule lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub app::Principal);

impl std::ops::Deref for Principal {
    type Target = app::Principal;

    fn deref(&self) -> &app::Principal {
        &self.0
    }
}

/// What authentication needs: the database and the key cache. Cheap to clone (two `Arc`s),
/// which matters: a middleware's state is cloned for every request.
#[derive(Clone)]
pub struct Door {
    db: store::Db,
    keys: std::sync::Arc<KeyCache>,
}

impl Door {
    pub fn of(state: &AppState) -> Door {
        Door {
            db: state.db.clone(),
            keys: state.keys.clone(),
        }
    }
}

async fn authenticate(state: &Door, token: &str) -> Result<Option<app::Principal>, Error> {
    let hash = store::api_keys::hash_token(token);
    if let Some(cached) = state.keys.get(&hash) {
        return Ok(cached);
    }
    let principal = store::api_keys::find_by_token(&state.db, token)
        .await?
        .map(|key| app::Principal {
            key_id: key.id,
            // Scopes were validated when the key was created.
            scopes: key
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
        });
    state.keys.put(hash, principal.clone());
    Ok(principal)
}

/// The token of an `Authorization` value: `Bearer <token>`, or `Basic` with the token as
/// the password (for fetchers that only send a user name and password, such as a shopping
/// feed's scheduled fetch).
fn token_of(header: &str) -> Option<std::borrow::Cow<'_, str>> {
    if let Some(token) = header.strip_prefix("Bearer ") {
        // The common case borrows: no allocation per request.
        return Some(std::borrow::Cow::Borrowed(token.trim()));
    }
    let encoded = header.strip_prefix("Basic ")?.trim();
    let decoded =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(std::borrow::Cow::Owned(password.to_owned()))
}

/// The key a request carries, authenticated.
async fn caller(parts: &Parts, state: &Door) -> Result<app::Principal, ApiError> {
    let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m);
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| unauthorized("send an API key: `Authorization: Bearer <token>`"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(token_of)
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
    authenticate(state, &token)
        .await?
        .ok_or_else(|| unauthorized("the API key is unknown or revoked"))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(found) = parts.extensions.get::<app::Principal>() {
            return Ok(Principal(found.clone()));
        }
        caller(parts, &Door::of(state)).await.map(Principal)
    }
}

/// The route table at the door: before a route's handler reads anything, the caller is
/// authenticated and refused (403) unless one of its scopes reaches the route
/// (`app::access::ROUTES`). A route missing from the table is left to its handler's own
/// checks; the route × role test fails on it.
pub async fn enforce_route_access(
    State(state): State<Door>,
    request: Request,
    next: Next,
) -> Response {
    // No row: a public route (health, docs), a method the route does not take (405
    // follows), or a route missing from the table — which the route × role test refuses.
    let rule = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| app::access::route(request.method().as_str(), m.as_str()));
    let Some(rule) = rule else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let principal = match caller(&parts, &state).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = app::access::check_route(&principal, rule) {
        return ApiError(e).into_response();
    }
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, body)).await
}
