//! PostgreSQL storage through sqlx, split by what it does: [`connection`] (pool, migrations, the
//! private cluster), [`write`] (one OTLP batch in one transaction, as a pipeline of stages), and
//! one module of read queries per table family. Background jobs that call these live in
//! `crate::jobs`; the store holds only the SQL. Queries are compile-checked (`sqlx::query!`,
//! cached in `.sqlx/`).

pub mod claude_metrics;
pub mod codebase;
pub mod codebase_jobs;
mod connection;
pub mod context;
pub mod file_access;
pub mod idle_sessions;
mod isolation;
pub mod retention;
pub mod retries;
pub mod sessions;
pub mod test_analysis;
pub mod test_runs;
pub mod token_usage;
mod usage_daily;
mod write;

use sqlx::PgPool;

pub use connection::{DatabaseHandle, MIGRATOR, embedded, open_database, open_read_store};
pub use isolation::{Refused, Stored};

/// The transaction every write stage of one batch runs in.
pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

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
}
