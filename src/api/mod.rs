//! The REST API (axum): one module per resource under `/api/db/...`, health and readiness, the
//! OpenAPI document at `/api/openapi.json`, and Prometheus `/metrics`.

mod claude_code_metrics;
mod codebase;
mod context;
mod error;
mod explorer;
mod extract;
mod ingest;
mod openapi;
mod ops;
mod retries;
mod sessions;
mod targets;
mod test_runs;
mod tests;
mod token_usage;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::{Error, ErrorBody};
pub use explorer::is_public as is_public_explorer_path;
pub use openapi::ApiDoc;

use crate::config::TestAnalysis;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone)]
pub struct ApiState {
    /// Uploads (claude runs, test reports) go through the ingest service, as OTLP does.
    pub ingest: crate::ingest::IngestService,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Largest body accepted by the ingest endpoint (bytes).
    pub max_body_bytes: usize,
    /// Rung when a reindex job is queued, so this replica's worker starts it at once.
    pub index_jobs: Arc<tokio::sync::Notify>,
    /// Defaults of the flaky and regression rules.
    pub test_analysis: TestAnalysis,
    /// `--read-only`, told to the explorer so it hides what would be refused.
    pub read_only: bool,
    /// `--api-token` is set, told to the explorer so it asks for the token.
    pub auth_required: bool,
    /// Base directories targets may be registered under (empty: any not refused).
    pub target_roots: Arc<Vec<std::path::PathBuf>>,
}

pub fn router(state: ApiState) -> Router {
    let ingest_limit = DefaultBodyLimit::max(state.max_body_bytes);
    Router::new()
        .route(
            "/api/db/ingest/claude-run",
            post(ingest::claude_run).layer(ingest_limit),
        )
        .route(
            "/api/db/sessions/{id}/test-runs",
            post(test_runs::create).layer(DefaultBodyLimit::max(state.max_body_bytes)),
        )
        .route("/api/db/sessions", get(sessions::list))
        .route("/api/db/sessions/{id}", get(sessions::show))
        .route("/api/db/sessions/{id}/turns", get(sessions::turns))
        .route("/api/db/sessions/{id}/timing", get(sessions::timing))
        .route(
            "/api/db/sessions/{id}/claude-code-metrics",
            get(claude_code_metrics::show),
        )
        .route("/api/db/retries/summary", get(retries::summary))
        .route("/api/db/retries/{id}", get(retries::history))
        .route("/api/db/tests/flaky", get(tests::flaky))
        .route("/api/db/tests/regressions", get(tests::regressions))
        .route("/api/db/tests/{repo_id}", get(tests::history))
        .route("/api/db/token-usage", get(token_usage::over_time))
        .route("/api/db/token-usage/by-model", get(token_usage::by_model))
        .route(
            "/api/db/token-usage/efficiency",
            get(token_usage::efficiency),
        )
        .route(
            "/api/db/targets",
            get(targets::list).post(targets::register),
        )
        .route("/api/db/codebase/largest", get(codebase::largest))
        .route("/api/db/codebase/jobs/{id}", get(codebase::job))
        .route("/api/db/codebase/{id}", get(codebase::show))
        .route("/api/db/codebase/{id}/reindex", post(codebase::reindex))
        .route(
            "/api/db/context/hot-files/{repo_id}",
            get(context::hot_files),
        )
        .route(
            "/api/db/context/optimize/{repo_id}",
            post(context::optimize),
        )
        .route("/api/db/context/{session_id}", get(context::session))
        .route("/api/openapi.json", get(openapi::document))
        .route("/", get(explorer::index))
        .route("/ui/{*file}", get(explorer::asset))
        .route("/api/explorer/config", get(explorer::config))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .with_state(state)
}
