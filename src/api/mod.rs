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
pub mod responses;
mod retries;
mod sessions;
mod targets;
mod test_analysis;
mod test_runs;
mod token_usage;
mod turns;

use std::sync::Arc;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

pub use error::{Error, ErrorBody};
pub use explorer::is_public as is_public_explorer_path;

use crate::config::TestAnalysis;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone)]
pub struct ApiState {
    /// Uploads (claude runs, test reports) go through the ingest service, as OTLP does.
    pub ingest: crate::ingest::IngestService,
    /// Writes and the reads that must see them (a POST's own lookups, the reindex queue,
    /// `/metrics`' probe): the primary database.
    pub primary: Store,
    /// What every GET handler reads from: `--read-database-url` (a streaming replica, which may
    /// lag the primary) when set, else the primary's pool itself.
    pub reads: Store,
    /// `reads` is a pool of its own (`--read-database-url`), so `/readyz` probes it too.
    pub separate_reads: bool,
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

/// Every route, each declared once beside its handler: the resource modules' routers merged,
/// and the OpenAPI document made from the same merge, so the two cannot drift apart.
pub fn router(state: ApiState) -> Router {
    let (router, document) = resources(state.max_body_bytes).split_for_parts();
    router
        .route(
            "/api/openapi.json",
            openapi::serve(openapi::finish(document)),
        )
        .merge(ops::router())
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .with_state(state)
}

/// The OpenAPI document of the REST API, as `/api/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::finish(resources(0).into_openapi())
}

/// The documented resources (and the explorer, whose config endpoint is documented).
fn resources(max_body_bytes: usize) -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(sessions::router())
        .merge(turns::router())
        .merge(claude_code_metrics::router())
        .merge(test_runs::router(max_body_bytes))
        .merge(ingest::router(max_body_bytes))
        .merge(token_usage::router())
        .merge(targets::router())
        .merge(codebase::router())
        .merge(context::router())
        .merge(retries::router())
        .merge(test_analysis::router())
        .merge(explorer::router())
}
