//! The HTTP API: axum routes under `/v1`, JSON wire types, scopes, idempotency, OpenAPI.
//!
//! This is the only crate that defines JSON wire types. Conventions that every route follows:
//! - errors: `{"error": {"code", "message", "details"}}`, codes and statuses from one table
//!   (`kernel::ErrorCode`); bad input is a 4xx and writes nothing;
//! - auth: `Authorization: Bearer <token>`; scopes `admin`, `channel:<code>`,
//!   `store:<location>`, `service`; a key outside its scope gets 403;
//! - writes: `Idempotency-Key` makes retries safe; each write is one command in the
//!   group-commit writer, with its outbox event;
//! - lists: keyset pagination with `limit` and an opaque `cursor`, answered as
//!   `{"data": [...], "next_cursor"}`;
//! - the OpenAPI 3.1 document at `/openapi.json` is generated from the handlers themselves,
//!   and `/docs` serves an interactive reference from the binary (no CDN).

pub mod auth;
pub mod error;
pub mod extract;
pub mod key_cache;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod precondition;
pub mod read_cache;
pub use app::reference;
pub mod routes;
pub mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use kernel::{Error, ErrorCode};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use state::{AppState, OrderRules};

/// Every route with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(routes::system::router())
        .merge(routes::catalog::router())
        .merge(routes::locations::router())
        .merge(routes::channels::router())
        .merge(routes::prices::router())
        .merge(routes::stock::router())
        .merge(routes::stream::router())
        .merge(routes::customers::router())
        .merge(routes::customer_events::router())
        .merge(routes::segments::router())
        .merge(routes::promotions::router())
        .merge(routes::taxes::router())
        .merge(routes::delivery::router())
        .merge(routes::webhooks::router())
        .merge(routes::notifications::router())
        .merge(routes::loyalty::router())
        .merge(routes::stored_value::router())
        .merge(routes::tills::router())
        .merge(routes::carts::router())
        .merge(routes::orders::router())
        .merge(routes::keys::router())
        .merge(routes::staff::router())
        .merge(routes::kpis::router())
        .merge(routes::outbox::router())
}

async fn route_not_found() -> error::ApiError {
    error::ApiError(Error::new(
        ErrorCode::RouteNotFound,
        "no route matches this path; see /docs",
    ))
}

async fn method_not_allowed() -> error::ApiError {
    error::ApiError(Error::new(
        ErrorCode::MethodNotAllowed,
        "this route does not accept this method; see /docs",
    ))
}

/// The complete application: routes, docs, fallbacks and middleware.
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new())
}

/// [`app`] with more routes beside the API's (the console's pages), behind the same
/// request ids, traces and metrics; the route table at the door leaves them to their own
/// authentication.
pub fn app_with(state: AppState, more: Router<AppState>) -> Router {
    let (router, mut doc) = routes().split_for_parts();
    openapi::name_errors(&mut doc);
    let request_id = HeaderName::from_static("x-request-id");
    router
        .merge(more)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(precondition::refuse_unsupported))
        // Middleware state is cloned for every request: each takes only what it needs.
        .layer(axum::middleware::from_fn_with_state(
            state.db.clone(),
            routes::customer_events::resolved_reads,
        ))
        .layer(axum::middleware::from_fn_with_state(
            auth::Door::of(&state),
            auth::enforce_route_access,
        ))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                // The route template, never the URI: query strings and paths carry identifiers
                // (`?identifier=email:…`, receipt tokens) that logs must not keep.
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |m| m.as_str());
                tracing::debug_span!("request", method = %req.method(), route, request_id = id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
