//! The parallel walk (the `ignore` crate, ripgrep's walker): each thread keeps its own results
//! and problems and hands them over when it finishes, so threads share nothing while walking.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

use super::beneath::ReadError;
use super::summary::{Problem, Problems};
use super::{FileRecord, Progress, count, languages};

/// How a file's row relates to the previous index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Same size and mtime: not opened, previous row kept as is.
    Unchanged,
    /// Opened; same content hash, so the previous counts were kept (row gets the new mtime).
    SameContent,
    /// Opened and counted.
    Counted,
}

pub struct Walked {
    pub files: Vec<(FileRecord, Outcome)>,
    pub problems: Problems,
}

pub fn walk(
    root: &Path,
    opened: &super::Root,
    previous: &HashMap<String, FileRecord>,
    threads: usize,
    progress: &Progress,
) -> Walked {
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(true)
        .git_global(false) // the host user's global excludes would make counts host-dependent
        .require_git(false) // .gitignore applies in a tree that is not a git checkout too
        .follow_links(false)
        .threads(threads.max(1));
    let shared = Mutex::new(Walked {
        files: Vec::new(),
        problems: Problems::default(),
    });
    let mut visitors = Visitors {
        root,
        opened,
        previous,
        progress,
        shared: &shared,
    };
    builder.build_parallel().visit(&mut visitors);
    shared.into_inner().unwrap_or_else(|e| e.into_inner())
}

struct Visitors<'a> {
    root: &'a Path,
    opened: &'a super::Root,
    previous: &'a HashMap<String, FileRecord>,
    progress: &'a Progress,
    shared: &'a Mutex<Walked>,
}

impl<'s> ParallelVisitorBuilder<'s> for Visitors<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            root: self.root,
            opened: self.opened,
            previous: self.previous,
            progress: self.progress,
            shared: self.shared,
            files: Vec::new(),
            problems: Problems::default(),
        })
    }
}

struct Visitor<'a> {
    root: &'a Path,
    opened: &'a super::Root,
    previous: &'a HashMap<String, FileRecord>,
    progress: &'a Progress,
    shared: &'a Mutex<Walked>,
    files: Vec<(FileRecord, Outcome)>,
    problems: Problems,
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.files.append(&mut self.files);
        shared.problems.merge(std::mem::take(&mut self.problems));
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        match entry {
            Ok(entry) => self.entry(entry),
            Err(err) => {
                let (path, kind) = error_parts(&err);
                let problem = match kind {
                    Some(ErrorKind::NotFound) => Problem::Vanished,
                    Some(ErrorKind::PermissionDenied) => Problem::Unreadable,
                    _ => Problem::WalkError,
                };
                let shown = path.map_or_else(|| err.to_string(), |p| self.relative(&p));
                self.problems.add(problem, shown);
            }
        }
        WalkState::Continue
    }
}

impl Visitor<'_> {
    fn relative(&self, path: &Path) -> String {
        // Stored escaped, not lossy: names differing only in invalid UTF-8 stay distinct.
        use std::os::unix::ffi::OsStrExt;
        let rel = path.strip_prefix(self.root).unwrap_or(path);
        super::encode_path(rel.as_os_str().as_bytes())
    }

    fn entry(&mut self, entry: DirEntry) {
        let Some(file_type) = entry.file_type() else {
            return;
        };
        if file_type.is_dir() {
            return;
        }
        let rel = self.relative(entry.path());
        if file_type.is_symlink() {
            // Never followed: the target is either outside the root (refused) or inside it (and
            // then counted at its own path).
            let problem = match entry.path().canonicalize() {
                Err(_) => Problem::DanglingSymlink,
                Ok(target) if !target.starts_with(self.root) => Problem::EscapingSymlink,
                Ok(_) => Problem::Symlink,
            };
            self.problems.add(problem, rel);
            return;
        }
        if !file_type.is_file() {
            self.problems.add(Problem::SpecialFile, rel);
            return;
        }
        self.progress.files_seen.fetch_add(1, Ordering::Relaxed);
        let result = self.file(entry.path(), rel);
        self.progress.files_done.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(file) => self.files.push(file),
            Err((problem, rel)) => self.problems.add(problem, rel),
        }
    }

    fn file(&self, path: &Path, rel: String) -> Result<(FileRecord, Outcome), (Problem, String)> {
        let failed = |err: std::io::Error, rel: String| match err.kind() {
            ErrorKind::NotFound => (Problem::Vanished, rel),
            _ => (Problem::Unreadable, rel),
        };
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(err) => return Err(failed(err, rel)),
        };
        let mtime_ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
        let previous = self.previous.get(&rel);
        if let Some(prev) = previous
            && prev.size_bytes == meta.size()
            && prev.mtime_ns == mtime_ns
        {
            return Ok((prev.clone(), Outcome::Unchanged));
        }
        // Opened through the root descriptor (never outside it, never blocking, regular files
        // only) and capped: the size listed above may be stale.
        let content = match self
            .opened
            .read(&super::decode_path(&rel), super::beneath::max_file_bytes())
        {
            Ok(content) => content,
            Err(e) if e.is_outside() => return Err((Problem::EscapingSymlink, rel)),
            Err(ReadError::Io(err)) => return Err(failed(err, rel)),
            Err(ReadError::NotRegular) => return Err((Problem::SpecialFile, rel)),
            Err(ReadError::TooLarge(_)) => return Err((Problem::TooLarge, rel)),
        };
        let content_hash = xxhash_rust::xxh3::xxh3_64(&content) as i64;
        let size_bytes = content.len() as u64;
        if let Some(prev) = previous
            && prev.content_hash == content_hash
            && prev.size_bytes == size_bytes
        {
            let record = FileRecord {
                mtime_ns,
                ..prev.clone()
            };
            return Ok((record, Outcome::SameContent));
        }
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        let language = languages::detect(name);
        let is_binary = count::is_binary(&content);
        let counts = if is_binary {
            count::Counts::default()
        } else {
            count::count(&content, language)
        };
        let record = FileRecord {
            language: language.filter(|_| !is_binary).map(|l| l.name.to_string()),
            path: rel,
            size_bytes,
            mtime_ns,
            content_hash,
            is_binary,
            counts,
        };
        Ok((record, Outcome::Counted))
    }
}

/// The path and I/O error kind inside a walk error, where it has them.
fn error_parts(err: &ignore::Error) -> (Option<PathBuf>, Option<ErrorKind>) {
    match err {
        ignore::Error::WithPath { path, err } => (Some(path.clone()), error_parts(err).1),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_parts(err)
        }
        ignore::Error::Partial(errs) => errs.first().map_or((None, None), error_parts),
        ignore::Error::Loop { child, .. } => (Some(child.clone()), None),
        ignore::Error::Io(io) => (None, Some(io.kind())),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_errors_keep_their_path_and_kind() {
        let io = |kind| Box::new(ignore::Error::Io(std::io::Error::from(kind)));
        let vanished = ignore::Error::WithDepth {
            depth: 2,
            err: Box::new(ignore::Error::WithPath {
                path: PathBuf::from("/r/gone"),
                err: io(ErrorKind::NotFound),
            }),
        };
        assert_eq!(
            error_parts(&vanished),
            (Some(PathBuf::from("/r/gone")), Some(ErrorKind::NotFound))
        );
        let denied = ignore::Error::WithPath {
            path: PathBuf::from("/r/locked"),
            err: io(ErrorKind::PermissionDenied),
        };
        assert_eq!(error_parts(&denied).1, Some(ErrorKind::PermissionDenied));
    }
}
