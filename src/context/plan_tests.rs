//! The planner's invariants: never over budget (property test over arbitrary files, budgets and
//! features), truncation of large files, open files first, LRU membership, reasons.

use proptest::prelude::*;

use super::*;

fn cand(path: &str, content: &str, modified: Option<i64>, accesses: u64) -> Candidate {
    Candidate::new(
        path,
        content,
        estimate_tokens(content.chars().count() as u64),
        modified,
        accesses,
    )
}

fn input<'a>(feature: &'a str, budget: u64, open: &'a [String]) -> PlanInput<'a> {
    PlanInput {
        feature,
        budget_tokens: budget,
        context_window: LAYOUT_WINDOW,
        open_files: open,
        lru_size: 2,
        max_file_tokens: None,
        mix: None,
        history: &[],
        past_doc: None,
    }
}

const WORDS: &[&str] = &[
    "parse", "header", "router", "session", "token", "budget", "cache", "retry", "metric", "file",
];

fn arb_file() -> impl Strategy<Value = (String, String, Option<i64>, u64)> {
    (
        "[a-z]{1,8}(/[a-z]{1,8}){0,2}\\.(rs|py|ts|md)",
        prop::collection::vec((0..WORDS.len(), 0..3usize), 0..400),
        prop::option::of(0i64..1_000),
        0u64..50,
    )
        .prop_map(|(path, words, modified, accesses)| {
            let mut content = String::new();
            for (w, sep) in words {
                content.push_str(WORDS[w]);
                content.push_str(["_x ", "\n", "\n\n"][sep]);
            }
            (path, content, modified, accesses)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn never_over_budget(
        files in prop::collection::vec(arb_file(), 0..30),
        budget in 0u64..20_000,
        feature in "[a-z ]{0,200}",
        max_file in prop::option::of(0u64..5_000),
        open_count in 0usize..3,
    ) {
        let files: Vec<Candidate> = files
            .iter()
            .map(|(p, c, m, a)| cand(p, c, *m, *a))
            .collect();
        let open: Vec<String> = files.iter().take(open_count).map(|f| f.path.clone()).collect();
        let mut inp = input(&feature, budget, &open);
        inp.max_file_tokens = max_file;
        let p = plan(&inp, &files);
        prop_assert!(p.segments.total <= budget, "{} > {budget}", p.segments.total);
        let files_sum: u64 = p.files.iter().map(|f| f.tokens).sum();
        prop_assert_eq!(files_sum, p.segments.files);
        prop_assert_eq!(p.segments.system + p.segments.feature + files_sum, p.segments.total);
        for f in &p.files {
            prop_assert!(f.tokens <= f.file_tokens);
            prop_assert_eq!(f.ranges.is_none(), f.tokens == f.file_tokens);
        }
    }
}

#[test]
fn the_default_budget_is_the_prd_layout() {
    assert_eq!(default_budget(200_000), 77_000);
    assert_eq!(default_budget(1_000_000), 385_000);
}

#[test]
fn large_relevant_files_are_cut_to_their_relevant_sections() {
    let mut big = String::from("//! Module doc.\nuse std::io;\n\n");
    for i in 0..200 {
        big.push_str(&format!("fn unrelated_{i}() {{\n    noise_{i}();\n}}\n\n"));
    }
    big.push_str("fn parse_header() {\n    header_value();\n}\n\n");
    for i in 200..400 {
        big.push_str(&format!("fn unrelated_{i}() {{\n    noise_{i}();\n}}\n\n"));
    }
    let files = vec![
        cand("src/http.rs", &big, Some(1), 0),
        cand("src/header.rs", "fn parse_header() {}", Some(2), 0),
    ];
    let mut inp = input("parse the header", 4_000, &[]);
    inp.max_file_tokens = Some(800);
    let p = plan(&inp, &files);
    let http = p
        .files
        .iter()
        .find(|f| f.path == "src/http.rs")
        .expect("http.rs planned");
    let ranges = http.ranges.as_ref().expect("truncated");
    assert!(http.tokens <= 800 && http.file_tokens > 800);
    assert_eq!(ranges[0].start, 1, "head kept");
    let lines: Vec<&str> = big.lines().collect();
    let kept: Vec<&str> = ranges
        .iter()
        .flat_map(|r| lines[r.start - 1..r.end].to_vec())
        .collect();
    assert!(kept.contains(&"fn parse_header() {"), "{ranges:?}");
    assert!(p.files.iter().any(|f| f.path == "src/header.rs"));
}

#[test]
fn open_files_come_first_and_hot_files_are_flagged() {
    let files = vec![
        cand("src/a.rs", "fn alpha() {}", Some(1), 9),
        cand("src/b.rs", "fn beta() {}", Some(2), 5),
        cand("src/c.rs", "fn gamma() {}", Some(3), 1),
    ];
    let open = vec!["src/c.rs".to_string()];
    let p = plan(&input("alpha", 10_000, &open), &files);
    assert_eq!(p.files[0].path, "src/c.rs");
    assert!(p.files[0].reasons.contains(&Reason::Open));
    assert_eq!(p.lru, ["src/a.rs", "src/b.rs"], "top 2 by accesses");
    let a = p.files.iter().find(|f| f.path == "src/a.rs").unwrap();
    assert!(a.reasons.contains(&Reason::Hot) && a.reasons.contains(&Reason::RelevantToFeature));
    assert_eq!(
        p.segments.cached_files,
        a.tokens
            + p.files
                .iter()
                .find(|f| f.path == "src/b.rs")
                .map_or(0, |f| f.tokens)
    );
}

#[test]
fn a_budget_below_the_system_prompt_plans_nothing() {
    let files = vec![cand("src/a.rs", "fn alpha() {}", Some(1), 1)];
    let p = plan(&input("alpha", 1_500, &[]), &files);
    assert!(p.files.is_empty());
    assert_eq!(p.segments.total, 1_500);
}

/// With a history the mix is calibrated (and reported), and the budget still holds.
#[test]
fn a_calibrated_plan_stays_within_budget() {
    use crate::context::history::{Change, Commit};
    let files: Vec<Candidate> = (0..30)
        .map(|i| {
            let body = format!("fn item{i}() {{\n    helper{i}();\n}}\n").repeat(40);
            cand(&format!("src/m{i}.rs"), &body, Some(i), i as u64 % 4)
        })
        .collect();
    let history: Vec<Commit> = (0..25)
        .map(|k| Commit {
            id: format!("c{k}"),
            time: 1_000 - k,
            subject_and_body: format!("change item{}", k % 30),
            changes: vec![Change {
                status: 'M',
                path: format!("src/m{}.rs", k % 30),
            }],
        })
        .collect();
    let mut i = input("item3 helper", 8_000, &[]);
    i.history = &history;
    let p = plan(&i, &files);
    let c = p.calibration.expect("calibrated");
    assert_eq!(c.commits, crate::context::calibrate::CALIBRATION_COMMITS);
    assert!(p.segments.total <= 8_000);
    assert_eq!(p.files[0].path, "src/m3.rs");
}
