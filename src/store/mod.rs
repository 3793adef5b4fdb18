//! PostgreSQL storage through sqlx: connecting (or starting a private cluster), migrations, and
//! one module per table family. Queries are compile-checked (`sqlx::query!`, cached in `.sqlx/`).

pub mod claude_metrics;
pub mod codebase;
pub mod codebase_jobs;
pub mod context;
mod database;
mod details;
pub mod embedded;
pub mod file_access;
mod ingest;
mod isolation;
mod resolution;
pub mod retention;
pub mod retries;
mod rollups;
pub mod sessions;
pub mod test_analysis;
pub mod test_runs;
pub mod token_usage;
mod usage_daily;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use database::{DatabaseHandle, open_database};
pub use isolation::{Refused, Stored};

/// The transaction every write stage of one batch runs in.
pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Setup(String),
}

impl Error {
    /// True when retrying later may succeed: the database is unreachable, restarting, or a
    /// concurrent writer forced a rollback. OTLP answers these with the retryable status.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Sqlx(err) | Error::Migrate(sqlx::migrate::MigrateError::Execute(err)) => {
                is_transient(err)
            }
            _ => false,
        }
    }
}

fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 53: insufficient resources; 57P0x: shutdown/recovery;
            // 40001/40P01: serialization failure and deadlock, which succeed when retried.
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
        }),
        _ => false,
    }
}

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Connects lazily: the collector starts, and answers 503, while the database is down.
    pub fn connect_lazy(options: sqlx::postgres::PgConnectOptions, max_connections: u32) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // Short, so that an exporter gets its retryable answer well before its own time-out.
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        Self { pool }
    }

    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
