//! `acd-collector ingest claude-transcript [DIR|FILE…]`: a whole history of Claude Code
//! transcripts, as ccusage and agento11y read them. A directory (default
//! `$CLAUDE_CONFIG_DIR/projects`, else `~/.claude/projects`) is walked for `*.jsonl`; a
//! session's own file comes before its subagents' (`<session>/subagents/agent-*.jsonl`), whose
//! lines name the parent's `sessionId`, so their calls land in the parent session. Keys are the
//! same as for one file, so a second import stores nothing new. A progress bar on a terminal,
//! and one closing summary instead of a screen per session.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::{Sink, read_transcript};
use crate::Error;
use crate::cli::options::IngestOutput;
use crate::ingest::IngestSummary;

/// Where Claude Code keeps its transcripts.
fn default_dir() -> Option<PathBuf> {
    if let Some(config) = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(config).join("projects"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".claude/projects"))
}

/// The files to read: files as given, directories walked; sessions before subagents.
fn transcript_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files).map_err(|source| Error::Read {
                path: path.display().to_string(),
                source,
            })?;
        } else {
            files.push(path.clone());
        }
    }
    // Fewer components first (a session's file is shallower than its subagents'), then by
    // name, so the order — and the summary — is the same on every run.
    files.sort_by(|a, b| {
        let depth = |p: &Path| p.components().count();
        depth(a).cmp(&depth(b)).then_with(|| a.cmp(b))
    });
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    Ok(())
}

/// Counts for the closing summary.
#[derive(Default)]
struct Totals {
    files: usize,
    failed: usize,
    sessions: std::collections::BTreeSet<String>,
    turns: usize,
    new_records: usize,
    duplicates: usize,
    cost_usd: f64,
}

impl Totals {
    fn add(&mut self, stored: &IngestSummary) {
        self.files += 1;
        self.sessions.insert(stored.external_id.clone());
        self.turns += stored.turns;
        self.new_records += stored.new_records;
        self.duplicates += stored.duplicates;
        self.cost_usd += stored.cost_usd;
    }

    fn summary(&self) -> String {
        format!(
            "claude-transcript: {} files ({} failed), {} sessions, {} turns; {} records stored, \
             {} already stored; cost ${:.4}",
            self.files + self.failed,
            self.failed,
            self.sessions.len(),
            self.turns,
            self.new_records,
            self.duplicates,
            self.cost_usd
        )
    }
}

/// A bar over `n` files when stderr is a terminal (hidden otherwise, so logs stay clean).
fn progress(n: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} transcripts [{elapsed}] {msg}",
        )
        .expect("a valid template"),
    );
    bar
}

/// Many transcripts (directories, or several files): one at a time, so a large history is never
/// held in memory; a file that cannot be read is reported and skipped, a sink error stops.
pub async fn run(paths: &[PathBuf], output: &IngestOutput) -> Result<(), Error> {
    let paths = if paths.is_empty() {
        let dir = default_dir()
            .ok_or_else(|| Error::Usage("no HOME to find ~/.claude/projects".into()))?;
        vec![dir]
    } else {
        paths.to_vec()
    };
    let files = transcript_files(&paths)?;
    let sink = Sink::open(output).await?;
    let bar = progress(files.len());
    let mut totals = Totals::default();
    let mut result = Ok(());
    for file in &files {
        let (run, fallback) = match read_transcript(file) {
            Ok(read) => read,
            Err(err) => {
                bar.suspend(|| eprintln!("skipped: {err}"));
                totals.failed += 1;
                bar.inc(1);
                continue;
            }
        };
        match sink.send(&run, output.target.as_deref(), fallback).await {
            Ok(stored) => totals.add(&stored),
            Err(err) => {
                result = Err(err);
                break;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    sink.close().await;
    eprintln!("{}", totals.summary());
    result
}
