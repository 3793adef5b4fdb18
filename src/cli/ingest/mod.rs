//! `acd-collector ingest …`: Claude CLI output (`claude-stream`, `claude-transcript`) and test
//! reports (`junit`, `test-json`), read from files or stdin and stored in the database or sent to
//! a running collector. A one-screen summary of each run goes to stderr.

mod sink;
mod test_report;
mod transcripts;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

pub use sink::Sink;

use super::options::IngestOutput;
use super::summary::summary;
use crate::Error;
use crate::claude::{ParsedRun, StreamParser};
use crate::testreports::ReportFormat;

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Output of `claude -p … --output-format stream-json --verbose` (a file, `-` for stdin;
    /// `.gz` files are decompressed).
    ClaudeStream {
        /// The stream-json file, or `-` for standard input.
        file: PathBuf,
        #[command(flatten)]
        output: IngestOutput,
    },
    /// Claude Code session transcripts (`~/.claude/projects/<project>/<session>.jsonl`), one
    /// session per file, or directories of them (walked; subagent transcripts go to their
    /// parent session). No path: `$CLAUDE_CONFIG_DIR/projects`, else `~/.claude/projects`.
    ClaudeTranscript {
        files: Vec<PathBuf>,
        #[command(flatten)]
        output: IngestOutput,
    },
    /// A JUnit XML test report (pytest --junitxml, jest-junit, cargo-nextest, go-junit-report,
    /// Maven Surefire, Gradle), stored as a test run of a session.
    Junit(TestReportArgs),
    /// A libtest JSON stream (`cargo test -- -Z unstable-options --format json`) or cargo-nextest's
    /// (`cargo nextest run --message-format libtest-json`), stored as a test run of a session.
    TestJson(TestReportArgs),
}

/// `ingest junit` / `ingest test-json`.
#[derive(Debug, Clone, Args)]
pub struct TestReportArgs {
    /// The report file, or `-` for standard input.
    pub file: PathBuf,
    /// The session the tests ran in: its UUID, or its external id (mapped like
    /// `gen_ai.conversation.id`). It must already exist.
    #[arg(long)]
    pub session: String,
    /// The code revision the tests ran against (e.g. a git commit).
    #[arg(long)]
    pub revision: Option<String>,
    /// Suite name, replacing the report's own.
    #[arg(long)]
    pub suite: Option<String>,
    /// junit | json (libtest or nextest, told apart by test names) | libtest-json | nextest-json.
    #[arg(long)]
    pub format: Option<String>,
    #[command(flatten)]
    pub output: IngestOutput,
}

pub async fn run(command: IngestCommand) -> Result<(), Error> {
    let (run, fallback, output) = match command {
        IngestCommand::Junit(args) => return test_report::run(args, ReportFormat::Junit).await,
        IngestCommand::TestJson(args) => return test_report::run(args, ReportFormat::Json).await,
        IngestCommand::ClaudeStream { file, output } => {
            let (run, fallback) = read_stream(&file)?;
            (run, fallback, output)
        }
        IngestCommand::ClaudeTranscript { files, output } => {
            if files.len() != 1 || files[0].is_dir() {
                return transcripts::run(&files, &output).await;
            }
            let (run, fallback) = read_transcript(&files[0])?;
            (run, fallback, output)
        }
    };
    let sink = Sink::open(&output).await?;
    let prices = sink.prices();
    let sent = sink.send(&run, output.target.as_deref(), fallback).await;
    sink.close().await;
    eprintln!("{}", summary(&run, &prices, fallback, sent.as_ref().ok()));
    sent.map(|_| ())
}

/// A stream-json file (`-`: stdin; `.gz`: decompressed) and its fallback time.
fn read_stream(path: &Path) -> Result<(ParsedRun, DateTime<Utc>), Error> {
    let mut parser = StreamParser::new();
    let fallback = read_lines(path, |line| parser.push_line(line, None))?;
    Ok((parser.finish(), fallback))
}

fn read_transcript(path: &Path) -> Result<(ParsedRun, DateTime<Utc>), Error> {
    let mut parser = StreamParser::for_transcript();
    let fallback = read_lines(path, |line| parser.push_line(line, None))?;
    Ok((parser.finish(), fallback))
}

/// Feeds each line to `each`; returns the file's modification time (now for stdin), the time a
/// run without clocks is taken to have ended.
fn read_lines(path: &Path, mut each: impl FnMut(&str)) -> Result<DateTime<Utc>, Error> {
    let read_error = |source| Error::Read {
        path: path.display().to_string(),
        source,
    };
    let (reader, modified): (Box<dyn Read>, DateTime<Utc>) = if path == Path::new("-") {
        (Box::new(std::io::stdin().lock()), Utc::now())
    } else {
        let file = File::open(path).map_err(read_error)?;
        let modified = file
            .metadata()
            .and_then(|m| m.modified())
            .map_or_else(|_| Utc::now(), DateTime::<Utc>::from);
        if path.extension().is_some_and(|e| e == "gz") {
            (Box::new(flate2::read::GzDecoder::new(file)), modified)
        } else {
            (Box::new(file), modified)
        }
    };
    for line in BufReader::new(reader).split(b'\n') {
        each(&String::from_utf8_lossy(&line.map_err(read_error)?));
    }
    Ok(modified)
}
