//! `acd-collector run -- claude -p "…" --output-format stream-json --verbose`: runs the command,
//! passes its stdout through unchanged, and records what it saw with our own clock — per-turn
//! request, first token and finish times, the session's wall clock, the exit status and the
//! command line (without the prompt). The child's exit code becomes ours, and the run is
//! recorded even when the child fails, prints nothing or is interrupted.

mod child;
pub mod command_line;

pub use child::{Exit, Outcome, signal_name};

use crate::Error;
use crate::config::RunArgs;

/// Exit code when the command cannot be started (as a shell reports "command not found").
pub const CANNOT_START: i32 = 127;

/// Runs the wrapped command and records it; ends the process with the child's exit code.
pub async fn run(args: RunArgs) -> Result<(), Error> {
    let mut seen = 0u64;
    let outcome = match child::run_child(&args.command, |_line, _at| seen += 1).await {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("acd-collector: {err}");
            std::process::exit(CANNOT_START);
        }
    };
    eprintln!("acd-collector: {seen} lines, {outcome:?}");
    std::process::exit(outcome.exit.code());
}
