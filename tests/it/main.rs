//! The integration tests against the collector and the shared PostgreSQL server (127.0.0.1:5432,
//! `ACD_TEST_DATABASE_URL`): one test binary, so CI links the crate once for all of them. Each
//! module is one area; every test makes its own database (`common::TestDb`), so they share
//! nothing but the server. The property tests (`properties`) need no database at all.
//!
//! Tests that drive programs outside this repository are in `tests/peers/`, and those that start,
//! stop or kill private PostgreSQL clusters in `tests/clusters/`.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod bad_input;
mod claude_beta_spans;
mod claude_code_events;
mod claude_code_metrics;
mod claude_ingest;
mod claude_side_calls;
mod codebase_api;
mod codebase_index;
mod context_plan;
mod context_tracking;
mod file_access_counts;
mod migrations;
mod ops_metrics;
mod otlp_errors;
mod otlp_ingest;
mod properties;
mod read_database;
mod replicas;
mod rest_api;
mod retention;
mod retries;
mod run_wrapper;
mod session_ownership;
mod test_analysis;
mod test_runs;
