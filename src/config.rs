//! Command line and environment configuration. Every flag of `serve` also reads an environment
//! variable, so a container can be configured without a command line.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "acd-collector",
    version,
    about = "Metrics for autonomous coding harnesses"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive OTLP, store it in PostgreSQL, serve the REST API and /metrics.
    Serve(ServeArgs),
    /// Parse Claude CLI output and store it (or send it to a running collector).
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Run a command (the Claude CLI with `--output-format stream-json`), pass its output
    /// through unchanged and record the run: `acd-collector run -- claude -p "…" …`.
    Run(RunArgs),
    /// Index a codebase: files, lines (code/comment/blank), bytes, languages, largest files and
    /// the token estimate (chars/4). With --target, stored as that registered target's index.
    Index(IndexArgs),
    /// Measure the context planner on a git history (what `scripts/eval-context` runs): recall
    /// of each replayed commit's changed files, ours against BM25, recent and hot alone.
    EvalContext(EvalContextArgs),
}

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Output of `claude -p … --output-format stream-json --verbose` (a file, `-` for stdin;
    /// `.gz` files are decompressed).
    ClaudeStream {
        /// The stream-json file, or `-` for standard input.
        file: PathBuf,
        #[command(flatten)]
        output: IngestOutput,
    },
    /// Claude Code session transcripts (`~/.claude/projects/<project>/<session>.jsonl`), one
    /// session per file, or directories of them (walked; subagent transcripts go to their
    /// parent session). No path: `$CLAUDE_CONFIG_DIR/projects`, else `~/.claude/projects`.
    ClaudeTranscript {
        files: Vec<PathBuf>,
        #[command(flatten)]
        output: IngestOutput,
    },
    /// A JUnit XML test report (pytest --junitxml, jest-junit, cargo-nextest, go-junit-report,
    /// Maven Surefire, Gradle), stored as a test run of a session.
    Junit(TestReportArgs),
    /// A libtest JSON stream (`cargo test -- -Z unstable-options --format json`) or cargo-nextest's
    /// (`cargo nextest run --message-format libtest-json`), stored as a test run of a session.
    TestJson(TestReportArgs),
}

/// `ingest junit` / `ingest test-json`.
#[derive(Debug, Clone, Args)]
pub struct TestReportArgs {
    /// The report file, or `-` for standard input.
    pub file: PathBuf,
    /// The session the tests ran in: its UUID, or its external id (mapped like
    /// `gen_ai.conversation.id`). It must already exist.
    #[arg(long)]
    pub session: String,
    /// The code revision the tests ran against (e.g. a git commit).
    #[arg(long)]
    pub revision: Option<String>,
    /// Suite name, replacing the report's own.
    #[arg(long)]
    pub suite: Option<String>,
    /// junit | json (libtest or nextest, told apart by test names) | libtest-json | nextest-json.
    #[arg(long)]
    pub format: Option<String>,
    #[command(flatten)]
    pub output: IngestOutput,
}

