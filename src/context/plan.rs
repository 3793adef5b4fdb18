//! The context plan: scores every candidate file, then packs files in score order under the
//! budget. The budget is checked on every addition, so the plan can never exceed it; a file
//! that does not fit whole is cut to its relevant sections ([`super::truncate`]).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::Candidate;
use super::bm25::Bm25;
use super::calibrate::{CO_CHANGE_COMMITS, Calibration, PastDoc, calibrate};
use super::history::{self, Commit};
use super::imports::import_links;
use super::rank::{Mix, Signals, rank};
use super::score;
use super::terms::terms;
use super::truncate::{LineRange, truncate};
use crate::indexer::count::estimate_tokens;

/// The PRD's layout of a 200K window: system ~2K, feature ~5K, recent files ~20K, cached
/// files ~50K; the rest is left for the conversation.
pub const LAYOUT_WINDOW: u64 = 200_000;
pub const SYSTEM_TOKENS: u64 = 2_000;
pub const FEATURE_TOKENS: u64 = 5_000;
pub const RECENT_FILE_TOKENS: u64 = 20_000;
pub const CACHED_FILE_TOKENS: u64 = 50_000;
pub const DEFAULT_LRU_SIZE: usize = 20;
/// A truncated slice smaller than this is not worth loading.
const MIN_SLICE: u64 = 200;

/// The default budget for a window: the PRD's layout scaled to its size.
pub fn default_budget(window: u64) -> u64 {
    (SYSTEM_TOKENS + FEATURE_TOKENS + RECENT_FILE_TOKENS + CACHED_FILE_TOKENS) * window
        / LAYOUT_WINDOW
}

