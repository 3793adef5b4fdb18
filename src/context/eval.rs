//! Replays a repository's history to measure the planner (`acd-collector eval-context`, run by
//! `scripts/eval-context`): for each of the last N commits that touch 1–20 source files, the
//! tree at the parent commit is read from git, a plan is made with the commit message as the
//! feature, and recall (share of the commit's changed files that existed at the parent and are
//! in the plan) is compared with three rankings alone at the same budget: BM25, most recently
//! modified, most accessed ("accessed" = touched by the `window` commits before it).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use super::calibrate::{ACCESS_WINDOW, qualifies};
use super::history::{self, Blobs, Commit, GitError};
use super::plan::{DEFAULT_LRU_SIZE, default_budget, plan};
use super::{Candidate, Mix, PlanInput, Weights};

/// Files larger than this are left out of the replayed index (generated or vendored data).
const MAX_FILE_BYTES: u64 = 1 << 20;
const HISTORY: usize = 3000;
pub const RANKINGS: [&str; 4] = ["ours", "bm25", "recent", "hot"];

pub struct EvalArgs<'a> {
    pub repo: &'a Path,
    pub commits: usize,
    pub budget_tokens: Option<u64>,
    pub rev: &'a str,
    /// Our mix; None: self-calibrated per commit, as the endpoint does.
    pub mix: Option<Mix>,
}

#[derive(Debug, Serialize)]
pub struct EvalResult {
    pub repo: String,
    pub commits: usize,
    pub budget_tokens: u64,
    pub recall: HashMap<&'static str, f64>,
    pub precision: HashMap<&'static str, f64>,
    /// Changed files found per 100K planned file tokens.
    pub hits_per_100k_tokens: HashMap<&'static str, f64>,
    pub seconds: f64,
}

/// (blob id, path) of the files of `rev`'s tree up to [`MAX_FILE_BYTES`].
fn tree(repo: &Path, rev: &str) -> Result<Vec<(String, String)>, GitError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["ls-tree", "-r", "-l", "-z", rev])
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = std::str::from_utf8(entry).ok()?;
            let (meta, path) = entry.split_once('\t')?;
            let mut m = meta.split_whitespace();
            let (_mode, kind, oid, size) = (m.next()?, m.next()?, m.next()?, m.next()?);
            let size: u64 = size.parse().ok()?;
            (kind == "blob" && size <= MAX_FILE_BYTES).then(|| (oid.to_string(), path.to_string()))
        })
        .collect())
}

/// The commits to replay: the newest `n` whose source changes number 1–20 and include a file
/// that existed at the parent.
fn selected(log: &[Commit], n: usize) -> Vec<usize> {
    log.iter()
        .enumerate()
        .filter(|(_, c)| qualifies(c))
        .map(|(i, _)| i)
        .take(n)
        .collect()
}

pub fn run(args: &EvalArgs<'_>, progress: &mut dyn Write) -> Result<EvalResult, GitError> {
    let started = Instant::now();
    let log = history::log(args.repo, args.rev, HISTORY)?;
    let picks = selected(&log, args.commits);
    if picks.is_empty() {
        return Err(GitError::NoQualifyingCommit);
    }
    let budget = args.budget_tokens.unwrap_or(default_budget(200_000));
    let blobs = RefCell::new(Blobs::open(args.repo)?);
    let past_doc = |rev: &str, path: &str| {
        let blob = blobs
            .borrow_mut()
            .get(&format!("{rev}:{path}"), path)
            .ok()??;
        Some(blob.2)
    };
    let mut recall: HashMap<&str, f64> = HashMap::new();
    let mut precision: HashMap<&str, f64> = HashMap::new();
    let mut hits: HashMap<&str, f64> = HashMap::new();
    let mut tokens: HashMap<&str, f64> = HashMap::new();
    for (k, &i) in picks.iter().enumerate() {
        let commit = &log[i];
        let older = &log[i + 1..];
        let last = history::last_modified(older);
        let touched = history::touch_counts(&older[..older.len().min(ACCESS_WINDOW)]);
        let mut files = Vec::new();
        for (oid, path) in tree(args.repo, &format!("{}^", commit.id))? {
            let blob = blobs.borrow_mut().get(&oid, &path)?;
            if let Some((content, file_tokens, doc)) = blob {
                files.push(Candidate {
                    last_modified: last.get(&path).copied(),
                    access_count: touched.get(&path).copied().unwrap_or(0),
                    path,
                    content,
                    tokens: file_tokens,
                    doc,
                });
            }
        }
        let present: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let wanted: HashSet<&str> = commit
            .changes
            .iter()
            .filter(|ch| {
                ch.status != 'A' && super::is_code(&ch.path) && present.contains(ch.path.as_str())
            })
            .map(|ch| ch.path.as_str())
            .collect();
        let mut line = format!(
            "[{}/{}] {} ({} files, {} changed)",
            k + 1,
            picks.len(),
            &commit.id[..commit.id.len().min(10)],
            files.len(),
            wanted.len()
        );
        for (name, mix) in RANKINGS.iter().zip([
            args.mix,
            Some(Mix::only(Weights::only_bm25())),
            Some(Mix::only(Weights::only_recency())),
            Some(Mix::only(Weights::only_frequency())),
        ]) {
            let input = PlanInput {
                feature: &commit.subject_and_body,
                budget_tokens: budget,
                context_window: 200_000,
                open_files: &[],
                lru_size: DEFAULT_LRU_SIZE,
                max_file_tokens: None,
                mix,
                history: older,
                past_doc: Some(&past_doc),
            };
            let p = plan(&input, &files);
            let found = p
                .files
                .iter()
                .filter(|f| wanted.contains(f.path.as_str()))
                .count();
            let r = found as f64 / wanted.len().max(1) as f64;
            *recall.entry(name).or_default() += r;
            *precision.entry(name).or_default() += found as f64 / p.files.len().max(1) as f64;
            *hits.entry(name).or_default() += found as f64;
            *tokens.entry(name).or_default() += p.segments.files as f64;
            line.push_str(&format!(" {name} {found}/{}", wanted.len()));
            if let Some(c) = &p.calibration {
                let w = c.mix.weights;
                line.push_str(&format!(
                    " (mix {:.2}/{:.2}/{:.2}/{:.2} share {:.2}, past {:.2} vs {:.2})",
                    w.bm25,
                    w.recency,
                    w.frequency,
                    w.imports,
                    c.mix.relevance_share,
                    c.recall,
                    c.relevance_recall
                ));
            }
        }
        writeln!(progress, "{line}").ok();
    }
    let n = picks.len() as f64;
    let mean = |m: HashMap<&str, f64>| -> HashMap<&'static str, f64> {
        RANKINGS
            .iter()
            .map(|k| (*k, m.get(k).copied().unwrap_or(0.0) / n))
            .collect()
    };
    let per_100k = RANKINGS
        .iter()
        .map(|k| (*k, 100_000.0 * hits[k] / tokens[k].max(1.0)))
        .collect();
    Ok(EvalResult {
        repo: args.repo.display().to_string(),
        commits: picks.len(),
        budget_tokens: budget,
        recall: mean(recall),
        precision: mean(precision),
        hits_per_100k_tokens: per_100k,
        seconds: started.elapsed().as_secs_f64(),
    })
}
