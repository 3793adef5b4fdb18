//! The scripted series of sessions for two targets, and what the analysis must make of it:
//! stored either as rows (the shape src/store/test_runs.rs writes) or as OTLP spans through the
//! real ingest path; plus readers that reduce REST answers and /metrics to comparable values.

use std::borrow::Cow;

use acd_collector::domain::session_uuid;
use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::common::spans;

pub const ALPHA: Uuid = Uuid::from_u128(0xa1);
/// Has no name: its metric label is its id.
pub const BETA: Uuid = Uuid::from_u128(0xb2);
pub const CLASSNAME: &str = "pkg.suite";

/// One session: its target, start (hours after [`spans::t0`]), revision and test cases (`P`
/// passed, `F` failed, `E` error, `S` skipped; `PF` = the test ran twice, passed then failed).
/// No cases: a session without a test run.
pub struct Step {
    pub key: &'static str,
    pub target: Uuid,
    pub hour: u64,
    pub revision: &'static str,
    pub cases: &'static [(&'static str, &'static str)],
}

/// Reading per test (alpha; flip rule over the last 5 sessions that ran it unless said):
/// - flip: P P P P F P → flip; rerun: passed and failed at a5 → same_revision, and P P P F P → flip;
/// - error: P E P → flip (an error is a failure); cross: F at r34 (a3), P at r34 (a4) →
///   same_revision; oldflip: P F P P P P → one change in the last 5, a flip over 6;
/// - skip: P F S F → a skipped test did not run, so one change only; broken: P P P P F F;
/// - shared: passes at r34 in alpha, fails at r34 in beta: other targets, not flaky.
///
/// Beta: b_same passed then failed at rb → same_revision; b5 is exactly 10 points below b4.
#[rustfmt::skip]
pub const SERIES: &[Step] = &[
    Step { key: "a1", target: ALPHA, hour: 0, revision: "a1", cases: &[
        ("stable", "P"), ("flip", "P"), ("rerun", "P"), ("broken", "P"), ("oldflip", "P"), ("skip", "P")] },
    Step { key: "b1", target: BETA, hour: 1, revision: "rb", cases: &[
        ("stable", "P"), ("flip", "P"), ("b_same", "P"), ("b_fix", "F")] },
    Step { key: "a2", target: ALPHA, hour: 2, revision: "a2", cases: &[
        ("stable", "P"), ("flip", "P"), ("rerun", "P"), ("broken", "P"), ("oldflip", "F"), ("skip", "F")] },
    Step { key: "b2", target: BETA, hour: 3, revision: "rb", cases: &[
        ("stable", "P"), ("flip", "P"), ("b_same", "F"), ("b_fix", "F")] },
    Step { key: "a3", target: ALPHA, hour: 4, revision: "r34", cases: &[
        ("stable", "P"), ("flip", "P"), ("rerun", "P"), ("broken", "P"), ("oldflip", "P"), ("skip", "S"),
        ("cross", "F"), ("shared", "P")] },
    Step { key: "b3", target: BETA, hour: 5, revision: "r34", cases: &[
        ("stable", "P"), ("flip", "P"), ("b_fix", "P"), ("shared", "F")] },
    Step { key: "a4", target: ALPHA, hour: 6, revision: "r34", cases: &[
        ("stable", "P"), ("flip", "P"), ("rerun", "P"), ("broken", "P"), ("oldflip", "P"), ("skip", "F"),
        ("cross", "P"), ("error", "P")] },
    Step { key: "a_notest", target: ALPHA, hour: 7, revision: "a4b", cases: &[] },
    Step { key: "b4", target: BETA, hour: 8, revision: "b4", cases: &[
        ("stable", "P"), ("flip", "P"), ("b_fix", "P")] },
    Step { key: "a5", target: ALPHA, hour: 9, revision: "a5", cases: &[
        ("stable", "P"), ("flip", "F"), ("rerun", "PF"), ("broken", "F"), ("oldflip", "P"), ("error", "E")] },
    Step { key: "b5", target: BETA, hour: 10, revision: "b5", cases: &[
        ("stable", "P"), ("flip", "P"), ("b_fix", "P"), ("f1", "P"), ("f2", "P"), ("f3", "P"), ("f4", "P"),
        ("f5", "P"), ("f6", "P"), ("b_new", "F")] },
    Step { key: "a_allskip", target: ALPHA, hour: 11, revision: "a5b", cases: &[("stable", "S")] },
    Step { key: "a6", target: ALPHA, hour: 12, revision: "a6", cases: &[
        ("stable", "P"), ("flip", "P"), ("rerun", "P"), ("broken", "F"), ("oldflip", "P"), ("error", "P")] },
];

/// `(target, test name, rules, revisions, number of recent outcomes)`.
pub type FlakySummary = (String, String, Vec<String>, Vec<String>, usize);
/// `(session key, previous session key, drop in points, newly failing test names)`.
pub type RegressionSummary = (String, String, f64, Vec<String>);

