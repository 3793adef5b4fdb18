//! Claude CLI output without any OpenTelemetry code: the `--output-format stream-json` stream
//! ([`stream`]) and Claude Code session transcripts ([`transcript`]) are parsed into a
//! [`ParsedRun`] ([`model`]), which [`to_batch`] maps to the same domain records as OTLP spans.
//! The ingest service stores them ([`crate::ingest::IngestService::commit_run`]); the command line
//! (`acd-collector ingest`, `run`) reads the files. docs/claude-stream-json.md describes the formats.

mod json;
pub mod model;
mod reconcile;
mod session_facts;
pub mod stream;
pub mod to_batch;
pub mod transcript;

pub use model::ParsedRun;
pub use stream::StreamParser;

#[cfg(test)]
mod cli_2_1_328_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod to_batch_tests;
