//! acd-collector: OpenTelemetry from autonomous coding harnesses into PostgreSQL, a REST API and
//! Prometheus metrics.
//!
//! Data flows one way: [`otlp`] (and the REST uploads of [`api`], and [`cli`]) decode and map
//! input to [`domain`] records; the [`ingest`] service writes them through [`store`] to
//! PostgreSQL in one transaction per request and, after the commit, [`metrics`] counts what was
//! new. [`api`] reads back from the store; [`jobs`] run retention and reindexing in the
//! background. ARCHITECTURE.md gives the layers and what may import what.

pub mod api;
pub mod app;
pub mod claude;
pub mod cli;
pub mod config;
pub mod context;
pub mod domain;
pub mod error;
pub mod guard;
pub mod indexer;
pub mod ingest;
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
