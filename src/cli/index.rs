//! `acd-collector index PATH [--target ID] [--json]`: indexes a directory from the command line,
//! with a progress bar on a terminal (plain progress lines on stderr otherwise) and a summary
//! table, or one JSON object with `--json`. With `--target`, the result is stored as that
//! registered target's index, incrementally, exactly as a reindex job would.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use clap::Args;

use super::options::DatabaseArgs;
use crate::Error;
use crate::indexer::{FileRecord, IndexRun, Progress, Summary, default_threads, index_tree};
use crate::store::open_database;

#[derive(Debug, Clone, Args)]
pub struct IndexArgs {
    /// The directory to index.
    pub path: PathBuf,
    /// Store the result as this registered target's index (its root must be PATH); re-indexing
    /// then reads only files changed since the target's last index.
    #[arg(long)]
    pub target: Option<String>,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Walker threads (default: the machine's parallelism).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// What `--json` prints.
#[derive(Serialize)]
struct JsonOutput<'a> {
    root: String,
    target_id: Option<Uuid>,
    index_id: Option<Uuid>,
    #[serde(flatten)]
    summary: &'a Summary,
}

pub async fn run(args: IndexArgs) -> Result<(), Error> {
    let root = std::path::absolute(&args.path)
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .ok_or_else(|| Error::Usage(format!("{}: not a usable path", args.path.display())))?;
    // The CLI reads what its user can read; `..` is fine here, symlinks are resolved.
    let root = Path::new(&root)
        .canonicalize()
        .map_err(|source| Error::Read {
            path: root.clone(),
            source,
        })?;
    let root = crate::indexer::validate_root(root.to_str().unwrap_or_default())?;
    let threads = args.threads.unwrap_or_else(default_threads).max(1);

    let Some(target) = &args.target else {
        let run = walk_with_progress(root.clone(), HashMap::new(), threads, args.json).await?;
        return print(&args, &root, None, None, &run);
    };
    let target = Uuid::parse_str(target)
        .map_err(|_| Error::Usage(format!("--target {target:?} is not a UUID")))?;
    let database = open_database(&args.database.settings()).await?;
    let store = database.store.clone();
    let result = async {
        let row = store
            .target(target)
            .await?
            .ok_or(Error::UnknownTarget(target))?;
        if row.root_path.as_deref() != root.to_str() {
            return Err(Error::Usage(format!(
                "{} is not the registered root of target {target} ({})",
                root.display(),
                row.root_path.as_deref().unwrap_or("no root registered")
            )));
        }
        let previous = store.previous_files(target).await?;
        let run = walk_with_progress(root.clone(), previous, threads, args.json).await?;
        let index = store.save_index(target, &run).await?;
        print(&args, &root, Some(target), Some(index), &run)
    }
    .await;
    database.close().await;
    result
}

async fn walk_with_progress(
    root: PathBuf,
    previous: HashMap<String, FileRecord>,
    threads: usize,
    quiet: bool,
) -> Result<IndexRun, Error> {
    let progress = Arc::new(Progress::default());
    let shared = progress.clone();
    let mut walk =
        tokio::task::spawn_blocking(move || index_tree(&root, &previous, threads, &shared));
    let terminal = std::io::stderr().is_terminal() && !quiet;
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .expect("a valid template"),
        );
        bar
    });
    let mut ticks = tokio::time::interval(if terminal {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    });
    ticks.tick().await;
    let result = loop {
        tokio::select! {
            result = &mut walk => break result,
            _ = ticks.tick() => {
                let (seen, done) = progress.snapshot();
                match &bar {
                    Some(bar) => bar.set_message(format!("{done} of {seen} files indexed")),
                    None if !quiet => eprintln!("indexed {done} of {seen} files"),
                    None => {}
                }
            }
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
        .map_err(|e| Error::Server(format!("the indexer stopped: {e}")))?
        .map_err(Error::from)
}

fn print(
    args: &IndexArgs,
    root: &Path,
    target_id: Option<Uuid>,
    index_id: Option<Uuid>,
    run: &IndexRun,
) -> Result<(), Error> {
    let s = &run.summary;
    if args.json {
        let out = JsonOutput {
            root: root.display().to_string(),
            target_id,
            index_id,
            summary: s,
        };
        println!(
            "{}",
            serde_json::to_string(&out).expect("the summary serializes")
        );
        return Ok(());
    }
    println!("{}", table(root, s));
    if let Some(index) = index_id {
        println!(
            "stored as index {index} of target {}",
            target_id.unwrap_or_default()
        );
    }
    Ok(())
}

fn table(root: &Path, s: &Summary) -> String {
    let mut out = format!("Index of {}\n\n", root.display());
    let row = |out: &mut String, name: &str, v: &dyn std::fmt::Display| {
        out.push_str(&format!("  {name:<22} {v:>14}\n"));
    };
    row(&mut out, "text files", &s.files);
    row(&mut out, "lines", &s.lines);
    row(&mut out, "  code", &s.code_lines);
    row(&mut out, "  comments", &s.comment_lines);
    row(&mut out, "  blank", &s.blank_lines);
    row(&mut out, "bytes", &s.bytes);
    row(&mut out, "tokens (chars/4 est.)", &s.tokens);
    row(&mut out, "binary files skipped", &s.binary_files);
    row(
        &mut out,
        "files read / reused",
        &format!("{} / {}", s.files_read, s.files_reused),
    );
    row(&mut out, "duration (ms)", &s.duration_ms);
    out.push_str(&format!(
        "\n  {:<20} {:>8} {:>10} {:>10} {:>10} {:>8}\n",
        "language", "files", "lines", "code", "comments", "blanks"
    ));
    let mut languages: Vec<_> = s.languages.iter().collect();
    languages.sort_by(|a, b| b.1.lines.cmp(&a.1.lines).then(a.0.cmp(b.0)));
    for (name, l) in languages {
        out.push_str(&format!(
            "  {name:<20} {:>8} {:>10} {:>10} {:>10} {:>8}\n",
            l.files, l.lines, l.code, l.comments, l.blanks
        ));
    }
    if !s.largest_files.is_empty() {
        out.push_str("\n  largest files\n");
        for f in &s.largest_files {
            out.push_str(&format!("  {:>12}  {}\n", f.size_bytes, f.path));
        }
    }
    for (problem, entry) in &s.problems.0 {
        let name = serde_json::to_value(problem).unwrap_or_default();
        out.push_str(&format!(
            "\n  skipped ({}): {} e.g. {}",
            name.as_str().unwrap_or("?"),
            entry.count,
            entry.examples.join(", ")
        ));
    }
    out
}
