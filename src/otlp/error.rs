//! Errors of the OTLP receivers, and the one place that maps them to HTTP statuses and gRPC
//! codes. Retryable conditions use exactly the statuses OTLP exporters retry on (HTTP 503 with
//! Retry-After, gRPC UNAVAILABLE); client errors use statuses they never retry.

use crate::metrics::RequestFailure;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot decode the request body as {format}: {message}")]
    Decode {
        format: &'static str,
        message: String,
    },
    #[error("unsupported content type {0:?}: use application/x-protobuf or application/json")]
    UnsupportedContentType(String),
    #[error("unsupported content encoding {0:?}: use gzip or none")]
    UnsupportedEncoding(String),
    #[error("request body is larger than the limit of {limit} bytes{after}")]
    TooLarge { limit: usize, after: &'static str },
    #[error("the database is unavailable, retry later: {0}")]
    Unavailable(String),
    /// Writes fall behind (the spool is full): retryable, like an outage.
    #[error("the collector is overloaded, retry later: {0}")]
    Overloaded(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn http_status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode as S;
        match self {
            Error::Decode { .. } => S::BAD_REQUEST,
            Error::UnsupportedContentType(_) | Error::UnsupportedEncoding(_) => {
                S::UNSUPPORTED_MEDIA_TYPE
            }
            Error::TooLarge { .. } => S::PAYLOAD_TOO_LARGE,
            Error::Unavailable(_) | Error::Overloaded(_) => S::SERVICE_UNAVAILABLE,
            Error::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn grpc_status(&self) -> tonic::Status {
        let message = self.to_string();
        match self {
            Error::Decode { .. }
            | Error::UnsupportedContentType(_)
            | Error::UnsupportedEncoding(_) => tonic::Status::invalid_argument(message),
            // Not RESOURCE_EXHAUSTED: exporters retry that, and the same body would fail again.
            Error::TooLarge { .. } => tonic::Status::invalid_argument(message),
            Error::Unavailable(_) | Error::Overloaded(_) => tonic::Status::unavailable(message),
            Error::Internal(_) => tonic::Status::internal(message),
        }
    }

    pub fn failure_reason(&self) -> RequestFailure {
        match self {
            Error::Decode { .. }
            | Error::UnsupportedContentType(_)
            | Error::UnsupportedEncoding(_) => RequestFailure::invalid,
            Error::TooLarge { .. } => RequestFailure::too_large,
            Error::Unavailable(_) => RequestFailure::unavailable,
            Error::Overloaded(_) => RequestFailure::overloaded,
            Error::Internal(_) => RequestFailure::internal,
        }
    }
}

impl From<crate::store::Error> for Error {
    fn from(err: crate::store::Error) -> Self {
        if err.is_unavailable() {
            Error::Unavailable(err.to_string())
        } else {
            Error::Internal(err.to_string())
        }
    }
}
