//! acd-collector: OpenTelemetry from autonomous coding harnesses into PostgreSQL, a REST API and
//! Prometheus metrics.
//!
//! Data flows one way: [`otlp`] receives and decodes OTLP and maps spans to [`domain`] records,
//! [`store`] writes them to PostgreSQL in one transaction per request, and after the commit
//! [`metrics`] counts what was new. [`api`] reads back from the store.

pub mod api;
pub mod app;
pub mod claude;
pub mod config;
pub mod context;
pub mod domain;
pub mod error;
pub mod guard;
pub mod indexer;
pub mod jobs;
pub mod listen;
pub mod metric_points;
pub mod metrics;
pub mod otlp;
pub mod pricing;
pub mod runner;
pub mod spool;
pub mod store;
pub mod telemetry;
pub mod testreports;

pub use error::Error;

/// Runs the sub-command the user asked for.
pub async fn run(cli: config::Cli) -> Result<(), Error> {
    match cli.command {
        config::Command::Serve(args) => app::serve(args).await,
        config::Command::Ingest(command) => claude::ingest::run(command).await,
        config::Command::Run(args) => runner::run(args).await,
        config::Command::Index(args) => indexer::cli::run(args).await,
        config::Command::EvalContext(args) => context::eval::cli(&args),
    }
}
