//! The command line: clap types, one file per sub-command, the one client that sends to a running
//! collector, and every line printed on a terminal. Each command turns its arguments into the plain
//! settings of [`crate::config`] and calls the layer below; nothing below this module parses
//! arguments or prints for a user.

mod client;
mod eval_context;
mod index;
mod ingest;
mod options;
mod run;
mod serve;
mod summary;

use clap::{Parser, Subcommand};

pub use options::{DatabaseArgs, IngestOutput};
pub use serve::ServeArgs;

use crate::Error;

#[derive(Debug, Parser)]
#[command(
    name = "acd-collector",
    version,
    about = "Metrics for autonomous coding harnesses"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive OTLP, store it in PostgreSQL, serve the REST API and /metrics.
    // Boxed: serve has by far the most flags, and the others should not carry its size.
    Serve(Box<ServeArgs>),
    /// Parse Claude CLI output and store it (or send it to a running collector).
    #[command(subcommand)]
    Ingest(ingest::IngestCommand),
    /// Run a command (the Claude CLI with `--output-format stream-json`), pass its output
    /// through unchanged and record the run: `acd-collector run -- claude -p "…" …`.
    Run(run::RunArgs),
    /// Index a codebase: files, lines (code/comment/blank), bytes, languages, largest files and
    /// the token estimate (chars/4). With --target, stored as that registered target's index.
    Index(index::IndexArgs),
    /// Measure the context planner on a git history (what `scripts/eval-context` runs): recall
    /// of each replayed commit's changed files, ours against BM25, recent and hot alone.
    EvalContext(eval_context::EvalContextArgs),
}

/// Runs the sub-command the user asked for; the process's exit code on success (`run` passes
/// on its child's).
pub async fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Serve(args) => serve::run(*args).await.map(|()| 0),
        Command::Ingest(command) => ingest::run(command).await.map(|()| 0),
        Command::Run(args) => run::run(args).await,
        Command::Index(args) => index::run(args).await.map(|()| 0),
        Command::EvalContext(args) => eval_context::run(&args).map(|()| 0),
    }
}