pub fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The flaky tests of the series (window 5), ordered by target id (alpha's is smaller), name.
pub fn expected_flaky() -> Vec<FlakySummary> {
    let (a, b) = (ALPHA.to_string(), BETA.to_string());
    vec![
        (
            a.clone(),
            "cross".into(),
            s(&["same_revision"]),
            s(&["r34"]),
            0,
        ),
        (a.clone(), "error".into(), s(&["flip"]), vec![], 3),
        (a.clone(), "flip".into(), s(&["flip"]), vec![], 5),
        (
            a,
            "rerun".into(),
            s(&["same_revision", "flip"]),
            s(&["a5"]),
            5,
        ),
        (b, "b_same".into(), s(&["same_revision"]), s(&["rb"]), 0),
    ]
}

/// The regressions of the series at the default 10 points, newest first. a5 is compared with
/// a4 (a_notest ran no tests); b5 fell exactly 10 points, which is not more than 10.
pub fn expected_regressions() -> Vec<RegressionSummary> {
    vec![
        regression("a5", "a4", 44.64, &["broken", "error", "flip", "rerun"]),
        regression("b2", "b1", 25.0, &["b_same"]),
        regression("a2", "a1", 33.33, &["oldflip", "skip"]),
    ]
}

pub fn regression(key: &str, prev: &str, points: f64, newly: &[&str]) -> RegressionSummary {
    (key.into(), prev.into(), points, s(newly))
}

/// The session id of a step (as ingest derives it from `gen_ai.conversation.id`).
pub fn session_id(key: &str) -> Uuid {
    session_uuid(key)
}

fn statuses(step: &Step) -> Vec<(&'static str, &'static str)> {
    step.cases
        .iter()
        .flat_map(|(name, codes)| {
            codes.chars().map(move |c| {
                let status = match c {
                    'P' => "passed",
                    'F' => "failed",
                    'E' => "error",
                    _ => "skipped",
                };
                (*name, status)
            })
        })
        .collect()
}

pub async fn seed_targets(pool: &PgPool) {
    sqlx::query("INSERT INTO targets (id, name) VALUES ($1, 'alpha'), ($2, NULL)")
        .bind(ALPHA)
        .bind(BETA)
        .execute(pool)
        .await
        .unwrap();
}

/// Stores one step as rows, as ingest would (src/store/test_runs.rs): the session with its
/// rolled-up counts (tests_run = total, tests_failed = failed + errors, pass rate = passed /
/// (total − skipped)), one test run, and its cases.
pub async fn seed(pool: &PgPool, step: &Step) {
    let id = session_id(step.key);
    let started = chrono::DateTime::<chrono::Utc>::from(spans::at(step.hour * 3_600_000));
    let cases = statuses(step);
    let count = |s: &str| cases.iter().filter(|(_, c)| *c == s).count() as i32;
    let (passed, failed, errors) = (count("passed"), count("failed"), count("error"));
    let (skipped, ran) = (count("skipped"), passed + failed + errors);
    sqlx::query(
        "INSERT INTO harness_sessions (id, external_id, target_id, status, started_at, ended_at,
             vcs_revision, tests_run, tests_passed, tests_failed, test_pass_rate)
         VALUES ($1, $2, $3, 'completed', $4, $4 + interval '30 minutes', $5, $6, $7, $8,
                 CASE WHEN $9 > 0 THEN round($7::numeric / $9, 4) END)",
    )
    .bind(id)
    .bind(step.key)
    .bind(step.target)
    .bind(started)
    .bind(step.revision)
    .bind(ran + skipped)
    .bind(passed)
    .bind(failed + errors)
    .bind(ran)
    .execute(pool)
    .await
    .unwrap();
    if cases.is_empty() {
        return;
    }
    let run = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO session_test_runs (id, session_id, test_suite, total_tests, passed, failed,
             skipped, errors, source, vcs_revision, started_at, content_sha256)
         VALUES ($1, $2, 'suite', $3, $4, $5, $6, $7, 'junit', $8, $9, $10)",
    )
    .bind(run)
    .bind(id)
    .bind(cases.len() as i32)
    .bind(passed)
    .bind(failed)
    .bind(skipped)
    .bind(errors)
    .bind(step.revision)
    .bind(started)
    .bind(run.as_bytes().to_vec())
    .execute(pool)
    .await
    .unwrap();
    for (ordinal, (name, status)) in cases.iter().enumerate() {
        sqlx::query(
            "INSERT INTO session_test_cases (id, test_run_id, session_id, ordinal, classname,
                 name, status, ran_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(Uuid::new_v4())
        .bind(run)
        .bind(id)
        .bind(ordinal as i32)
        .bind(CLASSNAME)
        .bind(name)
        .bind(status)
        .bind(started)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// `SpanEvents` is non-exhaustive: start from its default and fill in the public field.
fn span_events(events: Vec<Event>) -> SpanEvents {
    let mut out = SpanEvents::default();
    out.events = events;
    out
}

fn span_data(
    trace: u128,
    (id, parent): (u64, u64),
    name: &'static str,
    (start, end): (u64, u64),
    attributes: Vec<KeyValue>,
    events: Vec<Event>,
) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: if parent == 0 {
            SpanId::INVALID
        } else {
            SpanId::from(parent)
        },
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed(name),
        start_time: spans::at(start),
        end_time: spans::at(end),
        attributes,
        dropped_attributes_count: 0,
        events: span_events(events),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("acd-test-harness").build(),
    }
}

