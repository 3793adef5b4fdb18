//! The runtime settings the layers below the command line take: plain structs, filled from flags
//! and environment variables by `crate::cli` (or by tests).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the database is: `url` when set, else the local server on `local_postgres` (database
/// `acd`, created if missing), else a private cluster in `data_dir`.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: Option<String>,
    pub local_postgres: SocketAddr,
    pub data_dir: PathBuf,
    /// Size of the connection pool.
    pub max_connections: u32,
}

/// A second database the REST API's GET handlers read from (`serve --read-database-url`): in
/// production a PostgreSQL streaming replica of the primary. Nothing is written or migrated there.
#[derive(Debug, Clone)]
pub struct ReadDatabaseSettings {
    pub url: String,
    /// Size of its own pool, beside the primary's.
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted on the wire (bytes), for OTLP/HTTP and OTLP/gRPC.
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression (bytes); guards against decompression bombs.
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
#[derive(Debug, Clone, Copy)]
pub struct TestAnalysis {
    /// Flip rule: a test is flaky when its outcome flipped twice (pass→fail→pass or
    /// fail→pass→fail) across the target's last N sessions that ran it (3–100).
    pub flaky_window: u32,
    /// A session regressed when its pass rate is more than this many percentage points below
    /// the previous session's for the same target (0–100).
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
