//! The traces signal: OTLP/gRPC `TraceService/Export` and OTLP/HTTP `POST /v1/traces`.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;

use super::signal::Signal;
use super::{Accepted, Error, Receiver};

impl Receiver {
    /// The shared path of both transports: map, store in one transaction, then count.
    pub async fn export_traces(
        &self,
        request: &ExportTraceServiceRequest,
    ) -> Result<Accepted, Error> {
        let batch = super::producer::map_traces(request, &self.service.prices);
        self.store_batch(batch, "span").await
    }
}

/// The traces signal, for the shared OTLP/HTTP handler.
pub struct TracesSignal;

impl Signal for TracesSignal {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    const SPOOL_KIND: crate::spool::Kind = crate::spool::Kind::Traces;

    async fn export(
        receiver: &Receiver,
        request: &ExportTraceServiceRequest,
    ) -> Result<Accepted, Error> {
        receiver.export_traces(request).await
    }

    fn sanitize(request: &mut Self::Request) {
        super::sanitize::traces(request);
    }

    fn response(accepted: Accepted) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: (accepted.rejected > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: accepted.rejected as i64,
                error_message: accepted.message,
            }),
        }
    }
}

struct GrpcTraces(Receiver);

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        match self.0.accept::<TracesSignal>(request.into_inner()).await {
            Ok(accepted) => Ok(tonic::Response::new(TracesSignal::response(accepted))),
            Err(err) => Err(err.grpc_status()),
        }
    }
}

pub fn grpc_service(receiver: Receiver) -> TraceServiceServer<impl TraceService> {
    let limit = receiver.limits.max_decompressed_bytes;
    TraceServiceServer::new(GrpcTraces(receiver))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}