/// One step as a harness sends it (docs/semantic-conventions.md): a session span naming the
/// target, and, when tests ran, an `acd.test_run` child span with one `acd.test.case` event per
/// test case and the revision in `acd.vcs.revision`.
pub fn step_spans(n: usize, step: &Step) -> Vec<SpanData> {
    let trace = 0x7e57_0000 + n as u128;
    let start = step.hour * 3_600_000;
    let mut session = vec![
        KeyValue::new("gen_ai.operation.name", "invoke_agent"),
        KeyValue::new("gen_ai.conversation.id", step.key),
        KeyValue::new("acd.target.id", step.target.to_string()),
    ];
    if step.target == ALPHA {
        session.push(KeyValue::new("acd.target.name", "alpha"));
    }
    let mut out = vec![span_data(
        trace,
        (1, 0),
        "invoke_agent harness",
        (start, start + 1_800_000),
        session,
        vec![],
    )];
    let cases = statuses(step);
    if cases.is_empty() {
        return out;
    }
    let events = cases
        .iter()
        .map(|(name, status)| {
            let attributes = vec![
                KeyValue::new("acd.test.case.name", *name),
                KeyValue::new("acd.test.case.classname", CLASSNAME),
                KeyValue::new("acd.test.case.status", *status),
            ];
            Event::new("acd.test.case", spans::at(start + 60_000), attributes, 0)
        })
        .collect();
    let run = vec![
        KeyValue::new("acd.test.suite", "suite"),
        KeyValue::new("acd.vcs.revision", step.revision),
    ];
    out.push(span_data(
        trace,
        (2, 1),
        "acd.test_run",
        (start + 60_000, start + 120_000),
        run,
        events,
    ));
    out
}

/// Reduces `GET /api/db/tests/flaky` to [`FlakySummary`]s.
pub fn flaky_summary(body: &Value) -> Vec<FlakySummary> {
    let strings = |v: &Value| -> Vec<String> {
        let items = v.as_array().unwrap().iter();
        items.map(|s| s.as_str().unwrap().to_string()).collect()
    };
    let tests = body["flaky"].as_array();
    let tests = tests.unwrap_or_else(|| panic!("no flaky list: {body}"));
    tests
        .iter()
        .map(|t| {
            assert_eq!(t["classname"], CLASSNAME);
            (
                t["target_id"].as_str().unwrap().to_string(),
                t["name"].as_str().unwrap().to_string(),
                strings(&t["rules"]),
                strings(&t["revisions"]),
                t["recent_outcomes"].as_array().unwrap().len(),
            )
        })
        .collect()
}

/// The step key of a session id in a REST answer.
pub fn key_of(id: &Value) -> String {
    SERIES
        .iter()
        .find(|s| session_id(s.key).to_string() == id.as_str().unwrap())
        .map(|s| s.key.to_string())
        .unwrap_or_else(|| panic!("unknown session {id}"))
}

/// Reduces `GET /api/db/tests/regressions` to [`RegressionSummary`]s (points to 2 decimals).
pub fn regression_summary(body: &Value) -> Vec<RegressionSummary> {
    let list = body["regressions"].as_array();
    let list = list.unwrap_or_else(|| panic!("no regressions: {body}"));
    list.iter()
        .map(|r| {
            let newly = r["newly_failing"].as_array().unwrap().iter();
            let newly = newly
                .map(|t| {
                    assert_eq!(t["classname"], CLASSNAME);
                    t["name"].as_str().unwrap().to_string()
                })
                .collect();
            let points = (r["drop_points"].as_f64().unwrap() * 100.0).round() / 100.0;
            let previous = key_of(&r["previous_session_id"]);
            (key_of(&r["session_id"]), previous, points, newly)
        })
        .collect()
}

/// The one sample of `name` with these labels in a Prometheus exposition.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    let values: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) => v,
            _ => panic!("{name} is not a counter or gauge"),
        })
        .collect();
    assert_eq!(values.len(), 1, "{name}{labels:?} in\n{text}");
    values[0]
}

/// The gauges after the whole series, and the regression counters of (alpha, beta).
pub fn expect_gauges(text: &str, regressions: (f64, f64)) {
    let beta = BETA.to_string();
    for (labels, rate, delta, flaky, regressions) in [
        ([("target", "alpha")], 0.8333, 0.4047, 4.0, regressions.0),
        ([("target", beta.as_str())], 0.9, -0.1, 1.0, regressions.1),
    ] {
        assert_eq!(sample(text, "acd_test_pass_rate", &labels), rate);
        assert_eq!(sample(text, "acd_test_pass_rate_delta", &labels), delta);
        assert_eq!(sample(text, "acd_flaky_tests", &labels), flaky);
        let counted = sample(text, "acd_test_regressions_total", &labels);
        assert_eq!(counted, regressions, "{labels:?}");
    }
}
