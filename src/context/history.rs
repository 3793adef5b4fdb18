//! Git history as the planner's recency (and, for a replay, access) signal: `git log` of a
//! repository (work tree or bare), newest first, with the files each commit touched.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

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
pub fn log(repo: &Path, rev: &str, max: usize) -> Result<Vec<Commit>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["log", "--no-merges", "--no-renames", "--name-status"])
        .arg(format!("-n{max}"))
        .arg("--format=%x1e%H %ct%n%B%x1f")
        .arg(rev)
        .arg("--")
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git log in {} failed: {}",
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
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
