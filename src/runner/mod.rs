//! `acd-collector run -- claude -p "…" --output-format stream-json --verbose`: runs the command,
//! passes its stdout through unchanged, and records what it saw with our own clock — per-turn
//! request, first token and finish times, the session's wall clock, the exit status and the
//! command line (without the prompt). The child's exit code becomes ours, and the run is
//! recorded even when the child fails, prints nothing or is interrupted. docs/claude-stream-json.md.
//! This module runs the child and completes the parsed run; `crate::cli` stores it.

mod child;
pub mod command_line;
mod record;

pub use child::{Exit, Outcome, run_child, signal_name};

pub use record::complete;

/// Exit code when the command cannot be started (as a shell reports "command not found").
pub const CANNOT_START: i32 = 127;
