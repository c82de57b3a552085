//! Route handlers, one module per resource, and the helpers they share.
//!
//! Handlers are thin: parse (extractors), validate with the domain rules, run one store
//! command through the writer (with its idempotency key), map to wire types.

pub mod carts;
pub mod catalog;
pub mod channels;
pub mod customer_events;
pub mod customers;
pub mod delivery;
pub mod keys;
pub mod kpis;
pub mod locations;
pub mod loyalty;
pub mod notifications;
pub mod orders;
pub mod outbox;
pub mod prices;
pub mod promotions;
pub mod segments;
pub mod staff;
pub mod stock;
pub mod stored_value;
pub mod stream;
pub mod system;
pub mod taxes;
pub mod tills;
pub mod webhooks;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use store::StoredResponse;
use utoipa::IntoParams;

/// A `?currency=` value, or the retailer's default currency.
pub fn query_currency(
    s: &crate::state::AppState,
    code: Option<&str>,
) -> Result<kernel::Currency, kernel::Error> {
    match code {
        None => Ok(s.default_currency),
        Some(c) => kernel::Currency::parse(c).map_err(|m| {
            kernel::Error::new(kernel::ErrorCode::InvalidQuery, m).with("field", "currency")
        }),
    }
}

/// A `?channel=` a request needs and did not get (nor speaks for one of its own).
pub fn channel_required() -> kernel::Error {
    kernel::Error::new(
        kernel::ErrorCode::InvalidQuery,
        "name the channel: ?channel=web",
    )
    .with("field", "channel")
}

/// Renders a write's result as the response stored with its idempotency key.
pub fn stored<T: Serialize>(status: u16, body: &T) -> StoredResponse {
    StoredResponse {
        status,
        body: serde_json::to_string(body).unwrap_or_else(|_| "null".into()),
        replayed: false,
    }
}

/// Sends a stored (or replayed) response.
/// The `version` of a stored JSON answer (for its `ETag`).
pub fn stored_version(r: &StoredResponse) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        version: i64,
    }
    serde_json::from_str::<Versioned>(&r.body)
        .ok()
        .map(|v| v.version)
}

pub fn reply(r: StoredResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let has_body = !r.body.is_empty();
    let mut response = if has_body {
        (status, r.body).into_response()
    } else {
        status.into_response()
    };
    let headers = response.headers_mut();
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if r.replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// The `Idempotency-Key` header every write accepts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyHeader {
    /// Makes retries safe: a retry with the same key and body gets the first response back
    /// (with `Idempotent-Replayed: true`) and changes nothing; the same key with another body
    /// is refused. Keys are remembered for 24 hours, per API key.
    #[serde(rename = "Idempotency-Key")]
    #[param(pattern = r"^[\x21-\x7E]{1,255}$", min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
}

/// An empty JSON object (`{}`) or no body: the body of writes that need none.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// `limit` and `cursor`, shared by every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn request(&self) -> Result<kernel::PageRequest, kernel::Error> {
        kernel::PageRequest::parse(self.limit, self.cursor.as_deref())
    }
}

/// For PATCH bodies: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`, which clears the field).
pub fn present<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Declares a page type for the OpenAPI document: `{ data: [...], next_cursor }`.
macro_rules! page_of {
    ($name:ident, $item:ty) => {
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// Pass as `cursor` to get the next page; absent on the last page.
            pub next_cursor: Option<String>,
        }

        impl From<kernel::Page<$item>> for $name {
            fn from(p: kernel::Page<$item>) -> Self {
                $name {
                    data: p.data,
                    next_cursor: p.next_cursor,
                }
            }
        }
    };
}
pub(crate) use page_of;

/// Declares a wire enum that mirrors a domain enum variant for variant (snake_case on the
/// wire), with conversions both ways, so the domain stays free of OpenAPI derives.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $dto:ident <=> $domain:path { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $dto {
            $($variant),+
        }

        impl From<$dto> for $domain {
            fn from(v: $dto) -> Self {
                match v {
                    $($dto::$variant => <$domain>::$variant),+
                }
            }
        }

        impl From<$domain> for $dto {
            fn from(v: $domain) -> Self {
                match v {
                    $(<$domain>::$variant => $dto::$variant),+
                }
            }
        }
    };
}
pub(crate) use wire_enum;
