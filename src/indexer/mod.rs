//! The codebase indexer: walks a target's tree in parallel (gitignore-aware, hidden files and
//! `.git` skipped, symlinks never followed), counts files, lines (code/comment/blank where the
//! language is known), bytes, languages and extensions, the 10 largest files and the token
//! estimate, skipping binary files. Per-file results are kept so that a re-index opens only files
//! whose size or mtime changed, and re-counts only those whose content hash changed.
//!
//! Problems (unreadable files, directories that vanish mid-walk, escaping symlinks) are counted
//! with example paths and never stop the rest of the walk.

pub mod beneath;
pub mod count;
pub mod languages;
pub mod root;
mod summary;
mod walk;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

pub use beneath::{DEFAULT_MAX_FILE_BYTES, Root, decode_path, encode_path};
pub use count::Counts;
pub use root::{RootError, validate_root, validate_root_within};
pub use summary::{LanguageTotals, LargestFile, Problem, Problems, Summary};

/// What the index knows about one file (the `codebase_files` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// Relative to the root, '/'-separated.
    pub path: String,
    pub size_bytes: u64,
    pub mtime_ns: i64,
    /// xxh3-64 of the content.
    pub content_hash: i64,
    pub is_binary: bool,
    pub language: Option<String>,
    /// Zero for binary files.
    pub counts: Counts,
}

/// Live counters a job reports while the walk runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files found so far (text and binary).
    pub files_seen: AtomicU64,
    /// Files finished (reused, read or failed).
    pub files_done: AtomicU64,
}

impl Progress {
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.files_seen.load(Ordering::Relaxed),
            self.files_done.load(Ordering::Relaxed),
        )
    }
}

/// Everything one index run produced.
#[derive(Debug)]
pub struct IndexRun {
    pub summary: Summary,
    /// Every file of the tree as it is now, sorted by path.
    pub files: Vec<FileRecord>,
    /// Indexes into `files` of rows that differ from the previous index (to be written).
    pub changed: Vec<usize>,
    /// Paths of the previous index that are gone (to be deleted).
    pub removed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Root(#[from] RootError),
}

/// Indexes the tree under `root` (an already validated, canonical directory). `previous` is the
/// last index's rows by path; pass an empty map for a full index.
pub fn index_tree(
    root: &Path,
    previous: &HashMap<String, FileRecord>,
    threads: usize,
    progress: &Progress,
) -> Result<IndexRun, Error> {
    let started = Instant::now();
    let root = root::revalidate(root)?;
    let opened = Root::open(&root)
        .map_err(|e| RootError::Unreadable(root.display().to_string(), e.to_string()))?;
    let walked = walk::walk(&root, &opened, previous, threads, progress);
    let mut files = walked.files;
    files.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    let changed = files
        .iter()
        .enumerate()
        .filter(|(_, (_, outcome))| *outcome != walk::Outcome::Unchanged)
        .map(|(i, _)| i)
        .collect();
    let files_read = files
        .iter()
        .filter(|(_, o)| *o != walk::Outcome::Unchanged)
        .count() as u64;
    let files: Vec<FileRecord> = files.into_iter().map(|(f, _)| f).collect();
    let seen: std::collections::HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut removed: Vec<String> = previous
        .keys()
        .filter(|p| !seen.contains(p.as_str()))
        .cloned()
        .collect();
    removed.sort();
    let mut summary = Summary::from_files(&files, walked.problems);
    summary.files_read = files_read;
    summary.files_reused = files.len() as u64 - files_read;
    summary.duration_ms = started.elapsed().as_millis() as u64;
    Ok(IndexRun {
        summary,
        files,
        changed,
        removed,
    })
}

/// Threads for the walk: the machine's parallelism (at least 1).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
