//! Operational endpoints: liveness, readiness (the databases answer), Prometheus metrics, and the
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

/// Ready when the primary answers and, with `--read-database-url`, the read database too: a
/// collector whose GETs all fail is not ready to serve, even though ingest would still work.
/// The body says which of the two failed.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let primary = state.primary.ping().await.err();
    let reads = match state.separate_reads {
        true => state.reads.ping().await.err(),
        false => None,
    };
    let read_database = match (state.separate_reads, &reads) {
        (false, _) => "same as database",
        (true, None) => "ok",
        (true, Some(_)) => "unreachable",
    };
    let database = if primary.is_none() {
        "ok"
    } else {
        "unreachable"
    };
    let error = primary
        .map(|err| format!("database unreachable: {err}"))
        .or_else(|| reads.map(|err| format!("read database unreachable: {err}")));
    match error {
        None => Json(json!({
            "status": "ready", "database": database, "read_database": read_database,
        }))
        .into_response(),
        Some(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "not ready", "database": database, "read_database": read_database,
                "error": error,
            })),
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
        tokio::time::timeout(DATABASE_PROBE_TIMEOUT, state.primary.ping()).await,
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
