//! The traces signal: OTLP/gRPC `TraceService/Export` and OTLP/HTTP `POST /v1/traces`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;

use super::http_body::{self, Format};
use super::{Accepted, Error, Ingest};

impl Ingest {
    /// The shared path of both transports: map, store in one transaction, then count.
    pub async fn export_traces(
        &self,
        request: ExportTraceServiceRequest,
    ) -> Result<Accepted, Error> {
        let batch = super::map_request(&request, &self.prices);
        let report = self
            .store
            .write_spans(&batch)
            .await
            .map_err(|e| self.failed(e.into()))?;
        crate::app::after_commit(
            &self.store,
            &self.metrics,
            &self.test_analysis,
            &batch,
            &report,
        )
        .await;
        let message = batch
            .rejected
            .iter()
            .take(5)
            .map(|r| format!("span {:?}: {}", r.span_name, r.reason))
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Accepted {
            rejected: batch.rejected.len(),
            message,
        })
    }
}

fn response(accepted: Accepted) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        // Left unset on full success, as the specification asks.
        partial_success: (accepted.rejected > 0).then_some(ExportTracePartialSuccess {
            rejected_spans: accepted.rejected as i64,
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
        let request: ExportTraceServiceRequest =
            format.decode(&bytes).map_err(|e| ingest.failed(e))?;
        ingest.export_traces(request).await
    }
    .await;
    match result {
        Ok(accepted) => format.reply(StatusCode::OK, &response(accepted)),
        Err(err) => format.error(&err),
    }
}

struct GrpcTraces(Ingest);

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        match self.0.export_traces(request.into_inner()).await {
            Ok(accepted) => Ok(tonic::Response::new(response(accepted))),
            Err(err) => Err(err.grpc_status()),
        }
    }
}

pub fn grpc_service(ingest: Ingest) -> TraceServiceServer<impl TraceService> {
    let limit = ingest.limits.max_decompressed_bytes;
    TraceServiceServer::new(GrpcTraces(ingest))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}
