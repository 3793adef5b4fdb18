//! Flags shared by several commands: where the database is, where parsed runs go (the database or
//! a running collector), and the price table.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::config::DatabaseSettings;
use crate::pricing::PriceTable;

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

impl DatabaseArgs {
    pub fn settings(&self) -> DatabaseSettings {
        DatabaseSettings {
            url: self.database_url.clone().filter(|u| !u.is_empty()),
            local_postgres: self.local_postgres,
            data_dir: self.data_dir.clone(),
            max_connections: self.db_max_connections,
        }
    }
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

/// The price table of `--prices`, or the shipped one.
pub fn prices(path: Option<&PathBuf>) -> Result<PriceTable, Error> {
    match path {
        Some(path) => Ok(PriceTable::load(path)?),
        None => Ok(PriceTable::shipped_default()),
    }
}
