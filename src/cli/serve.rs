//! `acd-collector serve`: every flag also reads an environment variable, so a container can be
//! configured without a command line. The flags become [`crate::app::Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::options::{DatabaseArgs, prices};
use crate::Error;
use crate::app::{Settings, SpoolSettings};
use crate::config::{Limits, ReadDatabaseSettings, TestAnalysis};
use crate::guard::{Guard, Secret};
use crate::listen::ListenLimits;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// OTLP/gRPC listen address.
    #[arg(long, env = "ACD_OTLP_GRPC_ADDR", default_value = "0.0.0.0:4317")]
    pub otlp_grpc: SocketAddr,
    /// OTLP/HTTP listen address (protobuf and JSON on /v1/traces).
    #[arg(long, env = "ACD_OTLP_HTTP_ADDR", default_value = "0.0.0.0:4318")]
    pub otlp_http: SocketAddr,
    /// REST API, /metrics, /healthz and /readyz listen address.
    #[arg(long, env = "ACD_API_ADDR", default_value = "0.0.0.0:9464")]
    pub api: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// PostgreSQL URL every REST GET (and so the explorer) reads from, e.g. a streaming replica
    /// of --database-url; its pool has --db-max-connections of its own. Writes, OTLP ingest,
    /// migrations, locks, jobs and /metrics stay on the primary. Unset: the primary.
    #[arg(long, env = "ACD_READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub test_analysis: TestAnalysisArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    /// Base directories targets may be registered under (comma-separated); empty: any directory
    /// that is not a system tree or pseudo filesystem (docs/reliability.md).
    #[arg(long, env = "ACD_TARGET_ROOTS", value_delimiter = ',')]
    pub target_roots: Vec<PathBuf>,
    /// Seconds shutdown waits for in-flight requests before closing connections.
    #[arg(long, env = "ACD_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
    /// Price table (TOML) replacing the shipped default; see config/prices.toml.
    #[arg(long, env = "ACD_PRICES_FILE")]
    pub prices: Option<PathBuf>,
    /// Days of turn-level detail kept (turns, tool calls, retries); older detail is deleted
    /// hourly, sessions and daily aggregates are kept. 0 keeps everything.
    #[arg(long, env = "ACD_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,
    /// Seconds without a record after which a session that has no session span of its own
    /// (Claude Code's events and metrics) ends: `completed` if its last model call succeeded
    /// and no tool ran after it, else `abandoned`. 0 leaves such sessions running.
    #[arg(long, env = "ACD_SESSION_IDLE_SECONDS", default_value_t = 1800)]
    pub session_idle_seconds: u64,
    #[command(flatten)]
    pub listen: ListenArgs,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct LimitArgs {
    /// Largest request body accepted on the wire (bytes), for OTLP/HTTP and OTLP/gRPC.
    #[arg(long, env = "ACD_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression (bytes); guards against decompression bombs.
    #[arg(long, env = "ACD_MAX_DECOMPRESSED_BYTES",
          default_value_t = Limits::default().max_decompressed_bytes)]
    pub max_decompressed_bytes: usize,
}

/// How flaky tests and pass-rate regressions are found (docs/tests-and-retries.md).
#[derive(Debug, Clone, Copy, Args)]
pub struct TestAnalysisArgs {
    /// Flip rule: a test is flaky when its outcome flipped twice (pass→fail→pass or
    /// fail→pass→fail) across the target's last N sessions that ran it (3–100).
    #[arg(long, env = "ACD_FLAKY_WINDOW", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(3..=100))]
    pub flaky_window: u32,
    /// A session regressed when its pass rate is more than this many percentage points below
    /// the previous session's for the same target (0–100).
    #[arg(long, env = "ACD_REGRESSION_THRESHOLD_POINTS", default_value_t = 10.0,
          value_parser = parse_points)]
    pub regression_threshold_points: f64,
}

/// Access control, limits and the spool.
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

/// The listeners' limits (issue 19, item 9).
#[derive(Debug, Clone, Copy, Args)]
pub struct ListenArgs {
    /// Connections each listener (OTLP/gRPC, OTLP/HTTP, REST) holds open at once; more wait in
    /// the kernel's backlog. The default keeps all three (768) under a 1,024 descriptor limit.
    #[arg(long, env = "ACD_MAX_CONNECTIONS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Seconds a connection may take to send a request's headers (HTTP/1, also while idle
    /// between keep-alive requests) or the HTTP/2 preface before it is closed.
    #[arg(long, env = "ACD_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_seconds: u64,
}

impl GuardArgs {
    /// The guard with its tokens read (from the flag, the environment or the file).
    fn resolve(&self) -> Result<Guard, Error> {
        let guard = Guard {
            ingest_token: crate::guard::token(
                self.ingest_token.as_ref(),
                self.ingest_token_file.as_deref(),
                "ingest",
            )?,
            api_token: crate::guard::token(
                self.api_token.as_ref(),
                self.api_token_file.as_deref(),
                "API",
            )?,
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

impl ServeArgs {
    fn settings(&self) -> Result<Settings, Error> {
        Ok(Settings {
            otlp_grpc: self.otlp_grpc,
            otlp_http: self.otlp_http,
            api: self.api,
            limits: Limits {
                max_body_bytes: self.limits.max_body_bytes,
                max_decompressed_bytes: self.limits.max_decompressed_bytes,
            },
            prices: prices(self.prices.as_ref())?,
            test_analysis: TestAnalysis {
                flaky_window: self.test_analysis.flaky_window,
                regression_threshold_points: self.test_analysis.regression_threshold_points,
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
            guard: self.guard.resolve()?,
            spool: (self.guard.spool_max_bytes > 0).then(|| SpoolSettings {
                dir: self.guard.spool_dir.clone(),
                max_bytes: self.guard.spool_max_bytes,
            }),
            retention_days: self.retention_days,
            session_idle: (self.session_idle_seconds > 0)
                .then(|| Duration::from_secs(self.session_idle_seconds)),
            target_roots: self.target_roots.clone(),
            listen: ListenLimits {
                max_connections: self.listen.max_connections,
                header_read_timeout_seconds: self.listen.header_read_timeout_seconds,
            },
            read_database: self
                .read_database_url
                .clone()
                .filter(|url| !url.is_empty())
                .map(|url| ReadDatabaseSettings {
                    url,
                    max_connections: self.database.db_max_connections,
                }),
        })
    }
}

pub async fn run(args: ServeArgs) -> Result<(), Error> {
    let settings = args.settings()?;
    crate::app::serve(settings, &args.database.settings()).await
}

/// Percentage points, 0 to 100.
fn parse_points(raw: &str) -> Result<f64, Error> {
    let points: f64 = raw
        .trim()
        .parse()
        .map_err(|_| Error::Usage(format!("{raw:?} is not a number")))?;
    if points.is_finite() && (0.0..=100.0).contains(&points) {
        Ok(points)
    } else {
        Err(Error::Usage(format!(
            "{raw:?} is not between 0 and 100 percentage points"
        )))
    }
}
