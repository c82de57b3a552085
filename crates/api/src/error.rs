//! The one error body: `{"error": {"code", "message", "details"}}` with the status from the
//! code table in `kernel::error`. 5xx bodies are opaque; their cause is in the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kernel::{Error, ErrorCode};
use serde::Serialize;
use utoipa::ToSchema;

/// An error as the API sends it.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(Error::new(code, message))
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, one of the table in the API description.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    /// Machine-readable context such as `field`, `resource`, `id`, `available`.
    #[schema(value_type = Object)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

pub fn error_response(e: Error) -> Response {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (message, details) = if status.is_server_error() {
        // The cause was logged where it happened; never leak it.
        (e.code.description().to_owned(), Default::default())
    } else {
        (e.message, e.details)
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: e.code,
            message,
            details,
        },
    };
    let mut response = (status, axum::Json(body)).into_response();
    if e.code == ErrorCode::Unauthorized {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.0)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
