//! Self-calibration: before planning, replay the target's own recent history (commits before
//! the one being planned) and measure how well each mix of the signals would have predicted
//! which files those commits changed; the plan then uses the mix that did best. A repository
//! whose commit messages name the files they touch gets a ranking led by relevance; one whose
//! work clusters in recently changed files gets more of the priors and links.
//!
//! The replay is cheap and approximate: the candidates are the files as they are now, except
//! that files changed since a replayed commit are read as they were before it (`past_doc`;
//! otherwise a commit's own words are in its files and relevance looks better than it is);
//! recency, access counts and co-changes are taken as they were before each replayed commit;
//! token counts are today's, and packing is simulated without truncation.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use super::bm25::Bm25;
use super::history::{self, Commit};
use super::rank::{Mix, Signals, rank};
use super::score::{self, Weights};
use super::terms::terms;
use super::{Candidate, Doc, is_code};

/// A file's terms as of a revision (`rev`, `path`); None when it did not exist or is not text.
pub type PastDoc<'a> = &'a dyn Fn(&str, &str) -> Option<Arc<Doc>>;

/// How many earlier qualifying commits are replayed.
pub const CALIBRATION_COMMITS: usize = 20;
/// Fewer qualifying commits than this: not enough evidence, the default mix is used.
const MIN_COMMITS: usize = 5;
/// "Accessed" for a replayed commit: touched by this many commits before it (as in the eval).
pub const ACCESS_WINDOW: usize = 100;
/// Commits whose change sets give co-change links (the eval and the endpoint use the same).
pub const CO_CHANGE_COMMITS: usize = 500;
const MIN_SLICE: u64 = 200;

/// What calibration chose, and on what evidence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Calibration {
    /// Earlier commits replayed.
    pub commits: usize,
    pub mix: Mix,
    /// Mean recall of the chosen mix on those commits.
    pub recall: f64,
    /// Mean recall of relevance alone on those commits, for comparison.
    pub relevance_recall: f64,
}

/// The mixes tried: the default (first, so that it wins ties), relevance alone, and relevance with recency and/or access counts at
/// a few strengths, with and without links, alone or interleaved with relevance.
pub fn grid() -> Vec<Mix> {
    let mut out = vec![Mix::default(), Mix::only(Weights::only_bm25())];
    for prior in [0.1, 0.2, 0.3, 0.45] {
        for (rec, freq) in [(prior, 0.0), (0.0, prior), (prior / 2.0, prior / 2.0)] {
            for links in [0.0, 0.35] {
                for share in [0.0, 0.5] {
                    out.push(Mix {
                        weights: Weights {
                            bm25: 1.0 - prior,
                            recency: rec,
                            frequency: freq,
                            imports: links,
                        },
                        relevance_share: share,
                    });
                }
            }
        }
    }
    out
}

/// A commit worth replaying: 1–20 changed source files, one of which existed before.
pub fn qualifies(c: &Commit) -> bool {
    let source: Vec<_> = c.changes.iter().filter(|ch| is_code(&ch.path)).collect();
    (1..=20).contains(&source.len()) && source.iter().any(|ch| ch.status != 'A')
}

/// Chooses the mix for a plan from `older` (the commits before it, newest first). None when
/// there are too few qualifying commits to judge.
pub fn calibrate(
    files: &[Candidate],
    bm25: &Bm25,
    imports: &[Vec<usize>],
    older: &[Commit],
    file_budget: u64,
    max_file: u64,
    past_doc: Option<PastDoc<'_>>,
) -> Option<Calibration> {
    let index: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    let picks: Vec<(usize, HashSet<usize>)> = older
        .iter()
        .enumerate()
        .filter(|(_, c)| qualifies(c))
        .filter_map(|(j, c)| {
            let wanted: HashSet<usize> = c
                .changes
                .iter()
                .filter(|ch| ch.status != 'A' && is_code(&ch.path))
                .filter_map(|ch| index.get(ch.path.as_str()).copied())
                .collect();
            (!wanted.is_empty()).then_some((j, wanted))
        })
        .take(CALIBRATION_COMMITS)
        .collect();
    if picks.len() < MIN_COMMITS {
        return None;
    }
    let mixes = grid();
    let mut totals = vec![0.0; mixes.len()];
    let no_open = HashSet::new();
    let mut changed_since: HashSet<usize> = HashSet::new();
    let mut seen = 0;
    for (j, wanted) in &picks {
        let before = &older[j + 1..];
        for c in &older[seen..=*j] {
            changed_since.extend(
                c.changes
                    .iter()
                    .filter_map(|ch| index.get(ch.path.as_str())),
            );
        }
        seen = j + 1;
        let query = terms(&older[*j].subject_and_body);
        let relevance = match past_doc {
            Some(doc_at) => {
                let rev = format!("{}^", older[*j].id);
                let docs = files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| match changed_since.contains(&i) {
                        true => doc_at(&rev, &f.path).unwrap_or_default(),
                        false => f.doc.clone(),
                    })
                    .collect();
                score::relevance(&Bm25::new(docs), &query)
            }
            None => score::relevance(bm25, &query),
        };
        let last = history::last_modified(before);
        let touched = history::touch_counts(&before[..before.len().min(ACCESS_WINDOW)]);
        let as_of: Vec<Candidate> = files
            .iter()
            .map(|f| Candidate {
                last_modified: last.get(&f.path).copied(),
                access_count: touched.get(&f.path).copied().unwrap_or(0),
                ..f.clone()
            })
            .collect();
        let recency = score::recency(&as_of);
        let frequency = score::frequency(&as_of);
        let change_sets = history::change_sets(before, CO_CHANGE_COMMITS);
        let signals = Signals {
            relevance: &relevance,
            recency: &recency,
            frequency: &frequency,
            imports,
            change_sets: &change_sets,
            open: &no_open,
        };
        for (total, mix) in totals.iter_mut().zip(&mixes) {
            let order = rank(files, &signals, mix).order;
            *total += packed_recall(&order, files, wanted, file_budget, max_file);
        }
    }
    let n = picks.len() as f64;
    // Best mean recall; ties go to the earlier mix in the grid, so to the default mix first.
    let best = (1..mixes.len()).fold(0, |b, i| if totals[i] > totals[b] + 1e-9 { i } else { b });
    Some(Calibration {
        commits: picks.len(),
        mix: mixes[best],
        recall: totals[best] / n,
        relevance_recall: totals[1] / n,
    })
}