/// Where `ingest` (and the `run` wrapper) put what they parsed.
#[derive(Debug, Clone, Args)]
pub struct IngestOutput {
    /// Send the parsed run to a running collector instead of writing to the database: its REST
    /// base URL (e.g. http://localhost:9464); the run is POSTed to /api/db/ingest/claude-run.
    #[arg(long, env = "ACD_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The target (repository) the session belongs to: a UUID, or any text (mapped to a UUID).
    #[arg(long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Price table (TOML) replacing the shipped default; see config/prices.toml.
    #[arg(long, env = "ACD_PRICES_FILE")]
    pub prices: Option<PathBuf>,
    /// Days of turn-level detail kept (turns, tool calls, retries); older detail is deleted
    /// hourly, sessions and daily aggregates are kept. 0 keeps everything.
    #[arg(long, env = "ACD_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,
}

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
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub test_analysis: TestAnalysis,
    #[command(flatten)]
    pub guard: crate::guard::GuardArgs,
    /// Seconds shutdown waits for in-flight requests before closing connections.
    /// Base directories targets may be registered under (comma-separated); empty: any directory
    /// that is not a system tree or pseudo filesystem (docs/reliability.md).
    #[arg(long, env = "ACD_TARGET_ROOTS", value_delimiter = ',')]
    pub target_roots: Vec<PathBuf>,
    #[arg(long, env = "ACD_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
    /// Price table (TOML) replacing the shipped default; see config/prices.toml.
    #[arg(long, env = "ACD_PRICES_FILE")]
    pub prices: Option<PathBuf>,
    /// Days of turn-level detail kept (turns, tool calls, retries); older detail is deleted
    /// hourly, sessions and daily aggregates are kept. 0 keeps everything.
    #[arg(long, env = "ACD_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,
    #[command(flatten)]
    pub listen: crate::listen::ListenLimits,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL. When unset, the local server on --local-postgres is used (database `acd`,
    /// created if missing), and failing that a private cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the default database is looked for when DATABASE_URL is unset.
    #[arg(
        long,
        env = "ACD_LOCAL_POSTGRES_ADDR",
        default_value = "127.0.0.1:5432"
    )]
    pub local_postgres: SocketAddr,
    /// Data directory of the private PostgreSQL cluster started when no server is reachable.
    #[arg(long, env = "ACD_DATA_DIR", default_value = "./.acd/pg")]
    pub data_dir: PathBuf,
    /// Size of the PostgreSQL connection pool.
    #[arg(long, env = "ACD_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct Limits {
    /// Largest request body accepted on the wire (bytes), for OTLP/HTTP and OTLP/gRPC.
    #[arg(long, env = "ACD_MAX_BODY_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression (bytes); guards against decompression bombs.
    #[arg(long, env = "ACD_MAX_DECOMPRESSED_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 20 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How flaky tests and pass-rate regressions are found (docs/tests-and-retries.md).
#[derive(Debug, Clone, Copy, Args)]
pub struct TestAnalysis {
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

impl Default for TestAnalysis {
    fn default() -> Self {
        Self {
            flaky_window: 5,
            regression_threshold_points: 10.0,
        }
    }
}

/// Percentage points, 0 to 100.
pub fn parse_points(raw: &str) -> Result<f64, String> {
    let points: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a number"))?;
    if points.is_finite() && (0.0..=100.0).contains(&points) {
        Ok(points)
    } else {
        Err(format!(
            "{raw:?} is not between 0 and 100 percentage points"
        ))
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Where the run is recorded: the database (default) or `--endpoint`.
    #[command(flatten)]
    pub output: IngestOutput,
    /// The command to run and its arguments, after `--`.
    #[arg(last = true, required = true, num_args = 1..)]
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, Args)]
pub struct IndexArgs {
    /// The directory to index.
    pub path: PathBuf,
    /// Store the result as this registered target's index (its root must be PATH); re-indexing
    /// then reads only files changed since the target's last index.
    #[arg(long)]
    pub target: Option<String>,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Walker threads (default: the machine's parallelism).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EvalContextArgs {
    /// A git repository (work tree or bare).
    pub repo: PathBuf,
    /// How many of the newest qualifying commits to replay.
    #[arg(long, default_value_t = 50)]
    pub commits: usize,
    /// Token budget of each plan (default: the PRD's layout of a 200K window, 77000).
    #[arg(long)]
    pub budget_tokens: Option<u64>,
    /// Replay the history that ends here.
    #[arg(long, default_value = "HEAD")]
    pub rev: String,
    /// A fixed mix for our ranking, `bm25,recency,frequency,links`, alternated with relevance
    /// (for tuning; default: self-calibrated per commit, as the endpoint does).
    #[arg(long, value_delimiter = ',')]
    pub weights: Option<Vec<f64>>,
}
