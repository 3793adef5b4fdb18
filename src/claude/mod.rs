//! Claude CLI output without any OpenTelemetry code: the `--output-format stream-json` stream
//! ([`stream`]) and Claude Code session transcripts ([`transcript`]) are parsed into a
//! [`ParsedRun`] ([`model`]), which [`to_batch`] maps to the same domain records as OTLP spans.
//! `acd-collector ingest` ([`ingest`]) writes them to the database or sends the ParsedRun to a
//! collector's `POST /api/db/ingest/claude-run`. docs/claude-stream-json.md describes the formats.

mod history;
pub mod ingest;
mod json;
pub mod model;
mod reconcile;
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
