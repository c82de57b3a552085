//! `/health`, `/ready`, `/metrics`: for orchestrators and Prometheus. No key needed.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "sqlite")]
    pub database: &'static str,
    pub version: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Status)))]
async fn health(State(s): State<AppState>) -> Json<Status> {
    Json(Status {
        status: "ok",
        database: s.db.backend().as_str(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: the database answers and the node is not shutting down.
#[utoipa::path(get, path = "/ready", tag = "operations", responses((status = 200, body = Status), (status = 503, body = Status)))]
async fn ready(State(s): State<AppState>) -> Response {
    let database = s.db.backend().as_str();
    let version = env!("CARGO_PKG_VERSION");
    if s.is_ready() && s.db.ping().await.is_ok() {
        Json(Status {
            status: "ready",
            database,
            version,
        })
        .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Status {
                status: "unavailable",
                database,
                version,
            }),
        )
            .into_response()
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render_with_backlogs(&s.metrics, &s.db).await,
    )
        .into_response()
}
