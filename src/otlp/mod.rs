//! OTLP receivers. Each signal has one file holding its gRPC service and its HTTP handler; both
//! feed the same path: decode → map ([`span_mapping`], [`log_mapping`], [`metric_mapping`]) →
//! [`crate::store`] → [`crate::metrics`].
//! A request is acknowledged only after its transaction has committed.

mod attributes;
mod claude_code;
#[cfg(test)]
mod cli_2_1_328_tests;
mod durable;
mod error;
pub mod http_body;
mod log_mapping;
mod logs;
mod metric_mapping;
mod metrics;
mod retry_events;
mod sanitize;
mod signal;
mod span_mapping;
mod test_run_spans;
mod traces;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;

pub use durable::replay;
pub use error::Error;
pub use log_mapping::map_logs;
pub use metric_mapping::map_metrics_request;
pub use span_mapping::{map_request, uncached_input};

use crate::config::Limits;
use crate::domain::SpanBatch;
use crate::metrics::Metrics;
use crate::pricing::PriceTable;
use crate::store::Store;

/// What every receiver shares.
#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub prices: Arc<PriceTable>,
    pub limits: Limits,
    /// Rules of the test gauges refreshed after a batch with test runs commits.
    pub test_analysis: crate::config::TestAnalysis,
    /// Where requests go while PostgreSQL is unreachable; `None` answers 503 instead.
    pub spool: Option<Arc<crate::spool::Spool>>,
    /// Rung when a request is spooled, so replay starts at once.
    pub replay_wake: Arc<tokio::sync::Notify>,
}

/// How a request that was accepted went: records refused inside it, for OTLP partial success.
#[derive(Debug, Default)]
pub struct Accepted {
    pub rejected: usize,
    /// The first few reasons, for the OTLP answer.
    pub message: String,
    /// Every refused record with its reason and content, for the spool's `failed/` directory.
    pub details: Vec<String>,
}

impl Ingest {
    /// The end of the traces' and logs' path: store the mapped batch (what the database refuses
    /// is isolated record by record, see [`crate::store::Stored`]), do the after-commit work
    /// (metrics, test gauges), and report the rejected records (`record`: "span" or "event").
    async fn store_batch(&self, mut batch: SpanBatch, record: &str) -> Result<Accepted, Error> {
        let stored = self
            .store
            .write_spans_isolated(&batch)
            .await
            .map_err(|e| self.failed(e.into()))?;
        let mut details: Vec<String> = batch
            .rejected
            .iter()
            .map(|r| format!("{record} {:?}: {}", r.span_name, r.reason))
            .collect();
        for refused in &stored.refused {
            let name = batch.describe(refused.record);
            details.push(format!(
                "{record} ({name}): {}; record: {}",
                refused.reason,
                batch.detail(refused.record)
            ));
            batch.rejected.push(crate::domain::Rejection {
                span_name: name,
                reason: refused.reason.clone(),
            });
        }
        crate::app::after_commit(
            &self.store,
            &self.metrics,
            &self.test_analysis,
            &batch,
            &stored.report,
        )
        .await;
        let messages = batch
            .rejected
            .iter()
            .map(|r| format!("{record} {:?}: {}", r.span_name, r.reason));
        Ok(Accepted::from_rejections(messages).with_details(details))
    }

    fn failed(&self, err: Error) -> Error {
        self.metrics.record_request_failure(err.failure_reason());
        if matches!(
            err,
            Error::Unavailable(_) | Error::Overloaded(_) | Error::Internal(_)
        ) {
            tracing::warn!(error = %err, "OTLP export not stored");
        }
        err
    }
}

/// The OTLP/HTTP router: POST /v1/traces, /v1/logs and /v1/metrics (protobuf or JSON,
/// optionally gzip).
pub fn http_router(ingest: Ingest) -> Router {
    Router::new()
        .route(
            "/v1/traces",
            post(signal::http_export::<traces::TracesSignal>),
        )
        .route("/v1/logs", post(signal::http_export::<logs::LogsSignal>))
        .route(
            "/v1/metrics",
            post(signal::http_export::<metrics::MetricsSignal>),
        )
        .with_state(ingest)
}

/// The OTLP/gRPC services, ready to add to a tonic server.
pub fn grpc_routes(ingest: Ingest) -> tonic::service::Routes {
    tonic::service::Routes::new(traces::grpc_service(ingest.clone()))
        .add_service(logs::grpc_service(ingest.clone()))
        .add_service(metrics::grpc_service(ingest))
}
