//! What stands in front of every handler: optional bearer tokens (one for OTLP ingest, one for
//! the REST API; compared in constant time, never logged), the read-only switch for mutating REST
//! endpoints, a per-request time-out, back-pressure on OTLP (a bounded number of requests in
//! flight; the rest get the retryable status before their body is read), and CORS.
//! The same middleware guards OTLP/HTTP and OTLP/gRPC (tonic's routes are an axum router), so
//! both transports answer alike, each in its own protocol.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use clap::Args;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::metrics::Metrics;
use crate::metrics::reliability::RefusalReason;

/// A token given on the command line or in the environment. Its `Debug` form is redacted, so
/// logging the configuration cannot leak it.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Secret(s.to_string()))
    }
}

/// `serve` flags for access control, limits and the spool.
#[derive(Debug, Clone, Args)]
pub struct GuardArgs {
    /// Bearer token OTLP exporters must send (HTTP `Authorization: Bearer …`, gRPC
    /// `authorization` metadata). Unset: ingest is open.
    #[arg(long, env = "ACD_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<Secret>,
    /// File holding the ingest token (surrounding whitespace ignored).
    #[arg(long, env = "ACD_INGEST_TOKEN_FILE", conflicts_with = "ingest_token")]
    pub ingest_token_file: Option<PathBuf>,
    /// Bearer token for the REST API (`/api/...`). Unset: the API is open.
    #[arg(long, env = "ACD_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<Secret>,
    /// File holding the API token.
    #[arg(long, env = "ACD_API_TOKEN_FILE", conflicts_with = "api_token")]
    pub api_token_file: Option<PathBuf>,
    /// `/metrics` needs the API token too.
    #[arg(long, env = "ACD_PROTECT_METRICS")]
    pub protect_metrics: bool,
    /// `/healthz` and `/readyz` need the API token too.
    #[arg(long, env = "ACD_PROTECT_HEALTH")]
    pub protect_health: bool,
    /// Refuse every mutating REST endpoint (reindex, target registration, uploads) with 403.
    #[arg(long, env = "ACD_READ_ONLY")]
    pub read_only: bool,
    /// Origins allowed to call the REST API from a browser (comma-separated, or `*`).
    #[arg(long, env = "ACD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds a request may take, body upload included.
    #[arg(long, env = "ACD_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,
    /// OTLP requests processed at once (both transports); more get the retryable status.
    #[arg(long, env = "ACD_MAX_INFLIGHT_REQUESTS", default_value_t = 32)]
    pub max_inflight_requests: usize,
    /// Directory of the durable spool that keeps OTLP while PostgreSQL is down.
    #[arg(long, env = "ACD_SPOOL_DIR", default_value = "./.acd/spool")]
    pub spool_dir: PathBuf,
    /// Largest spool size in bytes; 0 turns the spool off (503 during outages).
    #[arg(long, env = "ACD_SPOOL_MAX_BYTES", default_value_t = 1 << 30)]
    pub spool_max_bytes: u64,
}

/// A configured token, kept only as its SHA-256 digest: comparing digests in constant time does
/// not leak the token's length or content through timing.
#[derive(Clone)]
pub struct Token([u8; 32]);

impl Token {
    pub fn new(token: &str) -> Self {
        Token(Sha256::digest(token.as_bytes()).into())
    }

    fn matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The resolved guard settings (tokens loaded from their files).
#[derive(Debug, Clone)]
pub struct Guard {
    pub ingest_token: Option<Token>,
    pub api_token: Option<Token>,
    pub protect_metrics: bool,
    pub protect_health: bool,
    pub read_only: bool,
    pub cors_origins: Vec<String>,
    pub request_timeout: Duration,
    pub max_inflight_requests: usize,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            ingest_token: None,
            api_token: None,
            protect_metrics: false,
            protect_health: false,
            read_only: false,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            max_inflight_requests: 32,
        }
    }
}

fn token(
    value: &Option<Secret>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<Option<Token>, String> {
    let text = match (value, file) {
        (Some(Secret(s)), _) => s.clone(),
        (None, Some(path)) => read_token_file(path, what)?,
        (None, None) => return Ok(None),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the {what} token is empty"));
    }
    Ok(Some(Token::new(text)))
}

fn read_token_file(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} token file {}: {e}", path.display()))
}

impl GuardArgs {
    pub fn resolve(&self) -> Result<Guard, String> {
        let guard = Guard {
            ingest_token: token(&self.ingest_token, &self.ingest_token_file, "ingest")?,
            api_token: token(&self.api_token, &self.api_token_file, "API")?,
            protect_metrics: self.protect_metrics,
            protect_health: self.protect_health,
            read_only: self.read_only,
            cors_origins: self.cors_origins.clone(),
            request_timeout: Duration::from_secs(self.request_timeout_seconds.max(1)),
            max_inflight_requests: self.max_inflight_requests.max(1),
        };
        guard.cors()?;
        Ok(guard)
    }
}

/// Adds `Authorization: Bearer $ACD_API_TOKEN` to a client request when that variable is set,
/// so `ingest --endpoint` and `run --endpoint` reach a collector whose API needs the token.
pub fn with_api_token(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match std::env::var("ACD_API_TOKEN") {
        Ok(token) if !token.trim().is_empty() => request.bearer_auth(token.trim()),
        _ => request,
    }
}

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
    fn cors(&self) -> Result<Option<CorsLayer>, String> {
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
                        .map_err(|_| format!("invalid CORS origin {o:?}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_exactly_and_are_never_printed() {
        let token = Token::new("s3cret");
        assert!(token.matches(b"s3cret"));
        assert!(!token.matches(b"s3cre"));
        assert!(!token.matches(b"s3cret "));
        assert!(!token.matches(b""));
        let secret: Secret = "s3cret".parse().unwrap();
        assert!(!format!("{secret:?} {token:?}").contains("s3cret"));
    }

    #[test]
    fn token_files_are_trimmed_and_empty_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc\n").unwrap();
        let parsed = token(&None, &Some(path.clone()), "API").unwrap().unwrap();
        assert!(parsed.matches(b"abc"));
        std::fs::write(&path, " \n").unwrap();
        assert!(token(&None, &Some(path), "API").is_err());
        let missing = token(&None, &Some(dir.path().join("nope")), "API").unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
