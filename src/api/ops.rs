//! Operational endpoints: liveness, readiness (the database answers), Prometheus metrics, and the
//! JSON answers for unknown routes and methods.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use super::{ApiState, Error};

/// Health, readiness and metrics: for probes and scrapers, not in the OpenAPI document.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<ApiState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready", "database": "ok" })).into_response(),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "error": format!("database unreachable: {err}") })),
        )
            .into_response(),
    }
}

/// How long the scrape-time database probe may take: well under Prometheus' scrape timeout, so a
/// hung database shows as `acd_database_up 0` rather than as a failed scrape (collector down).
const DATABASE_PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// OpenMetrics when the scraper asks for it (Prometheus does), else Prometheus text 0.0.4.
/// Each scrape first probes the database, so `acd_database_up` is as fresh as the scrape.
pub async fn metrics(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let up = matches!(
        tokio::time::timeout(DATABASE_PROBE_TIMEOUT, state.store.ping()).await,
        Ok(Ok(()))
    );
    state.metrics.set_database_up(up);
    let wants_openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let (content_type, body) = if wants_openmetrics {
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.encode_openmetrics(),
        )
    } else {
        (
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            state.metrics.encode_prometheus_text(),
        )
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

pub async fn not_found() -> Error {
    Error::NotFound("no such endpoint; see /api/openapi.json".into())
}

pub async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "error": "method not allowed; see /api/openapi.json" })),
    )
        .into_response()
}
