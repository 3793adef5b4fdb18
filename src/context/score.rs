//! The scorer's parts, each a pure function over the candidate files giving values in 0..=1:
//! relevance (BM25 normalised by the best match), recency (by rank of the last modification),
//! access frequency (log-scaled), and import links to the best-scoring files.

use super::Candidate;
use super::bm25::Bm25;

/// Weights of the combined score. The defaults were set on this repository's own history
/// (see docs/context.md for the method), not on the repositories the eval reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Weights {
    pub bm25: f64,
    pub recency: f64,
    pub frequency: f64,
    /// Share of a linked top file's score that its imports/importers receive.
    pub imports: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            bm25: 0.7,
            recency: 0.15,
            frequency: 0.15,
            imports: 0.35,
        }
    }
}

impl Weights {
    pub fn only_bm25() -> Self {
        Self {
            bm25: 1.0,
            recency: 0.0,
            frequency: 0.0,
            imports: 0.0,
        }
    }
    pub fn only_recency() -> Self {
        Self {
            bm25: 0.0,
            recency: 1.0,
            frequency: 0.0,
            imports: 0.0,
        }
    }
    pub fn only_frequency() -> Self {
        Self {
            bm25: 0.0,
            recency: 0.0,
            frequency: 1.0,
            imports: 0.0,
        }
    }
}

/// BM25 of the feature's terms, divided by the best file's score.
pub fn relevance(bm25: &Bm25, query: &[String]) -> Vec<f64> {
    normalise_max(bm25.scores(query))
}

/// Rank-based recency: the most recently modified file 1, the 10th 0.5, and so on as
/// `k / (k + rank)`; files with no known modification time 0. Rank rather than age, so a
/// repository's pace does not matter.
pub fn recency(files: &[Candidate]) -> Vec<f64> {
    const K: f64 = 10.0;
    let mut order: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].last_modified.is_some())
        .collect();
    order.sort_by(|&a, &b| files[b].last_modified.cmp(&files[a].last_modified));
    let mut out = vec![0.0; files.len()];
    let mut rank = 0usize;
    for (pos, &i) in order.iter().enumerate() {
        // Files changed together share a rank.
        if pos > 0 && files[order[pos - 1]].last_modified != files[i].last_modified {
            rank = pos;
        }
        out[i] = K / (K + rank as f64);
    }
    out
}

/// `ln(1 + accesses) / ln(1 + most accesses)`.
pub fn frequency(files: &[Candidate]) -> Vec<f64> {
    let max = files.iter().map(|f| f.access_count).max().unwrap_or(0);
    if max == 0 {
        return vec![0.0; files.len()];
    }
    let denom = (1.0 + max as f64).ln();
    files
        .iter()
        .map(|f| (1.0 + f.access_count as f64).ln() / denom)
        .collect()
}

/// For each file, the best `base` score among the top `top` files it imports or is imported
/// by, and which one.
pub fn import_neighbours(
    base: &[f64],
    links: &[Vec<usize>],
    top: usize,
) -> Vec<Option<(usize, f64)>> {
    let mut order: Vec<usize> = (0..base.len()).filter(|&i| base[i] > 0.0).collect();
    order.sort_by(|&a, &b| base[b].total_cmp(&base[a]));
    order.truncate(top);
    let mut out: Vec<Option<(usize, f64)>> = vec![None; base.len()];
    let mut offer = |to: usize, from: usize| {
        if to != from && out[to].is_none_or(|(_, s)| base[from] > s) {
            out[to] = Some((from, base[from]));
        }
    };
    for &i in &order {
        for &j in &links[i] {
            offer(j, i);
        }
    }
    for (j, imported) in links.iter().enumerate() {
        for &i in imported {
            if order.contains(&i) {
                offer(j, i);
            }
        }
    }
    out
}

/// For each file, the strongest co-change with one of the top `top` files: over the change
/// sets (files of one past commit) that contain that top file, the share that also contain this
/// file, times the top file's score. Files that change together tend to change together again.
pub fn co_change_neighbours(
    base: &[f64],
    paths: &[&str],
    change_sets: &[Vec<String>],
    top: usize,
) -> Vec<Option<(usize, f64)>> {
    let mut out: Vec<Option<(usize, f64)>> = vec![None; base.len()];
    if change_sets.is_empty() {
        return out;
    }
    let index: std::collections::HashMap<&str, usize> =
        paths.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut order: Vec<usize> = (0..base.len()).filter(|&i| base[i] > 0.0).collect();
    order.sort_by(|&a, &b| base[b].total_cmp(&base[a]));
    order.truncate(top);
    for &i in &order {
        let mut together: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
        let mut sets = 0u32;
        for set in change_sets
            .iter()
            .filter(|s| s.iter().any(|p| p == paths[i]))
        {
            sets += 1;
            for j in set.iter().filter_map(|p| index.get(p.as_str())) {
                if *j != i {
                    *together.entry(*j).or_default() += 1;
                }
            }
        }
        for (j, n) in together {
            let s = base[i] * f64::from(n) / f64::from(sets);
            if out[j].is_none_or(|(_, old)| s > old) {
                out[j] = Some((i, s));
            }
        }
    }
    out
}

fn normalise_max(v: Vec<f64>) -> Vec<f64> {
    let max = v.iter().copied().fold(0.0, f64::max);
    if max <= 0.0 {
        return vec![0.0; v.len()];
    }
    v.into_iter().map(|x| x / max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(path: &str, modified: Option<i64>, accesses: u64) -> Candidate {
        Candidate::new(path, "", 10, modified, accesses)
    }

    #[test]
    fn recency_by_rank_with_ties() {
        let files = [
            cand("a", Some(5), 0),
            cand("b", Some(9), 0),
            cand("c", Some(9), 0),
            cand("d", None, 0),
        ];
        let r = recency(&files);
        assert_eq!(r[1], 1.0);
        assert_eq!(r[2], 1.0);
        assert!((r[0] - 10.0 / 12.0).abs() < 1e-9);
        assert_eq!(r[3], 0.0);
    }

    #[test]
    fn frequency_is_log_scaled() {
        let files = [cand("a", None, 0), cand("b", None, 3), cand("c", None, 15)];
        let f = frequency(&files);
        assert_eq!(f[0], 0.0);
        assert_eq!(f[2], 1.0);
        assert!((f[1] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn co_changes_of_top_files() {
        let base = [0.8, 0.0, 0.0, 0.1];
        let paths = ["a", "b", "c", "d"];
        let sets = vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["a".to_string(), "b".to_string(), "c".to_string()],
            vec!["a".to_string()],
            vec!["c".to_string(), "d".to_string()],
        ];
        let n = co_change_neighbours(&base, &paths, &sets, 1);
        assert_eq!(n[1], Some((0, 0.8 * 2.0 / 3.0)));
        assert_eq!(n[2], Some((0, 0.8 / 3.0)));
        assert_eq!(n[3], None, "d's partner c is not a top file");
    }

    #[test]
    fn neighbours_of_top_files_only() {
        let base = [0.9, 0.0, 0.1, 0.0];
        // 0 imports 1; 3 imports 2 (2 is not in the top 1).
        let links = vec![vec![1], vec![], vec![], vec![2]];
        let n = import_neighbours(&base, &links, 1);
        assert_eq!(n[1], Some((0, 0.9)));
        assert_eq!(n[3], None);
        assert_eq!(n[0], None);
    }
}
