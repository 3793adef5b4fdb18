//! `acd-collector run -- claude -p "…" --output-format stream-json --verbose`: runs the command,
//! passes its stdout through unchanged, and records what it saw with our own clock — per-turn
//! request, first token and finish times, the session's wall clock, the exit status and the
//! command line (without the prompt). The child's exit code becomes ours, and the run is
//! recorded even when the child fails, prints nothing or is interrupted. docs/claude-stream-json.md.

mod child;
pub mod command_line;
mod record;

pub use child::{Exit, Outcome, signal_name};

use crate::Error;
use crate::claude::StreamParser;
use crate::config::RunArgs;
use crate::pricing::PriceTable;

/// Exit code when the command cannot be started (as a shell reports "command not found").
pub const CANNOT_START: i32 = 127;

/// Runs the wrapped command and records it; ends the process with the child's exit code
/// (returns only on a configuration error, before anything was started).
pub async fn run(args: RunArgs) -> Result<(), Error> {
    // A bad price file is a configuration error: say so before running anything.
    if let Some(path) = &args.output.prices {
        PriceTable::load(path).map_err(|e| Error::Config(e.to_string()))?;
    }
    let mut parser = StreamParser::new();
    let outcome = match child::run_child(&args.command, |line, seen_at| {
        parser.push_line(line, Some(seen_at))
    })
    .await
    {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("acd-collector: {err}");
            std::process::exit(CANNOT_START);
        }
    };
    let mut run = parser.finish();
    record::complete(&mut run, &outcome, &args.command);

    // The child is gone: a signal now means "stop recording", not "stop the child".
    let result = tokio::select! {
        result = record::record(&args.output, &run) => result,
        signal = interrupted() => Err(Error::Config(format!("interrupted by {signal}"))),
    };
    match result {
        Ok(summary) => eprintln!("acd-collector: recorded the run\n{summary}"),
        Err(err) => eprintln!("acd-collector: the run was not recorded: {err:#}"),
    }
    // Our exit code is the child's; nothing is left to clean up (the sink is closed).
    std::process::exit(outcome.exit.code());
}

/// Waits for SIGINT, SIGTERM or SIGHUP.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}
