//! Smart truncation: a file too large for its share of the budget keeps its head (imports,
//! module docs) and the blocks that mention the feature's terms, instead of only its first lines.
//! Blocks end at blank lines, so functions and items tend to stay whole.

use serde::Serialize;
use utoipa::ToSchema;

use crate::indexer::count::estimate_tokens;

/// Lines `start..=end`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineRange {
    pub start: usize,
    pub end: usize,
}

/// What to keep of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Truncation {
    pub ranges: Vec<LineRange>,
    pub tokens: u64,
}

const MIN_BLOCK_LINES: usize = 6;
const MAX_BLOCK_LINES: usize = 60;

struct Block {
    start: usize,
    end: usize,
    tokens: u64,
    score: f64,
}

/// Keeps at most `cap` tokens of `content`: the first block, then the blocks with the highest
/// `weight` of the terms they contain (each distinct term once per block), in file order.
pub fn truncate(content: &str, cap: u64, weight: &dyn Fn(&str) -> f64) -> Truncation {
    let lines: Vec<&str> = content.lines().collect();
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut chars = 0u64;
    for (i, line) in lines.iter().enumerate() {
        chars += line.chars().count() as u64 + 1;
        let len = i + 1 - start;
        // The head (imports, module docs) ends at the first blank line, however short.
        let min_len = if blocks.is_empty() {
            1
        } else {
            MIN_BLOCK_LINES
        };
        let at_gap = line.trim().is_empty() && len >= min_len;
        if at_gap || len >= MAX_BLOCK_LINES || i + 1 == lines.len() {
            let text = lines[start..=i].join("\n");
            let mut seen = std::collections::HashSet::new();
            let score = super::terms::terms(&text)
                .into_iter()
                .filter(|t| seen.insert(t.clone()))
                .map(|t| weight(&t))
                .sum();
            blocks.push(Block {
                start: start + 1,
                end: i + 1,
                tokens: estimate_tokens(chars),
                score,
            });
            start = i + 1;
            chars = 0;
        }
    }
    let mut keep = vec![false; blocks.len()];
    let mut used = 0u64;
    if let Some(head) = blocks.first()
        && head.tokens <= cap / 4
    {
        keep[0] = true;
        used = head.tokens;
    }
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by(|&a, &b| blocks[b].score.total_cmp(&blocks[a].score).then(a.cmp(&b)));
    for i in order {
        if !keep[i] && used + blocks[i].tokens <= cap {
            keep[i] = true;
            used += blocks[i].tokens;
        }
    }
    let mut ranges: Vec<LineRange> = Vec::new();
    for (b, _) in blocks.iter().zip(&keep).filter(|(_, k)| **k) {
        match ranges.last_mut() {
            Some(last) if last.end + 1 == b.start => last.end = b.end,
            _ => ranges.push(LineRange {
                start: b.start,
                end: b.end,
            }),
        }
    }
    Truncation {
        ranges,
        tokens: used,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> String {
        let mut s = String::from("use std::io;\nuse crate::store;\n\n");
        for name in ["alpha", "beta", "parse_header", "gamma", "delta"] {
            s.push_str(&format!("fn {name}() {{\n"));
            for i in 0..20 {
                s.push_str(&format!("    let step_{i} = {name}_{i}(value);\n"));
            }
            s.push_str("}\n\n");
        }
        s
    }

    #[test]
    fn keeps_the_head_and_the_relevant_function() {
        let content = file();
        let full = estimate_tokens(content.chars().count() as u64);
        let w = |t: &str| if t == "header" { 5.0 } else { 0.0 };
        let cut = truncate(&content, full / 3, &w);
        assert!(cut.tokens <= full / 3);
        assert_eq!(cut.ranges[0].start, 1, "head kept");
        let kept: String = cut
            .ranges
            .iter()
            .map(|r| content.lines().collect::<Vec<_>>()[r.start - 1..r.end].join("\n"))
            .collect();
        assert!(kept.contains("fn parse_header()"), "{:?}", cut.ranges);
        assert!(!kept.contains("fn delta()"), "irrelevant tail dropped");
    }

    #[test]
    fn never_over_the_cap() {
        let content = file();
        for cap in [0, 1, 10, 50, 200, 10_000] {
            let cut = truncate(&content, cap, &|_| 1.0);
            assert!(cut.tokens <= cap, "{cap}: {}", cut.tokens);
            assert_eq!(cut.ranges.is_empty(), cut.tokens == 0);
        }
    }
}
