//! The metrics signal: OTLP/gRPC `MetricsService/Export` and OTLP/HTTP `POST /v1/metrics`, with
//! the same body handling, limits, errors and partial success as the traces signal. Claude Code's
//! counters are stored as a cross-check; everything else is acknowledged and counted as ignored.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tonic::codec::CompressionEncoding;

use super::http_body::{self, Format};
use super::metric_mapping::map_metrics_request;
use super::{Accepted, Error, Ingest};

impl Ingest {
    /// The shared path of both transports: map, store in one transaction, then count.
    pub async fn export_metrics(
        &self,
        request: ExportMetricsServiceRequest,
    ) -> Result<Accepted, Error> {
        let batch = map_metrics_request(&request);
        let report = self
            .store
            .write_metric_points(&batch)
            .await
            .map_err(|e| self.failed(e.into()))?;
        self.metrics.record_metric_points(&batch, &report);
        let message = batch
            .rejected
            .iter()
            .take(5)
            .map(|r| format!("data point of {:?}: {}", r.metric, r.reason))
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Accepted {
            rejected: batch.rejected.len(),
            message,
        })
    }
}

fn response(accepted: Accepted) -> ExportMetricsServiceResponse {
    ExportMetricsServiceResponse {
        // Left unset on full success, as the specification asks.
        partial_success: (accepted.rejected > 0).then_some(ExportMetricsPartialSuccess {
            rejected_data_points: accepted.rejected as i64,
            error_message: accepted.message,
        }),
    }
}

pub async fn http_export(State(ingest): State<Ingest>, headers: HeaderMap, body: Body) -> Response {
    // Before the content type is known, errors are answered in JSON.
    let format = match Format::from_headers(&headers) {
        Ok(format) => format,
        Err(err) => return Format::Json.error(&ingest.failed(err)),
    };
    let result = async {
        let bytes = http_body::read_body(&headers, body, ingest.limits)
            .await
            .map_err(|e| ingest.failed(e))?;
        let request: ExportMetricsServiceRequest =
            format.decode(&bytes).map_err(|e| ingest.failed(e))?;
        ingest.export_metrics(request).await
    }
    .await;
    match result {
        Ok(accepted) => format.reply(StatusCode::OK, &response(accepted)),
        Err(err) => format.error(&err),
    }
}

struct GrpcMetrics(Ingest);

#[tonic::async_trait]
impl MetricsService for GrpcMetrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        match self.0.export_metrics(request.into_inner()).await {
            Ok(accepted) => Ok(tonic::Response::new(response(accepted))),
            Err(err) => Err(err.grpc_status()),
        }
    }
}

pub fn grpc_service(ingest: Ingest) -> MetricsServiceServer<impl MetricsService> {
    let limit = ingest.limits.max_decompressed_bytes;
    MetricsServiceServer::new(GrpcMetrics(ingest))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}
