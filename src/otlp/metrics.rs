//! The metrics signal: OTLP/gRPC `MetricsService/Export` and OTLP/HTTP `POST /v1/metrics`, with
//! the same body handling, limits, errors and partial success as the traces signal. Claude Code's
//! counters are stored as a cross-check; everything else is acknowledged and counted as ignored.

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tonic::codec::CompressionEncoding;

use super::metric_mapping::map_metrics_request;
use super::signal::Signal;
use super::{Accepted, Error, Ingest};

impl Ingest {
    /// The shared path of both transports: map, store in one transaction, then count.
    pub async fn export_metrics(
        &self,
        request: &ExportMetricsServiceRequest,
    ) -> Result<Accepted, Error> {
        let mut batch = map_metrics_request(request);
        let (report, refused) = self
            .store
            .write_metric_points_isolated(&batch)
            .await
            .map_err(|e| self.failed(e.into()))?;
        let message = |r: &crate::metric_points::PointRejection| {
            format!("data point of {:?}: {}", r.metric, r.reason)
        };
        let mut details: Vec<String> = batch.rejected.iter().map(message).collect();
        for (i, reason) in refused {
            let point = &batch.points[i];
            details.push(format!(
                "data point of {:?}: {reason}; point: {point:?}",
                point.metric
            ));
            batch.rejected.push(crate::metric_points::PointRejection {
                metric: point.metric.clone(),
                reason,
            });
        }
        self.metrics.record_metric_points(&batch, &report);
        Ok(Accepted::from_rejections(batch.rejected.iter().map(message)).with_details(details))
    }
}

/// The metrics signal, for the shared OTLP/HTTP handler.
pub struct MetricsSignal;

impl Signal for MetricsSignal {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const SPOOL_KIND: crate::spool::Kind = crate::spool::Kind::Metrics;

    async fn export(
        ingest: &Ingest,
        request: &ExportMetricsServiceRequest,
    ) -> Result<Accepted, Error> {
        ingest.export_metrics(request).await
    }

    fn sanitize(request: &mut Self::Request) {
        super::sanitize::metrics(request);
    }

    fn response(accepted: Accepted) -> ExportMetricsServiceResponse {
        ExportMetricsServiceResponse {
            partial_success: (accepted.rejected > 0).then_some(ExportMetricsPartialSuccess {
                rejected_data_points: accepted.rejected as i64,
                error_message: accepted.message,
            }),
        }
    }
}

struct GrpcMetrics(Ingest);

#[tonic::async_trait]
impl MetricsService for GrpcMetrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        match self.0.accept::<MetricsSignal>(request.into_inner()).await {
            Ok(accepted) => Ok(tonic::Response::new(MetricsSignal::response(accepted))),
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
