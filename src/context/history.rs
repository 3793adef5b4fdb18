//! Git history as the planner's recency (and, for a replay, access) signal: `git log` of a
//! repository (work tree or bare), newest first, with the files each commit touched; and file
//! contents at a past revision ([`Blobs`], `git cat-file --batch`) for replays.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use super::Doc;
use crate::indexer::count::{estimate_tokens, is_binary};

/// Why git could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    #[error("{0}")]
    Failed(String),
    #[error("git cat-file: {0}")]
    Pipe(std::io::Error),
    #[error("git cat-file: unexpected {0:?}")]
    Unexpected(String),
    #[error("no commit touches 1–20 existing source files")]
    NoQualifyingCommit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// A (added), M (modified), D (deleted), or another `--name-status` letter.
    pub status: char,
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct Commit {
    pub id: String,
    /// Committer time, Unix seconds.
    pub time: i64,
    pub subject_and_body: String,
    pub changes: Vec<Change>,
}

/// `git -C repo log --no-merges -n max rev`, newest first. Renames count as delete + add.
pub fn log(repo: &Path, rev: &str, max: usize) -> Result<Vec<Commit>, GitError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["log", "--no-merges", "--no-renames", "--name-status"])
        .arg(format!("-n{max}"))
        .arg("--format=%x1e%H %ct%n%B%x1f")
        .arg(rev)
        .arg("--")
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed(format!(
            "git log in {} failed: {}",
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(parse_log(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_log(text: &str) -> Vec<Commit> {
    text.split('\x1e')
        .filter(|c| !c.trim().is_empty())
        .filter_map(|record| {
            let (head, rest) = record.split_once('\n')?;
            let (id, time) = head.split_once(' ')?;
            let (message, files) = rest.split_once('\x1f').unwrap_or((rest, ""));
            let changes = files
                .lines()
                .filter_map(|l| {
                    let (status, path) = l.split_once('\t')?;
                    Some(Change {
                        status: status.chars().next()?,
                        path: path.to_string(),
                    })
                })
                .collect();
            Some(Commit {
                id: id.to_string(),
                time: time.trim().parse().ok()?,
                subject_and_body: message.trim().to_string(),
                changes,
            })
        })
        .collect()
}

/// Last change time of each path in `commits` (newest first).
pub fn last_modified(commits: &[Commit]) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for c in commits {
        for ch in &c.changes {
            out.entry(ch.path.clone()).or_insert(c.time);
        }
    }
    out
}

/// How many of `commits` touched each path.
pub fn touch_counts(commits: &[Commit]) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for c in commits {
        for ch in &c.changes {
            *out.entry(ch.path.clone()).or_default() += 1;
        }
    }
    out
}

/// The files of each of the first `max` commits that changed 2–20 files (larger commits are
/// sweeping renames or formatting, and say little about which files belong together).
pub fn change_sets(commits: &[Commit], max: usize) -> Vec<Vec<String>> {
    commits
        .iter()
        .take(max)
        .filter(|c| (2..=20).contains(&c.changes.len()))
        .map(|c| c.changes.iter().map(|ch| ch.path.clone()).collect())
        .collect()
}

/// A blob's text, token estimate and terms.
pub type Blob = Option<(Arc<str>, u64, Arc<Doc>)>;

/// Reads blobs through one `git cat-file --batch` process, caching each by name.
pub struct Blobs {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    /// Per blob name: content, tokens and terms (None: binary, not UTF-8 or missing).
    cache: HashMap<String, Blob>,
}

impl Blobs {
    pub fn open(repo: &Path) -> Result<Self, GitError> {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn)?;
        let no_pipe = || GitError::Pipe(std::io::ErrorKind::BrokenPipe.into());
        let input = child.stdin.take().ok_or_else(no_pipe)?;
        let output = BufReader::new(child.stdout.take().ok_or_else(no_pipe)?);
        Ok(Self {
            child,
            input,
            output,
            cache: HashMap::new(),
        })
    }

    /// The blob `name` (an id, or `rev:path`) of file `path`; None when binary, not UTF-8 or
    /// missing.
    pub fn get(&mut self, name: &str, path: &str) -> Result<Blob, GitError> {
        if let Some(hit) = self.cache.get(name) {
            return Ok(hit.clone());
        }
        writeln!(self.input, "{name}").map_err(GitError::Pipe)?;
        self.input.flush().map_err(GitError::Pipe)?;
        let mut header = String::new();
        self.output.read_line(&mut header).map_err(GitError::Pipe)?;
        if header.trim_end().ends_with(" missing") {
            self.cache.insert(name.to_string(), None);
            return Ok(None);
        }
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| GitError::Unexpected(header.clone()))?;
        // A blob larger than the read cap is skipped unread (drained, never allocated).
        if size as u64 > crate::indexer::beneath::max_file_bytes() {
            let mut rest = (&mut self.output).take(size as u64 + 1);
            std::io::copy(&mut rest, &mut std::io::sink()).map_err(GitError::Pipe)?;
            self.cache.insert(name.to_string(), None);
            return Ok(None);
        }
        let mut body = vec![0; size + 1];
        self.output.read_exact(&mut body).map_err(GitError::Pipe)?;
        body.pop();
        let entry = if is_binary(&body) {
            None
        } else {
            String::from_utf8(body).ok().map(|text| {
                let tokens = estimate_tokens(text.chars().count() as u64);
                let doc = Arc::new(Doc::new(path, &text));
                (Arc::from(text), tokens, doc)
            })
        };
        self.cache.insert(name.to_string(), entry.clone());
        Ok(entry)
    }
}

impl Drop for Blobs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_status_records() {
        let text = "\x1eabc 100\nFix the parser\n\nBody line\n\x1f\n\nM\tsrc/a.rs\nA\tsrc/b.rs\n\x1edef 90\nInit\n\x1f\n\nA\tsrc/a.rs\n";
        let log = parse_log(text);
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].subject_and_body, "Fix the parser\n\nBody line");
        assert_eq!(
            log[0].changes[1],
            Change {
                status: 'A',
                path: "src/b.rs".into()
            }
        );
        let last = last_modified(&log);
        assert_eq!(last["src/a.rs"], 100);
        assert_eq!(touch_counts(&log)["src/a.rs"], 2);
    }
}
