//! Wiring: binds the three listeners (OTLP/gRPC, OTLP/HTTP, REST + /metrics) around one store and
//! one metrics registry, and shuts them down gracefully. Tests use [`spawn`] directly with a fresh
//! database and port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{DatabaseSettings, Limits, ReadDatabaseSettings, TestAnalysis};
use crate::ingest::IngestService;
use crate::metrics::Metrics;
use crate::pricing::PriceTable;
use crate::store::{Store, open_database, open_read_store};
use crate::{Error, api, otlp};

/// Everything [`spawn`] needs besides the store.
pub struct Settings {
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub api: SocketAddr,
    pub limits: Limits,
    pub prices: PriceTable,
    /// Flaky and regression rules (REST defaults and the test gauges).
    pub test_analysis: TestAnalysis,
    /// How long shutdown waits for in-flight requests and idle client connections (exporters
    /// keep gRPC connections open forever) before closing them.
    pub shutdown_grace: Duration,
    /// Days of turn-level detail kept by the retention job (0: kept forever).
    pub retention_days: u32,
    /// A span-less session (Claude Code's events) ends after this long without a record;
    /// `None` leaves such sessions running.
    pub session_idle: Option<Duration>,
    /// Tokens, read-only switch, time-out, back-pressure and CORS.
    pub guard: crate::guard::Guard,
    /// The durable spool for outages; `None` answers 503 instead.
    pub spool: Option<SpoolSettings>,
    /// Base directories targets may be registered under (`--target-roots`); empty: any
    /// directory that is not refused.
    pub target_roots: Vec<std::path::PathBuf>,
    /// Connection cap and header-read timeout of each listener.
    pub listen: crate::listen::ListenLimits,
    /// Where the REST API's GET handlers read (`--read-database-url`); `None`: the store given
    /// to [`spawn`], as everything else.
    pub read_database: Option<ReadDatabaseSettings>,
}

/// Where the spool lives and how large it may grow.
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: std::path::PathBuf,
    pub max_bytes: u64,
}

impl Settings {
    /// All listeners on 127.0.0.1 with OS-chosen ports, default limits and prices.
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            otlp_grpc: any,
            otlp_http: any,
            api: any,
            limits: Limits::default(),
            prices: PriceTable::shipped_default(),
            test_analysis: TestAnalysis::default(),
            shutdown_grace: Duration::from_secs(2),
            guard: crate::guard::Guard::default(),
            spool: None,
            retention_days: 30,
            session_idle: Some(Duration::from_secs(1800)),
            target_roots: Vec::new(),
            listen: crate::listen::ListenLimits::default(),
            read_database: None,
        }
    }
}

pub struct RunningApp {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub api_addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    shutdown_grace: Duration,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<Result<(), Error>>,
    /// The read pool when it is not the primary's, closed after the listeners stop.
    read_store: Option<Store>,
}