/// Share of `wanted` packed when `order` fills `file_budget` with files capped at `max_file`.
pub fn packed_recall(
    order: &[(usize, f64)],
    files: &[Candidate],
    wanted: &HashSet<usize>,
    file_budget: u64,
    max_file: u64,
) -> f64 {
    let mut remaining = file_budget;
    let mut found = 0usize;
    for (i, _) in order {
        if remaining < MIN_SLICE {
            break;
        }
        remaining -= files[*i].tokens.min(max_file).min(remaining);
        found += usize::from(wanted.contains(i));
    }
    found as f64 / wanted.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::history::Change;

    fn commit(id: &str, time: i64, msg: &str, paths: &[(char, &str)]) -> Commit {
        Commit {
            id: id.into(),
            time,
            subject_and_body: msg.into(),
            changes: paths
                .iter()
                .map(|(s, p)| Change {
                    status: *s,
                    path: (*p).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn packed_recall_stops_at_the_budget() {
        let files: Vec<Candidate> = ["a.rs", "b.rs", "c.rs"]
            .iter()
            .map(|p| Candidate::new(p, "", 1_000, None, 0))
            .collect();
        let order = [(0, 1.0), (1, 0.5), (2, 0.2)];
        let wanted: HashSet<usize> = [1, 2].into();
        assert_eq!(packed_recall(&order, &files, &wanted, 2_000, 5_000), 0.5);
        assert_eq!(packed_recall(&order, &files, &wanted, 3_000, 5_000), 1.0);
        // Capped files take less, so more fit.
        assert_eq!(packed_recall(&order, &files, &wanted, 2_000, 700), 1.0);
    }

    /// A history where every commit touches the file changed just before it, never the one
    /// its message names: calibration must move away from relevance alone.
    #[test]
    fn recency_wins_where_work_follows_recent_changes() {
        let mut files = Vec::new();
        for i in 0..40 {
            let body = format!("fn item{i}() {{}}\n");
            files.push(Candidate::new(
                &format!("src/m{i}.rs"),
                &body,
                2_000,
                None,
                0,
            ));
        }
        let older: Vec<Commit> = (0..30)
            .map(|k| {
                let t = 1_000 - k as i64;
                let path = format!("src/m{}.rs", k % 3);
                commit(
                    &format!("c{k}"),
                    t,
                    &format!("item{}", 20 + k),
                    &[('M', &path)],
                )
            })
            .collect();
        let bm25 = Bm25::new(files.iter().map(|f| f.doc.clone()).collect());
        let imports = vec![Vec::new(); files.len()];
        let c = calibrate(&files, &bm25, &imports, &older, 6_000, 4_000, None).unwrap();
        assert_eq!(c.commits, CALIBRATION_COMMITS);
        assert!(c.recall > c.relevance_recall, "{c:?}");
        assert_ne!(c.mix, Mix::only(Weights::only_bm25()));
    }

    #[test]
    fn relevance_found_where_messages_name_the_file() {
        let mut files = Vec::new();
        for i in 0..40 {
            let body = format!("fn item{i}() {{}}\n");
            files.push(Candidate::new(
                &format!("src/m{i}.rs"),
                &body,
                2_000,
                None,
                0,
            ));
        }
        let older: Vec<Commit> = (0..30)
            .map(|k| {
                let i = (k * 7) % 40;
                let path = format!("src/m{i}.rs");
                commit(
                    &format!("c{k}"),
                    1_000 - k as i64,
                    &format!("item{i}"),
                    &[('M', &path)],
                )
            })
            .collect();
        let bm25 = Bm25::new(files.iter().map(|f| f.doc.clone()).collect());
        let imports = vec![Vec::new(); files.len()];
        let c = calibrate(&files, &bm25, &imports, &older, 2_000, 4_000, None).unwrap();
        assert_eq!(c.relevance_recall, 1.0);
        assert_eq!(c.recall, 1.0);
    }

    #[test]
    fn too_little_history() {
        let files = vec![Candidate::new("a.rs", "fn a() {}", 10, None, 0)];
        let older = vec![commit("c", 1, "a", &[('M', "a.rs")])];
        let bm25 = Bm25::new(files.iter().map(|f| f.doc.clone()).collect());
        assert!(calibrate(&files, &bm25, &[vec![]], &older, 1_000, 500, None).is_none());
    }
}
