//! The console: the retailer's staff in the browser — the store work queue, the returns desk,
//! clienteling, stock and transfers, promotions and their codes, KPIs — served under
//! `/console` by `relais serve` and the demo.
//!
//! Pages are rendered on the server (askama templates compiled into the binary); the one
//! script and the stylesheet are embedded too (no CDN). Every page calls the same `app` use
//! cases as the API with the signed-in user's principal ([`session`]), so a person reaches
//! exactly what an API key of their role would, and every change is recorded under their id.

mod coupons;
mod customers;
mod kpis;
pub(crate) mod lists;
pub mod page;
mod queue;
mod returns;
pub mod session;
mod stock;
mod users;
pub mod words;

use api::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::session::Staff;

/// Every console route, to merge with the API's before its state is given.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/console.js", get(script))
        .merge(session::router())
        .merge(queue::router())
        .merge(customers::router())
        .merge(kpis::router())
        .merge(returns::router())
        .merge(lists::router())
        .merge(users::router())
        .merge(stock::router())
        .merge(coupons::router())
        .layer(axum::middleware::from_fn(session::same_origin_writes))
        .layer(axum::middleware::from_fn(guard_headers))
}

/// The first section the user's role opens.
async fn home(staff: Staff) -> Response {
    let first = staff
        .session
        .role
        .sections()
        .first()
        .map_or("/console/login", |s| page::href(*s));
    Redirect::to(first).into_response()
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/console.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/console.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// Pages run only this site's script and styles, and are never framed (clickjacking).
async fn guard_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
