//! Getting a database to talk to: the pool (connected lazily, so the collector answers 503 while
//! PostgreSQL is down), the migrations, opening the configured database or starting a private
//! cluster (`embedded`, which runs `initdb` and `postgres` itself).

mod database;
pub mod embedded;

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

pub use database::{DatabaseHandle, open_database};

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
            .connect_lazy_with(options);
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
