//! What the three signals share over OTLP/HTTP: read the body (limits, gzip), decode protobuf or
//! JSON, run the signal's export, and answer in the request's format with OTLP partial success.
//! Each signal file implements [`Signal`] and keeps only its mapping and its gRPC service.

use std::future::Future;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::http_body::{self, Format};
use super::{Accepted, Error, Receiver};

pub trait Signal {
    type Request: prost::Message + Default + DeserializeOwned + Send + Sync;
    type Response: prost::Message + Serialize;
    /// How the signal's requests are marked in the spool.
    const SPOOL_KIND: crate::spool::Kind;

    /// Map, store in one transaction, then count.
    fn export(
        receiver: &Receiver,
        request: &Self::Request,
    ) -> impl Future<Output = Result<Accepted, Error>> + Send;

    /// Replaces what PostgreSQL cannot store (see [`super::sanitize`]).
    fn sanitize(request: &mut Self::Request);

    /// The export response; partial success is left unset on full success, as the specification
    /// asks.
    fn response(accepted: Accepted) -> Self::Response;
}

impl Accepted {
    /// The refused records of a request: their count, and the first few reasons as the message.
    pub fn from_rejections(rejections: impl ExactSizeIterator<Item = String>) -> Self {
        let rejected = rejections.len();
        let message = rejections.take(5).collect::<Vec<_>>().join("; ");
        Self {
            rejected,
            message,
            details: Vec::new(),
        }
    }

    /// Keeps every rejection in full (the message holds only the first few).
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
}

/// `POST /v1/<signal>` for any signal.
pub async fn http_export<S: Signal>(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Before the content type is known, errors are answered in JSON.
    let format = match Format::from_headers(&headers) {
        Ok(format) => format,
        Err(err) => return Format::Json.error(&receiver.failed(err)),
    };
    let result = async {
        let bytes = http_body::read_body(&headers, body, receiver.limits)
            .await
            .map_err(|e| receiver.failed(e))?;
        let request: S::Request = format.decode(&bytes).map_err(|e| receiver.failed(e))?;
        receiver.accept::<S>(request).await
    }
    .await;
    match result {
        Ok(accepted) => format.reply(StatusCode::OK, &S::response(accepted)),
        Err(err) => format.error(&err),
    }
}
