//! A finished run: the parser's [`ParsedRun`] completed with what only the wrapper knows (spawn
//! and exit times, exit status, command line, signals).

use std::ffi::OsString;

use crate::claude::model::{ParsedRun, WrapperRun};

use super::child::{Exit, Outcome, signal_name};
use super::command_line::recorded_command;

/// Adds the wrapper's measurements to the parsed run. The session spans spawn → exit (not first
/// → last line): time before the first line (start-up) and after the last one is part of the
/// run too.
pub fn complete(run: &mut ParsedRun, outcome: &Outcome, command: &[OsString]) {
    run.started_at = Some(outcome.started_at);
    run.ended_at = Some(outcome.ended_at.max(outcome.started_at));
    run.exit_code = Some(outcome.exit.code());
    run.wrapper = Some(WrapperRun {
        command: recorded_command(command),
        exit_code: outcome.exit.code(),
        signal: match outcome.exit {
            Exit::Signal(signal) => Some(signal_name(signal)),
            Exit::Code(_) => None,
        },
        wall_clock_ms: outcome.wall_clock_ms,
        signals_received: outcome
            .signals_received
            .iter()
            .map(|s| signal_name(*s))
            .collect(),
        signals_forwarded: outcome
            .signals_forwarded
            .iter()
            .map(|s| signal_name(*s))
            .collect(),
        stdout_lines: outcome.lines,
        stdout_bytes: outcome.bytes,
        ended_mid_line: outcome.ended_mid_line,
        drain_timed_out: outcome.drain_timed_out,
        passthrough_error: outcome.passthrough_error.clone(),
    });
}
