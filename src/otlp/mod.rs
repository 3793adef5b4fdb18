//! OTLP receivers. Each signal has one file holding its gRPC service and its HTTP handler; both
//! feed the same path: decode → map ([`span_mapping`], [`log_mapping`], [`metric_mapping`]) →
//! the ingest service ([`crate::ingest`]: store, then count).
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
mod producer;
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
use crate::ingest::IngestService;

/// What every receiver shares: the ingest service, the body limits and the spool.
#[derive(Clone)]
pub struct Receiver {
    pub service: IngestService,
    pub limits: Limits,
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

impl Receiver {
    /// The end of the traces' and logs' path: the ingest service commits the mapped batch (what
    /// the database refuses is isolated record by record) and counts it; the rejected records
    /// are answered (`record`: "span" or "event").
    async fn store_batch(&self, mut batch: SpanBatch, record: &str) -> Result<Accepted, Error> {
        let committed = self
            .service
            .commit(&mut batch, record)
            .await
            .map_err(|e| self.failed(e.into()))?;
        let messages = batch
            .rejected
            .iter()
            .map(|r| format!("{record} {:?}: {}", r.span_name, r.reason));
        Ok(Accepted::from_rejections(messages).with_details(committed.details))
    }

    fn failed(&self, err: Error) -> Error {
        self.service
            .metrics
            .record_request_failure(err.failure_reason());
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
pub fn http_router(receiver: Receiver) -> Router {
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
        .with_state(receiver)
}

/// The OTLP/gRPC services, ready to add to a tonic server.
pub fn grpc_routes(receiver: Receiver) -> tonic::service::Routes {
    tonic::service::Routes::new(traces::grpc_service(receiver.clone()))
        .add_service(logs::grpc_service(receiver.clone()))
        .add_service(metrics::grpc_service(receiver))
}
