//! Request extractors that speak the API's conventions.
//!
//! [`Write`] takes the caller the route-access layer authenticated (a key the route table
//! excludes got 403 before its body was read), validates the `Idempotency-Key` header,
//! and parses the JSON body strictly (unknown fields and wrong types are 422, broken JSON is
//! 400, each in the one error shape). [`Q`] does the same for query strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use kernel::{Error, ErrorCode};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use store::IdempotencyKey;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// A write request: its caller, its parsed body and its idempotency key.
pub struct Write<T> {
    pub principal: Principal,
    pub body: T,
    pub idempotency: Option<IdempotencyKey>,
}

impl<T> Write<T> {
    /// The actor recorded in events (the API key id).
    pub fn actor(&self) -> String {
        self.principal.key_id.clone()
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidIdempotencyKey,
                ErrorCode::InvalidIdempotencyKey.description(),
            )
        })?;
    Ok(Some(key.to_owned()))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        })
}

/// Parses JSON strictly; the error names the offending field by its path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let source: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(source);
    let parsed: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let mut err = Error::new(ErrorCode::InvalidBody, message.clone());
                if let Some(missing) = missing_field(&message) {
                    let field = if path == "." {
                        missing.to_owned()
                    } else {
                        format!("{path}.{missing}")
                    };
                    err = err.with("field", field);
                } else if path != "." {
                    err = err.with("field", path);
                }
                ApiError(err)
            }
            _ => ApiError::new(
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {inner}"),
            ),
        }
    })?;
    // Trailing bytes after the JSON value make the whole body malformed.
    de.end().map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(parsed)
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

fn request_hash(parts: &Parts, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update(b" ");
    h.update(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("")
            .as_bytes(),
    );
    h.update(b"\n");
    h.update(body);
    kernel::hex::encode(&h.finalize())
}

impl<T> FromRequest<AppState> for Write<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let principal = Principal::from_request_parts(&mut parts, state).await?;
        let key = idempotency_key(&parts.headers)?;
        let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the body exceeds {MAX_BODY_BYTES} bytes"),
                )
            })?;
        if !bytes.is_empty() && !is_json(&parts.headers) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                ErrorCode::UnsupportedMediaType.description(),
            ));
        }
        let body = parse_json(&bytes)?;
        let idempotency = key.map(|key| IdempotencyKey {
            scope: principal.key_id.clone(),
            key,
            request_hash: request_hash(&parts, &bytes),
        });
        Ok(Write {
            principal,
            body,
            idempotency,
        })
    }
}

/// A strictly parsed query string.
pub struct Q<T>(pub T);

impl<T, S> FromRequestParts<S> for Q<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Q).map_err(|e| {
            let path = e.path().to_string();
            let mut err = Error::new(
                ErrorCode::InvalidQuery,
                format!("invalid query string: {}", e.into_inner()),
            );
            if path != "." {
                err = err.with("field", path);
            }
            ApiError(err)
        })
    }
}

/// Path parameters, with a malformed segment reported in the one error shape.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| ApiError(Error::new(ErrorCode::InvalidPath, e.body_text())))
    }
}
