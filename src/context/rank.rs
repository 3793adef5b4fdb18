//! The ranking step of the planner, separate from packing so that self-calibration
//! ([`super::calibrate`]) can rank many times cheaply: a weighted sum of the score parts plus
//! link scores, then interleaved with the ranking by relevance alone at a given share.

use std::collections::HashSet;

use serde::Serialize;
use utoipa::ToSchema;

use super::Candidate;
use super::score::{self, Weights};

/// Files scoring below this are not worth their tokens.
pub const MIN_SCORE: f64 = 0.02;
/// How many of the best files lend score to the files they import or are imported by.
pub const LINK_TOP: usize = 10;

/// How the parts are mixed: the weights of the combined score, and the share of the ranking's
/// slots given to the ranking by relevance alone (0: combined only, 0.5: alternate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Mix {
    pub weights: Weights,
    pub relevance_share: f64,
}

impl Default for Mix {
    /// Used when there is no history to calibrate on.
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            relevance_share: 0.5,
        }
    }
}

impl Mix {
    /// One ranking alone (the eval's baselines).
    pub fn only(weights: Weights) -> Self {
        Self {
            weights,
            relevance_share: 0.0,
        }
    }
}

/// The per-file signals a ranking is made from.
pub struct Signals<'a> {
    pub relevance: &'a [f64],
    pub recency: &'a [f64],
    pub frequency: &'a [f64],
    /// Import graph (`imports::import_links`): file → files it imports.
    pub imports: &'a [Vec<usize>],
    pub change_sets: &'a [Vec<String>],
    pub open: &'a HashSet<&'a str>,
}

pub struct Ranking {
    /// (file, score), best first.
    pub order: Vec<(usize, f64)>,
    /// Each file's strongest link to a top file: (that file, its score).
    pub neighbours: Vec<Option<(usize, f64)>>,
}

/// Ranks `files` by `mix`.
pub fn rank(files: &[Candidate], s: &Signals<'_>, mix: &Mix) -> Ranking {
    let w = mix.weights;
    let base: Vec<f64> = (0..files.len())
        .map(|i| {
            let prior = w.recency * s.recency[i] + w.frequency * s.frequency[i];
            // Changelogs and manifests change with every commit: recency and access count
            // only for code files (in a ranking by the priors alone they still count).
            let counts = w.bm25 == 0.0 || super::is_code(&files[i].path);
            w.bm25 * s.relevance[i] + if counts { prior } else { 0.0 }
        })
        .collect();
    let neighbours = if w.imports > 0.0 {
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let imports = score::import_neighbours(&base, s.imports, LINK_TOP);
        let co = score::co_change_neighbours(&base, &paths, s.change_sets, LINK_TOP);
        // A file's link score: its strongest import link or co-change with a top file.
        imports
            .into_iter()
            .zip(co)
            .map(|(a, b)| match (a, b) {
                (Some(x), Some(y)) => Some(if y.1 > x.1 { y } else { x }),
                (x, y) => x.or(y),
            })
            .collect()
    } else {
        vec![None; files.len()]
    };
    let mut order: Vec<(usize, f64)> = (0..files.len())
        .map(|i| {
            let link = neighbours[i].map_or(0.0, |(_, sc)| w.imports * sc);
            let open = if s.open.contains(files[i].path.as_str()) {
                10.0
            } else {
                0.0
            };
            (i, base[i] + link + open)
        })
        .filter(|(_, sc)| *sc >= MIN_SCORE)
        .collect();
    order.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| files[a.0].path.cmp(&files[b.0].path))
    });
    if mix.relevance_share > 0.0 {
        order = interleave(order, s.relevance, files, mix.relevance_share);
    }
    Ranking { order, neighbours }
}

/// Merges the combined ranking with the ranking by relevance alone (skipping files already
/// taken) so that `share` of the slots follow relevance: when a feature's words are a weak
/// signal the priors cannot crowd out every lexical match, and when the priors are weak the
/// combined ranking still leads. Open files stay first (they lead the combined ranking).
pub fn interleave(
    combined: Vec<(usize, f64)>,
    relevance: &[f64],
    files: &[Candidate],
    share: f64,
) -> Vec<(usize, f64)> {
    let mut by_relevance: Vec<(usize, f64)> = combined
        .iter()
        .copied()
        .filter(|(i, _)| relevance[*i] > 0.0)
        .collect();
    by_relevance.sort_by(|a, b| {
        relevance[b.0]
            .total_cmp(&relevance[a.0])
            .then_with(|| files[a.0].path.cmp(&files[b.0].path))
    });
    let total = combined.len();
    let lead = combined.iter().take_while(|(_, s)| *s >= 10.0).count();
    let mut seen = HashSet::new();
    let mut merged = Vec::with_capacity(total);
    let (mut a, mut b) = (combined.into_iter().peekable(), by_relevance.into_iter());
    let mut from_relevance = 0usize;
    while merged.len() < total {
        // Slot k goes to relevance when that keeps its count at or under share × (k + 1).
        let want_relevance = merged.len() >= lead
            && (from_relevance + 1) as f64 <= share * (merged.len() + 1) as f64 + 1e-9;
        let pick = if want_relevance {
            b.by_ref().find(|(i, _)| !seen.contains(i))
        } else {
            None
        };
        let pick = match pick {
            Some(p) => {
                from_relevance += 1;
                Some(p)
            }
            None => a.by_ref().find(|(i, _)| !seen.contains(i)),
        };
        let Some((i, s)) = pick.or_else(|| b.by_ref().find(|(i, _)| !seen.contains(i))) else {
            break;
        };
        seen.insert(i);
        merged.push((i, s));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize) -> Vec<Candidate> {
        (0..n)
            .map(|i| Candidate::new(&format!("f{i}.rs"), "", 10, None, 0))
            .collect()
    }

    #[test]
    fn interleave_shares() {
        let f = files(4);
        // Combined order 0,1,2,3; relevance order 3,2,1,0.
        let combined = vec![(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6)];
        let rel = [0.1, 0.2, 0.3, 0.4];
        let ids = |v: Vec<(usize, f64)>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(
            ids(interleave(combined.clone(), &rel, &f, 0.0)),
            [0, 1, 2, 3]
        );
        assert_eq!(
            ids(interleave(combined.clone(), &rel, &f, 0.5)),
            [0, 3, 1, 2]
        );
        assert_eq!(
            ids(interleave(combined.clone(), &rel, &f, 1.0)),
            [3, 2, 1, 0]
        );
        assert_eq!(ids(interleave(combined, &rel, &f, 0.25)), [0, 1, 2, 3]);
    }

    #[test]
    fn open_files_stay_first() {
        let f = files(3);
        let combined = vec![(0, 10.5), (1, 0.8), (2, 0.7)];
        let rel = [0.0, 0.1, 0.9];
        let got: Vec<usize> = interleave(combined, &rel, &f, 1.0)
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(got, [0, 2, 1]);
    }
}
