//! `acd-collector run -- claude -p "…" --output-format stream-json --verbose`: runs the command
//! through [`crate::runner`], passes its stdout through unchanged, then records the run through
//! the same [`Sink`] as `acd-collector ingest`. Our exit code is the child's.

use std::ffi::OsString;

use clap::Args;

use super::ingest::Sink;
use super::options::{IngestOutput, prices};
use super::summary::summary;
use crate::Error;
use crate::claude::{ParsedRun, StreamParser};
use crate::runner::{CANNOT_START, complete, run_child};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Where the run is recorded: the database (default) or `--endpoint`.
    #[command(flatten)]
    pub output: IngestOutput,
    /// The command to run and its arguments, after `--`.
    #[arg(last = true, required = true, num_args = 1..)]
    pub command: Vec<OsString>,
}

/// Runs the wrapped command and records it; the child's exit code (an error only for a
/// configuration error, before anything was started).
pub async fn run(args: RunArgs) -> Result<i32, Error> {
    // A bad price file is a configuration error: say so before running anything.
    prices(args.output.prices.as_ref())?;
    let mut parser = StreamParser::new();
    let outcome = match run_child(&args.command, |line, seen_at| {
        parser.push_line(line, Some(seen_at))
    })
    .await
    {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("acd-collector: {err}");
            return Ok(CANNOT_START);
        }
    };
    let mut run = parser.finish();
    complete(&mut run, &outcome, &args.command);

    // The child is gone: a signal now means "stop recording", not "stop the child".
    let result = tokio::select! {
        result = record(&args.output, &run) => result,
        signal = interrupted() => Err(Error::Interrupted(signal)),
    };
    match result {
        Ok(summary) => eprintln!("acd-collector: recorded the run\n{summary}"),
        Err(err) => eprintln!("acd-collector: the run was not recorded: {err:#}"),
    }
    Ok(outcome.exit.code())
}

/// Stores the run (or sends it with `--endpoint`); returns the summary to print.
async fn record(output: &IngestOutput, run: &ParsedRun) -> Result<String, Error> {
    let ended_at = run.ended_at.unwrap_or_else(chrono::Utc::now);
    let sink = Sink::open(output).await?;
    let prices = sink.prices();
    let sent = sink.send(run, output.target.as_deref(), ended_at).await;
    sink.close().await;
    let stored = sent?;
    Ok(summary(run, &prices, ended_at, Some(&stored)))
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