pub struct PlanInput<'a> {
    pub feature: &'a str,
    /// Tokens the plan may place in the window (system + feature + files).
    pub budget_tokens: u64,
    pub context_window: u64,
    pub open_files: &'a [String],
    pub lru_size: usize,
    /// Most tokens one file may take before it is truncated; default 1/16 of the file budget
    /// (4.3K of the default 70K), so a few large files cannot crowd out the rest.
    pub max_file_tokens: Option<u64>,
    /// How to mix the signals; None: self-calibrate on `history` ([`super::calibrate`]), or
    /// the default mix when the history is too short.
    pub mix: Option<Mix>,
    /// The commits before this plan, newest first (from `git log`; empty when unknown): the
    /// co-change links and the calibration.
    pub history: &'a [Commit],
    /// Files as they were at a past revision, for the calibration's replay (None: as now).
    pub past_doc: Option<PastDoc<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Already open in the session.
    Open,
    /// Its identifiers or path match the feature (BM25).
    RelevantToFeature,
    /// Among the most recently modified files.
    RecentlyModified,
    /// In the LRU set of most accessed files.
    Hot,
    /// Imports, or is imported by, a chosen file (`linked_to`).
    ImportLink,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoreParts {
    pub relevance: f64,
    pub recency: f64,
    pub frequency: f64,
    pub imports: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlannedFile {
    pub path: String,
    /// Tokens this plan loads of the file (after truncation).
    pub tokens: u64,
    /// Tokens of the whole file.
    pub file_tokens: u64,
    pub score: f64,
    pub parts: ScoreParts,
    pub reasons: Vec<Reason>,
    /// The file this one imports or is imported by, when that is a reason.
    pub linked_to: Option<String>,
    /// Line ranges kept when the file is truncated (None: the whole file).
    pub ranges: Option<Vec<LineRange>>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Segments {
    pub system: u64,
    pub feature: u64,
    /// All files: `recent_files + cached_files`.
    pub files: u64,
    /// Files chosen for the feature (relevance, recency, links, open).
    pub recent_files: u64,
    /// Files of the LRU set.
    pub cached_files: u64,
    /// What the plan leaves of the window for the conversation.
    pub conversation: u64,
    /// system + feature + files; never above the budget.
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plan {
    pub budget_tokens: u64,
    pub context_window: u64,
    pub files: Vec<PlannedFile>,
    pub segments: Segments,
    /// The LRU set: the most accessed files, most first.
    pub lru: Vec<String>,
    pub candidates: usize,
    /// The mix calibrated on the target's history (None: a given or the default mix).
    pub calibration: Option<Calibration>,
}

/// Scores and packs `files` for the feature. Never over `input.budget_tokens`.
pub fn plan(input: &PlanInput<'_>, files: &[Candidate]) -> Plan {
    let budget = input.budget_tokens;
    let system = SYSTEM_TOKENS.min(budget);
    let feature = estimate_tokens(input.feature.chars().count() as u64)
        .min(FEATURE_TOKENS)
        .min(budget - system);
    let file_budget = budget - system - feature;

    let bm25 = Bm25::new(files.iter().map(|f| f.doc.clone()).collect());
    let query = terms(input.feature);
    let idf: HashMap<String, f64> = query.iter().map(|t| (t.clone(), bm25.idf(t))).collect();
    let relevance = score::relevance(&bm25, &query);
    let recency = score::recency(files);
    let frequency = score::frequency(files);
    let max_file = input
        .max_file_tokens
        .unwrap_or((file_budget / 16).max(1_000))
        .min(file_budget);
    let needs_links = input.mix.is_none_or(|m| m.weights.imports > 0.0);
    let imports = if needs_links {
        let texts: Vec<(&str, &str)> = files
            .iter()
            .map(|f| (f.path.as_str(), &*f.content))
            .collect();
        import_links(&texts)
    } else {
        vec![Vec::new(); files.len()]
    };
    let calibration = match input.mix {
        Some(_) => None,
        None => calibrate(
            files,
            &bm25,
            &imports,
            input.history,
            file_budget,
            max_file,
            input.past_doc,
        ),
    };
    let mix = input
        .mix
        .or(calibration.as_ref().map(|c| c.mix))
        .unwrap_or_default();
    let w = mix.weights;
    let change_sets = if w.imports > 0.0 {
        history::change_sets(input.history, CO_CHANGE_COMMITS)
    } else {
        Vec::new()
    };
    let lru = lru_set(files, input.lru_size);
    let lru_paths: HashSet<&str> = lru.iter().map(String::as_str).collect();
    let open: HashSet<&str> = input.open_files.iter().map(String::as_str).collect();
    let signals = Signals {
        relevance: &relevance,
        recency: &recency,
        frequency: &frequency,
        imports: &imports,
        change_sets: &change_sets,
        open: &open,
    };
    let ranking = rank(files, &signals, &mix);
    let (scored, neighbours) = (ranking.order, ranking.neighbours);

    let weight = |t: &str| idf.get(t).copied().unwrap_or(0.0);
    let mut remaining = file_budget;
    let mut chosen = Vec::new();
    let mut segments = Segments {
        system,
        feature,
        ..Segments::default()
    };
    for (i, score) in scored {
        if remaining < MIN_SLICE {
            break;
        }
        let f = &files[i];
        let cap = max_file.min(remaining);
        let (tokens, ranges) = if f.tokens <= cap {
            (f.tokens, None)
        } else {
            let cut = truncate(&f.content, cap, &weight);
            if cut.tokens < MIN_SLICE.min(f.tokens) || cut.ranges.is_empty() {
                continue;
            }
            (cut.tokens, Some(cut.ranges))
        };
        debug_assert!(tokens <= remaining);
        remaining -= tokens;
        let mut reasons = Vec::new();
        if open.contains(f.path.as_str()) {
            reasons.push(Reason::Open);
        }
        if relevance[i] >= 0.2 && w.bm25 > 0.0 {
            reasons.push(Reason::RelevantToFeature);
        }
        if recency[i] >= 0.5 && w.recency > 0.0 {
            reasons.push(Reason::RecentlyModified);
        }
        let hot = lru_paths.contains(f.path.as_str());
        if hot {
            reasons.push(Reason::Hot);
        }
        let linked_to = neighbours[i].map(|(j, _)| files[j].path.clone());
        if linked_to.is_some() {
            reasons.push(Reason::ImportLink);
        }
        if hot {
            segments.cached_files += tokens;
        } else {
            segments.recent_files += tokens;
        }
        chosen.push(PlannedFile {
            path: f.path.clone(),
            tokens,
            file_tokens: f.tokens,
            score,
            parts: ScoreParts {
                relevance: relevance[i],
                recency: recency[i],
                frequency: frequency[i],
                imports: neighbours[i].map_or(0.0, |(_, s)| s),
            },
            reasons,
            linked_to,
            ranges,
        });
    }
    segments.files = segments.recent_files + segments.cached_files;
    segments.total = system + feature + segments.files;
    segments.conversation = input.context_window.saturating_sub(segments.total);
    Plan {
        budget_tokens: budget,
        context_window: input.context_window,
        files: chosen,
        segments,
        lru,
        candidates: files.len(),
        calibration,
    }
}

/// The `size` most accessed files (ties: most recently modified first, then path).
pub fn lru_set(files: &[Candidate], size: usize) -> Vec<String> {
    let mut hot: Vec<&Candidate> = files.iter().filter(|f| f.access_count > 0).collect();
    hot.sort_by(|a, b| {
        b.access_count
            .cmp(&a.access_count)
            .then(b.last_modified.cmp(&a.last_modified))
            .then(a.path.cmp(&b.path))
    });
    hot.into_iter().take(size).map(|f| f.path.clone()).collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
