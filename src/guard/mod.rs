//! What stands in front of every handler: optional bearer tokens (one for OTLP ingest, one for
//! the REST API; compared in constant time, never logged), the read-only switch for mutating REST
//! endpoints, a per-request time-out, back-pressure on OTLP (a bounded number of requests in
//! flight; the rest get the retryable status before their body is read), and CORS.
//! The same middleware guards OTLP/HTTP and OTLP/gRPC (tonic's routes are an axum router), so
//! both transports answer alike, each in its own protocol.

mod settings;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use settings::{Guard, Secret, SettingsError, Token, token};

use crate::metrics::Metrics;
use crate::metrics::reliability::RefusalReason;

/// Whether a request's `Authorization: Bearer` (HTTP header or gRPC metadata) matches.
fn authorized(token: Option<&Token>, request: &Request) -> bool {
    let Some(token) = token else { return true };
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
        })
        .is_some_and(|presented| token.matches(presented.as_bytes()))
}

/// Shared state of the OTLP middleware.
#[derive(Clone)]
pub struct OtlpGate {
    token: Option<Token>,
    inflight: Arc<Semaphore>,
    timeout: Duration,
    metrics: Arc<Metrics>,
    grpc: bool,
}

impl OtlpGate {
    /// A refusal in the request's protocol: gRPC status, or over HTTP a `google.rpc.Status` in
    /// the request's format (protobuf or JSON), as the OTLP specification asks.
    fn refuse(&self, protobuf: bool, reason: RefusalReason, message: &str) -> Response {
        self.metrics.reliability.refused(reason);
        let (status, grpc) = match reason {
            RefusalReason::unauthorized => (
                StatusCode::UNAUTHORIZED,
                tonic::Status::unauthenticated(message),
            ),
            RefusalReason::overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                tonic::Status::unavailable(message),
            ),
        };
        if self.grpc {
            return grpc.into_http::<axum::body::Body>().into_response();
        }
        let mut response = error_response(status, message);
        if protobuf {
            let rpc = crate::otlp::http_body::RpcStatus {
                code: grpc.code() as i32,
                message: message.to_string(),
            };
            let headers = response.headers().clone();
            response = crate::otlp::http_body::Format::Protobuf.reply(status, &rpc);
            for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
                if let Some(value) = headers.get(&name) {
                    response.headers_mut().insert(name, value.clone());
                }
            }
        }
        response
    }
}

/// A JSON error body, with the headers its status calls for.
fn error_response(status: StatusCode, message: &str) -> Response {
    let mut response =
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
    let headers = response.headers_mut();
    match status {
        StatusCode::UNAUTHORIZED => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        _ => {}
    }
    response
}

async fn otlp_guard(State(gate): State<OtlpGate>, request: Request, next: Next) -> Response {
    let protobuf = matches!(
        crate::otlp::http_body::Format::from_headers(request.headers()),
        Ok(crate::otlp::http_body::Format::Protobuf)
    );
    if !authorized(gate.token.as_ref(), &request) {
        return gate.refuse(
            protobuf,
            RefusalReason::unauthorized,
            "missing or wrong bearer token",
        );
    }
    // Taken before the body is read: memory is bounded by in-flight requests × body limits.
    let Ok(_permit) = gate.inflight.clone().try_acquire_owned() else {
        return gate.refuse(
            protobuf,
            RefusalReason::overloaded,
            "too many OTLP requests in flight, retry later",
        );
    };
    match tokio::time::timeout(gate.timeout, next.run(request)).await {
        Ok(response) => response,
        // The handler is dropped: an open transaction rolls back, nothing was acknowledged.
        Err(_) => gate.refuse(
            protobuf,
            RefusalReason::overloaded,
            "the request timed out, retry later",
        ),
    }
}

/// Shared state of the REST middleware.
#[derive(Clone)]
struct ApiGate {
    guard: Arc<Guard>,
}

async fn api_guard(State(gate): State<ApiGate>, request: Request, next: Next) -> Response {
    let guard = &gate.guard;
    let path = request.uri().path();
    let protected = match path {
        "/healthz" | "/readyz" => guard.protect_health,
        "/metrics" => guard.protect_metrics,
        // The explorer's page and assets hold no data; the page asks for the token itself.
        p if crate::api::is_public_explorer_path(p) => false,
        _ => true,
    };
    if protected && !authorized(guard.api_token.as_ref(), &request) {
        return error_response(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let mutating = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if mutating && guard.read_only {
        return error_response(
            StatusCode::FORBIDDEN,
            "the REST API is read-only on this collector (--read-only)",
        );
    }
    match tokio::time::timeout(guard.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error_response(StatusCode::REQUEST_TIMEOUT, "the request timed out"),
    }
}

impl Guard {
    pub fn cors(&self) -> Result<Option<CorsLayer>, SettingsError> {
        if self.cors_origins.is_empty() {
            return Ok(None);
        }
        let origins = if self.cors_origins.iter().any(|o| o.trim() == "*") {
            AllowOrigin::any()
        } else {
            let list = self
                .cors_origins
                .iter()
                .map(|o| {
                    HeaderValue::from_str(o.trim())
                        .map_err(|_| SettingsError::CorsOrigin(o.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            AllowOrigin::list(list)
        };
        Ok(Some(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .max_age(Duration::from_secs(3600)),
        ))
    }

    /// The REST router behind the API token, read-only switch, time-out and CORS.
    pub fn rest(&self, router: Router) -> Router {
        let gate = ApiGate {
            guard: Arc::new(self.clone()),
        };
        let router = router.layer(from_fn_with_state(gate, api_guard));
        // Outermost, so preflight requests (which carry no token) are answered here.
        match self.cors().ok().flatten() {
            Some(cors) => router.layer(cors),
            None => router,
        }
    }

    fn otlp_gate(&self, inflight: Arc<Semaphore>, metrics: Arc<Metrics>, grpc: bool) -> OtlpGate {
        OtlpGate {
            token: self.ingest_token.clone(),
            inflight,
            timeout: self.request_timeout,
            metrics,
            grpc,
        }
    }

    /// The OTLP/HTTP router and the OTLP/gRPC routes behind the ingest token, back-pressure
    /// (one in-flight budget shared by both) and the time-out.
    pub fn otlp(
        &self,
        http: Router,
        grpc: tonic::service::Routes,
        metrics: Arc<Metrics>,
    ) -> (Router, tonic::service::Routes) {
        let inflight = Arc::new(Semaphore::new(self.max_inflight_requests));
        let http_gate = self.otlp_gate(inflight.clone(), metrics.clone(), false);
        let grpc_gate = self.otlp_gate(inflight, metrics, true);
        let http = http.layer(from_fn_with_state(http_gate, otlp_guard));
        let grpc = grpc
            .into_axum_router()
            .layer(from_fn_with_state(grpc_gate, otlp_guard));
        (http, tonic::service::Routes::from(grpc))
    }
}
