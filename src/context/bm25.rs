//! Okapi BM25 over files: each file is a bag of terms from its content (identifiers split into
//! parts, see [`super::terms`]) plus its path terms, which count [`PATH_WEIGHT`] times because a
//! path names what a file is about far more densely than its body.

use std::collections::HashMap;
use std::sync::Arc;

use super::terms::{path_terms, terms_into};

/// How many times a path term counts relative to a term in the body.
pub const PATH_WEIGHT: u32 = 4;
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// One file's term frequencies; built once per content (the eval caches it per git blob).
#[derive(Debug, Default)]
pub struct Doc {
    pub tf: HashMap<String, u32>,
    pub len: u32,
}

impl Doc {
    pub fn new(path: &str, content: &str) -> Self {
        let mut all = Vec::new();
        terms_into(content, &mut all);
        let mut doc = Doc::default();
        for t in all {
            *doc.tf.entry(t).or_default() += 1;
            doc.len += 1;
        }
        for t in path_terms(path) {
            *doc.tf.entry(t).or_default() += PATH_WEIGHT;
            doc.len += PATH_WEIGHT;
        }
        doc
    }
}

/// Document frequencies of a set of docs.
pub struct Bm25 {
    docs: Vec<Arc<Doc>>,
    df: HashMap<String, u32>,
    avg_len: f64,
}

impl Bm25 {
    pub fn new(docs: Vec<Arc<Doc>>) -> Self {
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut total = 0u64;
        for d in &docs {
            total += u64::from(d.len);
            for t in d.tf.keys() {
                *df.entry(t.clone()).or_default() += 1;
            }
        }
        let avg_len = if docs.is_empty() {
            1.0
        } else {
            (total as f64 / docs.len() as f64).max(1.0)
        };
        Self { docs, df, avg_len }
    }

    /// Inverse document frequency (the non-negative "plus one" form).
    pub fn idf(&self, term: &str) -> f64 {
        let n = self.docs.len() as f64;
        let df = f64::from(self.df.get(term).copied().unwrap_or(0));
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// BM25 of every doc for the query terms (each distinct term once), in doc order.
    pub fn scores(&self, query: &[String]) -> Vec<f64> {
        let mut distinct: Vec<&String> = query.iter().collect();
        distinct.sort();
        distinct.dedup();
        let weighted: Vec<(&str, f64)> = distinct
            .into_iter()
            .filter(|t| self.df.contains_key(t.as_str()))
            .map(|t| (t.as_str(), self.idf(t)))
            .collect();
        self.docs
            .iter()
            .map(|d| {
                let norm = K1 * (1.0 - B + B * f64::from(d.len) / self.avg_len);
                weighted
                    .iter()
                    .map(|(t, idf)| {
                        let tf = f64::from(d.tf.get(*t).copied().unwrap_or(0));
                        if tf == 0.0 {
                            0.0
                        } else {
                            idf * tf * (K1 + 1.0) / (tf + norm)
                        }
                    })
                    .sum()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::terms::terms;

    fn index(files: &[(&str, &str)]) -> Bm25 {
        Bm25::new(
            files
                .iter()
                .map(|(p, c)| Arc::new(Doc::new(p, c)))
                .collect(),
        )
    }

    #[test]
    fn rare_matching_terms_rank_first() {
        let bm = index(&[
            (
                "src/router.rs",
                "fn route(path: &str) { dispatch(path) } fn handler() {}",
            ),
            (
                "src/json.rs",
                "fn parse_json(body: &[u8]) -> Value { serde_json::from_slice(body) }",
            ),
            ("src/util.rs", "fn path() {} fn handler() {} fn value() {}"),
        ]);
        let s = bm.scores(&terms("JSON body parsing fails on empty input"));
        assert!(s[1] > s[0] && s[1] > s[2], "{s:?}");
        let s = bm.scores(&terms("router dispatch"));
        assert!(s[0] > s[1] && s[0] > s[2], "{s:?}");
    }

    #[test]
    fn path_terms_count_without_content() {
        let bm = index(&[("src/metrics/labels.rs", ""), ("src/other.rs", "")]);
        let s = bm.scores(&terms("bounded metric labels"));
        assert!(s[0] > 0.0 && s[1] == 0.0, "{s:?}");
    }

    #[test]
    fn unknown_terms_score_zero() {
        let bm = index(&[("a.rs", "alpha beta")]);
        assert_eq!(bm.scores(&terms("gamma")), [0.0]);
    }
}
