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
use super::{Accepted, Error, Receiver};

impl Receiver {
    /// The shared path of both transports: map, store in one transaction, then count.
    pub async fn export_metrics(
        &self,
        request: &ExportMetricsServiceRequest,
    ) -> Result<Accepted, Error> {
        let mut batch = map_metrics_request(request);
        let details = self
            .service
            .commit_metric_points(&mut batch)
            .await
            .map_err(|e| self.failed(e.into()))?;
        let messages = batch.rejected.iter().map(crate::ingest::point_message);
        Ok(Accepted::from_rejections(messages).with_details(details))
    }
}

/// The metrics signal, for the shared OTLP/HTTP handler.
pub struct MetricsSignal;

impl Signal for MetricsSignal {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const SPOOL_KIND: crate::spool::Kind = crate::spool::Kind::Metrics;

    async fn export(
        receiver: &Receiver,
        request: &ExportMetricsServiceRequest,
    ) -> Result<Accepted, Error> {
        receiver.export_metrics(request).await
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

struct GrpcMetrics(Receiver);

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

pub fn grpc_service(receiver: Receiver) -> MetricsServiceServer<impl MetricsService> {
    let limit = receiver.limits.max_decompressed_bytes;
    MetricsServiceServer::new(GrpcMetrics(receiver))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}
