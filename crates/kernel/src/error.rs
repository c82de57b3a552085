//! The one table of expected outcomes that Relais reports to its callers.
//!
//! Every domain has its own precise error enum; each converts into [`Error`], which carries a
//! stable snake_case [`ErrorCode`], a human message and machine-readable details. The HTTP layer
//! renders it as `{"error": {"code", "message", "details"}}` with the status given by
//! [`ErrorCode::http_status`]. Codes are part of the public contract: add new ones, never rename.

use serde::Serialize;
use serde_json::{Map, Value};

/// Stable error codes and their HTTP statuses: the single source of truth for both.
macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $status:literal, $doc:literal),)*) => {
        /// A stable, documented error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in table order (used to document the table).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The snake_case code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status that goes with the code.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// What the code means, for the API reference.
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc,)* }
            }
        }
    };
}

error_codes! {
    MalformedJson => ("malformed_json", 400, "The body is not valid JSON."),
    InvalidBody => ("invalid_body", 422, "The JSON has a missing or unknown field, or a value of the wrong type."),
    InvalidQuery => ("invalid_query", 400, "A query-string parameter is missing, unknown or of the wrong type."),
    InvalidPath => ("invalid_path", 400, "A path segment is not valid (for example not UTF-8)."),
    InvalidCursor => ("invalid_cursor", 400, "The pagination cursor was not produced by this list."),
    ValidationFailed => ("validation_failed", 422, "A value is out of range or breaks a business rule; `details.field` names it."),
    UnknownReference => ("unknown_reference", 422, "The body refers to something that does not exist (a channel, location, SKU…)."),
    UnsupportedMediaType => ("unsupported_media_type", 415, "Write requests must send `Content-Type: application/json`."),
    PayloadTooLarge => ("payload_too_large", 413, "The body exceeds the size limit."),
    Unauthorized => ("unauthorized", 401, "No valid API key was given (`Authorization: Bearer …`)."),
    Forbidden => ("forbidden", 403, "The API key's scopes do not allow this request."),
    NotFound => ("not_found", 404, "The resource does not exist."),
    CustomerErased => ("customer_erased", 410, "The customer was erased (GDPR Art. 17): the profile answers `status: erased`, and every sub-resource of it (identities, consents, timeline, orders, export…) answers this."),
    RouteNotFound => ("route_not_found", 404, "No route matches this path."),
    MethodNotAllowed => ("method_not_allowed", 405, "The route exists but not with this method."),
    AlreadyExists => ("already_exists", 409, "A resource with this unique key already exists."),
    Conflict => ("conflict", 409, "The request conflicts with the current state."),
    InsufficientStock => ("insufficient_stock", 409, "Not enough stock is available to promise; `details.available` says how much is."),
    PaymentDeclined => ("payment_declined", 402, "The payment provider declined the payment; `details.reason` says why. Nothing was ordered."),
    NotPromisable => ("not_promisable", 422, "The channel's sourcing policy does not allow promising stock from this location for this purpose."),
    IdempotencyKeyReused => ("idempotency_key_reused", 422, "This Idempotency-Key was already used with a different request."),
    PreconditionFailed => ("precondition_failed", 412, "The resource's version is not the one `If-Match` names: it changed since it was read (its `ETag`). Read it again, then retry."),
    UnsupportedPrecondition => ("unsupported_precondition", 400, "`If-Match`, `If-None-Match` and `If-Unmodified-Since` are taken only by the writes of versioned resources (`PATCH /v1/products/{id}`, `PATCH /v1/locations/{code}`); elsewhere they are refused rather than ignored. Nothing was done."),
    InvalidIdempotencyKey => ("invalid_idempotency_key", 400, "The Idempotency-Key header must be 1 to 255 visible ASCII characters."),
    TooManyRequests => ("too_many_requests", 429, "Too many attempts in a short time (wrong console passwords lock the account for a while; `details.retry_after` says when to try again)."),
    Unavailable => ("unavailable", 503, "The service cannot serve this now: it is starting or shutting down, or its database is busy or cannot store data (it has been logged); retry later."),
    Internal => ("internal", 500, "An unexpected error; it has been logged."),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An expected outcome that stops a request: a code, a message for people, details for programs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub details: Map<String, Value>,
}

/// The JSON path of `name` inside `prefix` (`variants[2]` + `sku` → `variants[2].sku`);
/// an empty prefix means the request body itself.
pub fn field_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The result type used across Relais layers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    /// Adds one machine-readable detail (`field`, `available`, `constraint`…).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// A value broke a rule; `field` is its JSON path in the request.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Error::new(ErrorCode::ValidationFailed, message).with("field", field)
    }

    pub fn not_found(kind: &str, id: &str) -> Self {
        Error::new(ErrorCode::NotFound, format!("{kind} `{id}` does not exist"))
            .with("resource", kind)
            .with("id", id)
    }

    pub fn unknown_reference(field: &str, kind: &str, id: &str) -> Self {
        Error::new(
            ErrorCode::UnknownReference,
            format!("{kind} `{id}` does not exist"),
        )
        .with("field", field)
        .with("resource", kind)
        .with("id", id)
    }

    pub fn already_exists(kind: &str, id: &str) -> Self {
        Error::new(
            ErrorCode::AlreadyExists,
            format!("{kind} `{id}` already exists"),
        )
        .with("resource", kind)
        .with("id", id)
    }

    /// An unexpected failure. The cause belongs in the log, never in the response.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_statuses_are_errors() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
            assert!((400..600).contains(&code.http_status()), "{code}");
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, code.as_str());
        }
    }

    #[test]
    fn field_paths() {
        assert_eq!(field_path("variants[2]", "sku"), "variants[2].sku");
        assert_eq!(field_path("", "sku"), "sku");
    }

    #[test]
    fn details_accumulate() {
        let e = Error::validation("variants[0].gtin", "bad check digit").with("expected", 7);
        assert_eq!(e.code.http_status(), 422);
        assert_eq!(e.details["field"], "variants[0].gtin");
        assert_eq!(e.details["expected"], 7);
    }
}
