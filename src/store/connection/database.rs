//! Choosing the database at start-up: `DATABASE_URL` when set; otherwise the PostgreSQL server on
//! `--local-postgres` (database `acd`, created if missing); otherwise a private cluster started
//! from the installed PostgreSQL binaries. Logs which one is used.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::embedded::EmbeddedCluster;
use super::{Error, Store};
use crate::config::{DatabaseSettings, ReadDatabaseSettings};

pub const DEFAULT_DATABASE: &str = "acd";

/// The store, and the private cluster behind it if one was started (stopped by [`Self::close`]).
pub struct DatabaseHandle {
    pub store: Store,
    pub description: String,
    cluster: Option<EmbeddedCluster>,
}

impl DatabaseHandle {
    pub async fn close(mut self) {
        self.store.pool().close().await;
        if let Some(cluster) = self.cluster.take() {
            tokio::task::spawn_blocking(move || cluster.stop())
                .await
                .ok();
        }
    }
}

/// Opens the database `settings` choose and applies the migrations (waiting for a server that
/// is still starting).
pub async fn open_database(settings: &DatabaseSettings) -> Result<DatabaseHandle, Error> {
    let handle = choose(settings).await?;
    if let Err(err) = migrate_with_retry(&handle.store).await {
        handle.close().await;
        return Err(err);
    }
    Ok(handle)
}

async fn choose(args: &DatabaseSettings) -> Result<DatabaseHandle, Error> {
    if let Some(url) = args.url.as_deref() {
        let options: PgConnectOptions = url.parse().map_err(|e| {
            Error::Setup(format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))
        })?;
        let description = format!("DATABASE_URL ({})", describe(&options));
        return Ok(handle(options, args, description, None));
    }
    if reachable(args.local_postgres) {
        let options = local_server_options(args.local_postgres);
        create_database_if_missing(&options, DEFAULT_DATABASE)
            .await
            .map_err(|e| {
                Error::Setup(format!(
                    "PostgreSQL on {} did not let user {:?} open or create database {DEFAULT_DATABASE:?} \
                     ({e}); set DATABASE_URL to a database you can use",
                    args.local_postgres,
                    options.get_username(),
                ))
            })?;
        let options = options.database(DEFAULT_DATABASE);
        let description = format!("local PostgreSQL server ({})", describe(&options));
        return Ok(handle(options, args, description, None));
    }
    tracing::info!(
        "no PostgreSQL on {}; starting a private cluster in {}",
        args.local_postgres,
        args.data_dir.display()
    );
    let (cluster, options) = EmbeddedCluster::start(&args.data_dir).await?;
    create_database_if_missing(&options, DEFAULT_DATABASE).await?;
    let description = format!(
        "private PostgreSQL cluster in {}",
        cluster.data_dir().display()
    );
    Ok(handle(
        options.database(DEFAULT_DATABASE),
        args,
        description,
        Some(cluster),
    ))
}

/// The pool the REST API reads from when `--read-database-url` is set. Lazy like the primary's,
/// so a replica that is down or still catching up only makes GETs (and `/readyz`) answer 503;
/// no migrations run there (a streaming replica is read-only, and follows the primary's schema).
pub fn open_read_store(settings: &ReadDatabaseSettings) -> Result<Store, Error> {
    let options: PgConnectOptions = settings.url.parse().map_err(|e| {
        Error::Setup(format!(
            "ACD_READ_DATABASE_URL is not a valid PostgreSQL URL: {e}"
        ))
    })?;
    tracing::info!(
        "REST reads use ACD_READ_DATABASE_URL ({})",
        describe(&options)
    );
    Ok(Store::connect_lazy(options, settings.max_connections))
}

fn handle(
    options: PgConnectOptions,
    args: &DatabaseSettings,
    description: String,
    cluster: Option<EmbeddedCluster>,
) -> DatabaseHandle {
    tracing::info!("using {description}");
    DatabaseHandle {
        store: Store::connect_lazy(options, args.max_connections),
        description,
        cluster,
    }
}

fn reachable(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// The local server, as user `PGUSER` (default `postgres`) with `PGPASSWORD` if set.
fn local_server_options(addr: SocketAddr) -> PgConnectOptions {
    let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into());
    PgConnectOptions::new()
        .host(&addr.ip().to_string())
        .port(addr.port())
        .username(&user)
        .database("postgres")
}

fn describe(options: &PgConnectOptions) -> String {
    format!(
        "user {} on {}:{} database {}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default)")
    )
}

/// Creates `name` through the maintenance database unless it exists. A concurrent creation by
/// another replica (duplicate_database) counts as success.
pub async fn create_database_if_missing(
    options: &PgConnectOptions,
    name: &str,
) -> Result<(), Error> {
    let mut conn: PgConnection = options.clone().database("postgres").connect().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // An identifier cannot be a bound parameter; `name` is our constant, quoted anyway.
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            other => {
                other?;
            }
        }
        tracing::info!("created database {name:?}");
    }
    conn.close().await.ok();
    Ok(())
}

/// Migrations need the database; give one that is still starting up half a minute.
async fn migrate_with_retry(store: &Store) -> Result<(), Error> {
    let mut attempt = 0;
    loop {
        match store.migrate().await {
            Ok(()) => return Ok(()),
            Err(err)
                if err.is_unavailable() || matches!(err, Error::Migrate(_)) && attempt == 0 =>
            {
                attempt += 1;
                if attempt > 15 {
                    return Err(err);
                }
                tracing::warn!("database not ready ({err}); retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(err) => return Err(err),
        }
    }
}
