//! The logs signal (Claude Code's events): OTLP/gRPC `LogsService/Export` and OTLP/HTTP
//! `POST /v1/logs`, sharing the traces' path: map → store → count.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use tonic::codec::CompressionEncoding;

use super::signal::Signal;
use super::{Accepted, Error, Receiver};

impl Receiver {
    /// The shared path of both transports: map, store in one transaction, then count.
    pub async fn export_logs(&self, request: &ExportLogsServiceRequest) -> Result<Accepted, Error> {
        let batch = super::producer::map_logs(request, &self.service.prices);
        self.store_batch(batch, "event").await
    }
}

/// The logs signal, for the shared OTLP/HTTP handler.
pub struct LogsSignal;

impl Signal for LogsSignal {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    const SPOOL_KIND: crate::spool::Kind = crate::spool::Kind::Logs;

    async fn export(
        receiver: &Receiver,
        request: &ExportLogsServiceRequest,
    ) -> Result<Accepted, Error> {
        receiver.export_logs(request).await
    }

    fn sanitize(request: &mut Self::Request) {
        super::sanitize::logs(request);
    }

    fn response(accepted: Accepted) -> ExportLogsServiceResponse {
        ExportLogsServiceResponse {
            partial_success: (accepted.rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: accepted.rejected as i64,
                error_message: accepted.message,
            }),
        }
    }
}

struct GrpcLogs(Receiver);

#[tonic::async_trait]
impl LogsService for GrpcLogs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        match self.0.accept::<LogsSignal>(request.into_inner()).await {
            Ok(accepted) => Ok(tonic::Response::new(LogsSignal::response(accepted))),
            Err(err) => Err(err.grpc_status()),
        }
    }
}

pub fn grpc_service(receiver: Receiver) -> LogsServiceServer<impl LogsService> {
    let limit = receiver.limits.max_decompressed_bytes;
    LogsServiceServer::new(GrpcLogs(receiver))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}