/// A background job as a task: jobs log their failures and carry on, so they end only with
/// shutdown, never with an error.
async fn infallible(job: impl std::future::Future<Output = ()>) -> Result<(), Error> {
    job.await;
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Starts serving on the given store (already migrated); REST GETs read from
/// `settings.read_database` when it is set.
pub async fn spawn(settings: Settings, store: Store) -> Result<RunningApp, Error> {
    let read_store = settings
        .read_database
        .as_ref()
        .map(open_read_store)
        .transpose()?;
    let metrics = Arc::new(Metrics::new());
    let service = IngestService {
        store: store.clone(),
        metrics: metrics.clone(),
        prices: Arc::new(settings.prices.clone()),
        test_analysis: settings.test_analysis,
    };
    // A restart must not blank the test gauges; a database that is down only leaves them empty.
    if let Err(err) = service.restore_test_gauges().await {
        tracing::warn!("test gauges not restored from the database: {err}");
    }
    let spool = match &settings.spool {
        Some(s) => match crate::spool::Spool::open(&s.dir, s.max_bytes) {
            Ok(spool) => {
                metrics.record_spooled(spool.len(), spool.used_bytes());
                metrics.reliability.spool_limit(s.max_bytes);
                Some(Arc::new(spool))
            }
            // Another collector in the same directory owns it: run, but answer outages with 503.
            Err(err @ crate::spool::Error::Locked(_)) => {
                tracing::warn!("{err}; running without a spool (set --spool-dir)");
                None
            }
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    let receiver = otlp::Receiver {
        service: service.clone(),
        limits: settings.limits,
        spool: spool.clone(),
        replay_wake: Arc::new(tokio::sync::Notify::new()),
    };
    let grpc = bind(settings.otlp_grpc).await?;
    let http = bind(settings.otlp_http).await?;
    let rest = bind(settings.api).await?;
    let addr = |l: &TcpListener| l.local_addr().map_err(|e| Error::Server(e.to_string()));
    let (grpc_addr, http_addr, api_addr) = (addr(&grpc)?, addr(&http)?, addr(&rest)?);

    let (shutdown, signal) = watch::channel(false);
    let stopped = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut tasks = JoinSet::new();

    let (otlp_http, grpc_routes) = settings.guard.otlp(
        otlp::http_router(receiver.clone()),
        otlp::grpc_routes(receiver.clone()),
        metrics.clone(),
    );
    if let Some(spool) = spool {
        tasks.spawn(infallible(otlp::replay(
            receiver.clone(),
            spool,
            signal.clone(),
        )));
    }
    let rx = signal.clone();
    let listen = settings.listen;
    tasks.spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(grpc_routes)
            .serve_with_incoming_shutdown(crate::listen::grpc_incoming(grpc, listen), stopped(rx))
            .await
            .map_err(|e| Error::Server(format!("OTLP/gRPC server: {e}")))
    });
    let rx = signal.clone();
    tasks.spawn(async move {
        crate::listen::serve_http(http, otlp_http, listen, stopped(rx))
            .await
            .map_err(|e| Error::Server(format!("OTLP/HTTP server: {e}")))
    });
    // The reindex worker: claims jobs from the PostgreSQL queue, woken by the API.
    let index_jobs = Arc::new(tokio::sync::Notify::new());
    let worker = crate::jobs::index_worker::Worker {
        store: store.clone(),
        metrics: metrics.clone(),
        wake: index_jobs.clone(),
    };
    tasks.spawn(infallible(worker.run(signal.clone())));
    if settings.retention_days > 0 {
        tasks.spawn(infallible(crate::jobs::retention::run(
            store.clone(),
            settings.retention_days,
            signal.clone(),
        )));
    }
    if let Some(idle) = settings.session_idle {
        tasks.spawn(infallible(crate::jobs::idle_sessions::run(
            store.clone(),
            metrics.clone(),
            idle,
            signal.clone(),
        )));
    }
    let rx = signal.clone();
    let rest_router = settings.guard.rest(api::router(api::ApiState {
        ingest: service,
        reads: read_store.clone().unwrap_or_else(|| store.clone()),
        separate_reads: read_store.is_some(),
        primary: store,
        metrics: metrics.clone(),
        max_body_bytes: settings.limits.max_body_bytes,
        index_jobs,
        test_analysis: settings.test_analysis,
        read_only: settings.guard.read_only,
        auth_required: settings.guard.api_token.is_some(),
        target_roots: Arc::new(settings.target_roots.clone()),
    }));
    tasks.spawn(async move {
        crate::listen::serve_http(rest, rest_router, listen, stopped(rx))
            .await
            .map_err(|e| Error::Server(format!("REST server: {e}")))
    });
    Ok(RunningApp {
        grpc_addr,
        http_addr,
        api_addr,
        metrics,
        shutdown_grace: settings.shutdown_grace,
        shutdown,
        tasks,
        read_store,
    })
}

impl RunningApp {
    /// Stops accepting and lets in-flight requests finish, for at most the grace period; then
    /// closes what is left. A request cut off there was not acknowledged, and its transaction
    /// rolls back, so nothing acknowledged is lost.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        let _ = self.shutdown.send(true);
        let drain = async {
            while let Some(result) = self.tasks.join_next().await {
                result.map_err(|e| Error::Server(e.to_string()))??;
            }
            Ok(())
        };
        let result = match tokio::time::timeout(self.shutdown_grace, drain).await {
            Ok(result) => result,
            Err(_) => {
                tracing::info!("closing connections still open after the shutdown grace period");
                self.tasks.abort_all();
                Ok(())
            }
        };
        if let Some(reads) = self.read_store.take() {
            reads.pool().close().await;
        }
        result
    }

    /// Waits until a server stops on its own (an error) or the process is asked to stop.
    async fn run_until_signal(mut self) -> Result<(), Error> {
        tokio::select! {
            _ = shutdown_signal() => {
                tracing::info!("shutting down");
                self.shutdown().await
            }
            Some(result) = self.tasks.join_next() => {
                let _ = self.shutdown.send(true);
                result.map_err(|e| Error::Server(e.to_string()))?
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler cannot fail");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// `acd-collector serve`: opens the database `database` chooses, then runs until a signal.
pub async fn serve(settings: Settings, database: &DatabaseSettings) -> Result<(), Error> {
    let database = open_database(database).await?;
    warn_if_open(&settings);
    let app = spawn(settings, database.store.clone()).await?;
    tracing::info!(
        otlp_grpc = %app.grpc_addr, otlp_http = %app.http_addr, api = %app.api_addr,
        "acd-collector is listening (REST and /metrics on the api address)"
    );
    let result = app.run_until_signal().await;
    database.close().await;
    result
}

/// Loud warning when a listener is reachable beyond this host and no token guards it: anyone who
/// can reach the port can register targets and read what the index stores (issue 19.7). The
/// default stays 0.0.0.0 so the compose file and the README's first command keep working.
fn warn_if_open(settings: &Settings) {
    let open = |addr: &SocketAddr| !addr.ip().is_loopback();
    if settings.guard.api_token.is_none() && open(&settings.api) {
        tracing::warn!(
            api = %settings.api,
            "WARNING: the REST API listens beyond loopback with no --api-token: anyone who can \
             reach it can register and read targets; set ACD_API_TOKEN or ACD_API_ADDR=127.0.0.1:9464"
        );
    }
    if settings.guard.ingest_token.is_none()
        && (open(&settings.otlp_grpc) || open(&settings.otlp_http))
    {
        tracing::warn!(
            otlp_grpc = %settings.otlp_grpc, otlp_http = %settings.otlp_http,
            "WARNING: OTLP listens beyond loopback with no --ingest-token: anyone who can reach \
             it can write sessions; set ACD_INGEST_TOKEN or bind to 127.0.0.1"
        );
    }
}
