//! The real Claude Code CLI (2.1.328, pinned in tests/claude-cli/, installed by
//! scripts/claude-cli) run against a Messages API stand-in (claude_cli/standin.rs) that serves
//! known figures, with each way the collector can learn about it: its own OTLP events and
//! metrics over HTTP and over gRPC, `acd-collector run` on its stream-json with partial
//! messages, `ingest claude-stream` on plain stream-json, and `ingest claude-transcript` on the
//! transcript the same run leaves under its temporary `HOME`; and a WebFetch, whose summary is a
//! side call (claude_cli/side_call.rs). Every figure asserted is what the
//! stand-in served; times within 100 ms of what the stand-in did.

mod cli;
mod otlp;
mod side_call;
mod standin;
mod stream;
