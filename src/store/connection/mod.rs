//! Getting a database to talk to: the pool (connected lazily, so the collector answers 503 while
//! PostgreSQL is down), the migrations, opening the configured database or starting a private
//! cluster (`embedded`, which runs `initdb` and `postgres` itself).

mod database;
pub mod embedded;

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

pub use database::{DatabaseHandle, open_database, open_read_store};

// Re-imported so that the files moved here keep naming them `super::{Error, Store}`.
use super::{Error, Store};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Connects lazily: the collector starts, and answers 503, while the database is down.
    pub fn connect_lazy(options: sqlx::postgres::PgConnectOptions, max_connections: u32) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // Short, so that an exporter gets its retryable answer well before its own time-out.
            .acquire_timeout(Duration::from_secs(3))
            // No JIT: ingest runs many short statements whose cost estimates can cross
            // `jit_above_cost` (the session-totals update does, with its per-session subplans),
            // and compiling one then takes 40 ms on a quiet machine and over 600 ms under load,
            // for a statement that runs in about 1 ms (scripts/bench-ingest: 2.6× fewer spans/s).
            .connect_lazy_with(options.options([("jit", "off")]));
        Self::new(pool)
    }

    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR.run(self.pool()).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }
}
