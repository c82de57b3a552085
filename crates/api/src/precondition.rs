//! Conditional writes over HTTP. Versioned resources (products, locations) answer with an
//! `ETag` (`"<version>"`) and take `If-Match` on their `PATCH`: a stale one is a 412 and
//! changes nothing. Every other write refuses the precondition headers (400) instead of
//! ignoring them: a client that sends one believes it is protected.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kernel::{Error, ErrorCode};

use crate::error::ApiError;

/// The writes that take `If-Match` (method, route template).
const VERSIONED: &[(&str, &str)] = &[
    ("PATCH", "/v1/products/{id}"),
    ("PATCH", "/v1/locations/{code}"),
    ("PATCH", "/v1/staff-users/{id}"),
];

const CONDITIONAL: [header::HeaderName; 3] = [
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_UNMODIFIED_SINCE,
];

/// Refuses precondition headers on writes that cannot honour them.
pub async fn refuse_unsupported(request: Request, next: Next) -> Response {
    let write = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let sent = CONDITIONAL
        .iter()
        .find(|h| request.headers().contains_key(*h));
    if let (true, Some(name)) = (write, sent) {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let honoured = *name == header::IF_MATCH
            && VERSIONED
                .iter()
                .any(|(m, p)| *m == request.method().as_str() && Some(*p) == route);
        if !honoured {
            let e = Error::new(
                ErrorCode::UnsupportedPrecondition,
                format!("this route does not take `{name}`; nothing was done"),
            )
            .with("header", name.as_str());
            return ApiError(e).into_response();
        }
    }
    next.run(request).await
}

/// The version `If-Match` names (`None` without the header, or with `*`); combined with a
/// body's `expected_version`, which must then agree.
pub fn expected_version(
    headers: &HeaderMap,
    in_body: Option<i64>,
) -> Result<(Option<i64>, bool), Error> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok((in_body, false));
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok((in_body, false));
    }
    let version = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::UnsupportedPrecondition,
                "If-Match takes one ETag of this resource, such as \"3\"",
            )
            .with("header", "if-match")
        })?;
    match in_body {
        Some(v) if v != version => Err(Error::validation(
            "expected_version",
            "expected_version and If-Match name different versions",
        )),
        _ => Ok((Some(version), true)),
    }
}

/// A version conflict becomes a 412 when the version came from `If-Match`.
pub fn from_if_match(e: Error, by_header: bool) -> Error {
    if by_header && e.code == ErrorCode::Conflict && e.details.contains_key("current_version") {
        Error {
            code: ErrorCode::PreconditionFailed,
            ..e
        }
    } else {
        e
    }
}

/// Adds `ETag: "<version>"` to a response whose JSON body has a `version`.
pub fn with_etag(mut response: Response, version: Option<i64>) -> Response {
    if let Some(v) = version
        && let Ok(value) = HeaderValue::from_str(&format!("\"{v}\""))
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}
