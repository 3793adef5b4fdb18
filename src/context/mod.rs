//! Context management: what a turn's context window held (tracking, [`usage`]), and the
//! token-budgeted context plan ([`plan`]): which files to load for a feature, ranked by BM25
//! relevance over identifiers and paths, recency, access frequency and import links, packed
//! under a budget it never exceeds, with large files cut to their relevant sections. How the
//! signals are mixed is calibrated on the target's own recent history ([`calibrate`]).
//! The endpoint and `scripts/eval-context` ([`eval`]) run the same planner.

pub mod bm25;
pub mod calibrate;
pub mod eval;
pub mod history;
pub mod imports;
pub mod plan;
pub mod rank;
pub mod score;
pub mod terms;
pub mod truncate;
pub mod usage;

use std::sync::Arc;

pub use bm25::Doc;
pub use history::GitError;
pub use plan::{Plan, PlanInput, PlannedFile, Reason, Segments, plan};
pub use rank::Mix;
pub use score::Weights;

/// One indexed file the planner may choose.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Relative to the target root, '/'-separated.
    pub path: String,
    pub content: Arc<str>,
    /// Token estimate of the whole file (the index's chars/4).
    pub tokens: u64,
    pub doc: Arc<Doc>,
    /// Unix seconds of the last change (git commit time, else mtime).
    pub last_modified: Option<i64>,
    /// Tool-call accesses (`file_access_log.access_count`).
    pub access_count: u64,
}

impl Candidate {
    pub fn new(
        path: &str,
        content: &str,
        tokens: u64,
        last_modified: Option<i64>,
        access_count: u64,
    ) -> Self {
        Self {
            doc: Arc::new(Doc::new(path, content)),
            path: path.to_string(),
            content: Arc::from(content),
            tokens,
            last_modified,
            access_count,
        }
    }
}

/// A code file (by language), not docs or data (Markdown, JSON, YAML, TOML, HTML...): the files
/// the priors apply to, and whose changes the eval measures.
pub fn is_code(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    crate::indexer::languages::detect(name).is_some_and(|l| {
        !matches!(
            l.name,
            "Markdown"
                | "Plain Text"
                | "reStructuredText"
                | "JSON"
                | "YAML"
                | "TOML"
                | "XML"
                | "SVG"
                | "HTML"
                | "CSS"
                | "Sass"
                | "TeX"
        )
    })
}
