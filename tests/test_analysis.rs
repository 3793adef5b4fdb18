//! Flaky tests, regressions and the test history: a scripted series of sessions for two targets
//! must produce exactly the expected flaky tests (each rule) and regressions (with the newly
//! failing tests), and nothing else; the test gauges and regression counter follow it, survive a
//! restart, and count a resent state once. Test results are seeded as rows, the shape the ingest
//! path stores (migrations/0008_test_cases.sql).

mod common;

use acd_collector::app::{Settings, refresh_test_gauges, spawn};
use acd_collector::config::TestAnalysis;
use acd_collector::store::Store;
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const ALPHA: Uuid = Uuid::from_u128(0xa1);
/// Has no name: its metric label is its id.
const BETA: Uuid = Uuid::from_u128(0xb2);

/// One session of the series: its target, start (hours after T0), revision and test cases
/// (`P` passed, `F` failed, `E` error, `S` skipped; `PF` = the test ran twice, passed then
/// failed). No cases: a session without a test run.
struct Step {
    key: &'static str,
    target: Uuid,
    hour: i64,
    revision: &'static str,
    cases: &'static [(&'static str, &'static str)],
}

/// Reading per test (alpha, last 5 sessions that ran it unless said):
/// - flip: P P P P F P → flip; rerun: passed and failed at a5 → same_revision, and P P P F P → flip;
/// - error: P E P → flip (an error is a failure); cross: F at a3, P at a4, both revision r34 →
///   same_revision; oldflip: P F P P P P → one change in the last 5, a flip over 6;
/// - skip: P F S F → skipped does not count as passing, so one change only; broken: P…P F F;
/// - shared: passes at r34 in alpha, fails at r34 in beta: different targets, not flaky.
const SERIES: &[Step] = &[
    Step {
        key: "a1",
        target: ALPHA,
        hour: 0,
        revision: "a1",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("rerun", "P"),
            ("broken", "P"),
            ("oldflip", "P"),
            ("skip", "P"),
        ],
    },
    Step {
        key: "b1",
        target: BETA,
        hour: 1,
        revision: "rb",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("b_same", "P"),
            ("b_fix", "F"),
        ],
    },
    Step {
        key: "a2",
        target: ALPHA,
        hour: 2,
        revision: "a2",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("rerun", "P"),
            ("broken", "P"),
            ("oldflip", "F"),
            ("skip", "F"),
        ],
    },
    Step {
        key: "b2",
        target: BETA,
        hour: 3,
        revision: "rb",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("b_same", "F"),
            ("b_fix", "F"),
        ],
    },
    Step {
        key: "a3",
        target: ALPHA,
        hour: 4,
        revision: "r34",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("rerun", "P"),
            ("broken", "P"),
            ("oldflip", "P"),
            ("skip", "S"),
            ("cross", "F"),
            ("shared", "P"),
        ],
    },
    Step {
        key: "b3",
        target: BETA,
        hour: 5,
        revision: "r34",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("b_fix", "P"),
            ("shared", "F"),
        ],
    },
    Step {
        key: "a4",
        target: ALPHA,
        hour: 6,
        revision: "r34",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("rerun", "P"),
            ("broken", "P"),
            ("oldflip", "P"),
            ("skip", "F"),
            ("cross", "P"),
            ("error", "P"),
        ],
    },
    Step {
        key: "a_notest",
        target: ALPHA,
        hour: 7,
        revision: "a4b",
        cases: &[],
    },
    Step {
        key: "b4",
        target: BETA,
        hour: 8,
        revision: "b4",
        cases: &[("stable", "P"), ("flip", "P"), ("b_fix", "P")],
    },
    Step {
        key: "a5",
        target: ALPHA,
        hour: 9,
        revision: "a5",
        cases: &[
            ("stable", "P"),
            ("flip", "F"),
            ("rerun", "PF"),
            ("broken", "F"),
            ("oldflip", "P"),
            ("error", "E"),
        ],
    },
    Step {
        key: "b5",
        target: BETA,
        hour: 10,
        revision: "b5",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("b_fix", "P"),
            ("f1", "P"),
            ("f2", "P"),
            ("f3", "P"),
            ("f4", "P"),
            ("f5", "P"),
            ("f6", "P"),
            ("b_new", "F"),
        ],
    },
    Step {
        key: "a_allskip",
        target: ALPHA,
        hour: 11,
        revision: "a5b",
        cases: &[("stable", "S")],
    },
    Step {
        key: "a6",
        target: ALPHA,
        hour: 12,
        revision: "a6",
        cases: &[
            ("stable", "P"),
            ("flip", "P"),
            ("rerun", "P"),
            ("broken", "F"),
            ("oldflip", "P"),
            ("error", "P"),
        ],
    },
];

const CLASSNAME: &str = "pkg.suite";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

/// A session id per step key, stable across the test.
fn session_id(key: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes())
}

async fn seed_targets(pool: &PgPool) {
    sqlx::query("INSERT INTO targets (id, name) VALUES ($1, 'alpha'), ($2, NULL)")
        .bind(ALPHA)
        .bind(BETA)
        .execute(pool)
        .await
        .unwrap();
}

/// Stores one step as ingest would (src/store/test_runs.rs): the session with its rolled-up
/// counts (tests_run = total, tests_failed = failed + errors, pass rate = passed / (total −
/// skipped)), one test run, and its cases.
async fn seed(pool: &PgPool, step: &Step) {
    let id = session_id(step.key);
    let started = t0() + Duration::hours(step.hour);
    let statuses: Vec<(&str, char)> = step
        .cases
        .iter()
        .flat_map(|(name, codes)| codes.chars().map(move |c| (*name, c)))
        .collect();
    let count = |c: char| statuses.iter().filter(|(_, s)| *s == c).count() as i32;
    let (passed, failed, errors, skipped) = (count('P'), count('F'), count('E'), count('S'));
    let ran = passed + failed + errors;
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
    if statuses.is_empty() {
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
    .bind(statuses.len() as i32)
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
    for (ordinal, (name, code)) in statuses.iter().enumerate() {
        let status = match code {
            'P' => "passed",
            'F' => "failed",
            'E' => "error",
            _ => "skipped",
        };
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

async fn seeded_app() -> TestApp {
    let app = TestApp::spawn().await;
    seed_targets(&app.db.pool).await;
    for step in SERIES {
        seed(&app.db.pool, step).await;
    }
    app
}

/// The flaky list reduced to `(target, name, rules, revisions, outcome count)`.
fn flaky_summary(body: &Value) -> Vec<(String, String, Vec<String>, Vec<String>, usize)> {
    body["flaky"]
        .as_array()
        .unwrap_or_else(|| panic!("no flaky list: {body}"))
        .iter()
        .map(|t| {
            assert_eq!(t["classname"], CLASSNAME);
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            };
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

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn the_scripted_series_gives_exactly_the_expected_flaky_tests() {
    let app = seeded_app().await;
    let (a, b) = (ALPHA.to_string(), BETA.to_string());
    // Ordered by target id (alpha's is the smaller), then name.
    let expected = vec![
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
            a.clone(),
            "rerun".into(),
            s(&["same_revision", "flip"]),
            s(&["a5"]),
            5,
        ),
        (
            b.clone(),
            "b_same".into(),
            s(&["same_revision"]),
            s(&["rb"]),
            0,
        ),
    ];
    let (status, body) = app.get("/api/db/tests/flaky").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["window"], 5);
    assert_eq!(flaky_summary(&body), expected);

    // The flip evidence: the last five sessions that ran `flip`, oldest first.
    let flip = &body["flaky"][2]["recent_outcomes"];
    let outcomes: Vec<(&str, &str)> = flip
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["session_id"].as_str().unwrap(),
                o["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let ids: Vec<String> = ["a2", "a3", "a4", "a5", "a6"]
        .iter()
        .map(|k| session_id(k).to_string())
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (ids[0].as_str(), "passed"),
            (ids[1].as_str(), "passed"),
            (ids[2].as_str(), "passed"),
            (ids[3].as_str(), "failed"),
            (ids[4].as_str(), "passed"),
        ]
    );

    // One target only; a wider window also catches the older flip of `oldflip`.
    let (_, body) = app.get(&format!("/api/db/tests/flaky?target_id={b}")).await;
    assert_eq!(flaky_summary(&body), expected[4..].to_vec());
    let (_, body) = app
        .get(&format!("/api/db/tests/flaky?target_id={a}&window=6"))
        .await;
    let mut wider = expected[..4].to_vec();
    wider.insert(3, (a.clone(), "oldflip".into(), s(&["flip"]), vec![], 6));
    wider[2].4 = 6;
    wider[4].4 = 6;
    assert_eq!(flaky_summary(&body), wider);
    app.shutdown().await;
}

/// `(session key, previous key, drop in points, newly failing names)`, newest first.
fn regression_summary(body: &Value) -> Vec<(String, String, f64, Vec<String>)> {
    let key_of = |id: &Value| {
        SERIES
            .iter()
            .find(|s| session_id(s.key).to_string() == id.as_str().unwrap())
            .map(|s| s.key.to_string())
            .unwrap_or_else(|| panic!("unknown session {id}"))
    };
    body["regressions"]
        .as_array()
        .unwrap_or_else(|| panic!("no regressions: {body}"))
        .iter()
        .map(|r| {
            let newly: Vec<String> = r["newly_failing"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    assert_eq!(t["classname"], CLASSNAME);
                    t["name"].as_str().unwrap().to_string()
                })
                .collect();
            let points = (r["drop_points"].as_f64().unwrap() * 100.0).round() / 100.0;
            (
                key_of(&r["session_id"]),
                key_of(&r["previous_session_id"]),
                points,
                newly,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_scripted_series_gives_exactly_the_expected_regressions() {
    let app = seeded_app().await;
    let r = |k: &str, p: &str, pts: f64, newly: &[&str]| (k.into(), p.into(), pts, s(newly));
    // a5 is compared with a4 (a_notest ran no tests); b5 fell exactly 10 points: not more.
    let default = vec![
        r("a5", "a4", 44.64, &["broken", "error", "flip", "rerun"]),
        r("b2", "b1", 25.0, &["b_same"]),
        r("a2", "a1", 33.33, &["oldflip", "skip"]),
    ];
    let (status, body) = app.get("/api/db/tests/regressions").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["threshold_points"], 10.0);
    assert_eq!(regression_summary(&body), default);
    let first = &body["regressions"][0];
    assert_eq!(first["target_id"], ALPHA.to_string());
    assert_eq!(first["target_name"], "alpha");
    assert_eq!(first["pass_rate"], 0.4286);
    assert_eq!(first["previous_pass_rate"], 0.875);

    let (_, body) = app.get("/api/db/tests/regressions?threshold=9.99").await;
    let mut lower = default.clone();
    lower.insert(0, r("b5", "b4", 10.0, &[]));
    assert_eq!(regression_summary(&body), lower);

    let (_, body) = app
        .get(&format!("/api/db/tests/regressions?target_id={BETA}"))
        .await;
    assert_eq!(regression_summary(&body), default[1..2].to_vec());
    let (_, body) = app.get("/api/db/tests/regressions?limit=1").await;
    assert_eq!(regression_summary(&body), default[..1].to_vec());
    app.shutdown().await;
}

#[tokio::test]
async fn history_is_paged_newest_first_with_the_trend() {
    let app = seeded_app().await;
    let page = |offset: usize| format!("/api/db/tests/{ALPHA}?limit=3&offset={offset}");
    let rows = |body: &Value| -> Vec<(String, Value, Value, Value)> {
        body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["external_id"].as_str().unwrap().to_string(),
                    r["pass_rate"].clone(),
                    r["pass_rate_delta"].clone(),
                    r["previous_session_id"].clone(),
                )
            })
            .collect()
    };
    let id = |k: &str| json!(session_id(k).to_string());
    let (status, body) = app.get(&page(0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["target_name"], "alpha");
    // a_notest ran no tests: not listed, and not anyone's previous session.
    assert_eq!(body["total"], 7);
    assert_eq!(
        rows(&body),
        vec![
            ("a6".into(), json!(0.8333), json!(0.4047), id("a5")),
            ("a_allskip".into(), Value::Null, Value::Null, Value::Null),
            ("a5".into(), json!(0.4286), json!(-0.4464), id("a4")),
        ]
    );
    let a6 = &body["sessions"][0];
    assert_eq!(
        (
            a6["tests_run"].clone(),
            a6["tests_passed"].clone(),
            a6["tests_failed"].clone()
        ),
        (json!(6), json!(5), json!(1))
    );
    assert_eq!(a6["test_runs"], 1);
    assert_eq!(a6["vcs_revision"], "a6");
    let (_, body) = app.get(&page(3)).await;
    assert_eq!(
        rows(&body),
        vec![
            ("a4".into(), json!(0.875), json!(0.0179), id("a3")),
            ("a3".into(), json!(0.8571), json!(0.1904), id("a2")),
            ("a2".into(), json!(0.6667), json!(-0.3333), id("a1")),
        ]
    );
    let (_, body) = app.get(&page(6)).await;
    assert_eq!(
        rows(&body),
        vec![("a1".into(), json!(1.0), Value::Null, Value::Null)]
    );

    // A known target without test runs has an empty history.
    let quiet = Uuid::new_v4();
    sqlx::query("INSERT INTO targets (id, name) VALUES ($1, 'quiet')")
        .bind(quiet)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = app.get(&format!("/api/db/tests/{quiet}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["total"].clone(), body["sessions"].clone()),
        (json!(0), json!([]))
    );
    app.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_get_json_400_and_unknown_targets_404() {
    let app = seeded_app().await;
    let unknown = Uuid::new_v4();
    for (path, status) in [
        (format!("/api/db/tests/{unknown}"), 404),
        ("/api/db/tests/not-a-uuid".into(), 400),
        (format!("/api/db/tests/{ALPHA}?limit=0"), 400),
        (format!("/api/db/tests/{ALPHA}?limit=501"), 400),
        (format!("/api/db/tests/{ALPHA}?offset=-1"), 400),
        (format!("/api/db/tests/{ALPHA}?limit=ten"), 400),
        ("/api/db/tests/flaky?window=2".into(), 400),
        ("/api/db/tests/flaky?window=101".into(), 400),
        ("/api/db/tests/flaky?window=-5".into(), 400),
        ("/api/db/tests/flaky?target_id=nope".into(), 400),
        ("/api/db/tests/regressions?threshold=-1".into(), 400),
        ("/api/db/tests/regressions?threshold=100.5".into(), 400),
        ("/api/db/tests/regressions?threshold=NaN".into(), 400),
        ("/api/db/tests/regressions?threshold=ten".into(), 400),
        ("/api/db/tests/regressions?limit=0".into(), 400),
        ("/api/db/tests/regressions?target_id=nope".into(), 400),
    ] {
        let (got, body) = app.get(&path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
    let (_, doc) = app.get("/api/openapi.json").await;
    for path in [
        "/api/db/tests/{repoId}",
        "/api/db/tests/flaky",
        "/api/db/tests/regressions",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} not in OpenAPI"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn gauges_follow_the_series_count_regressions_once_and_survive_a_restart() {
    let app = TestApp::spawn().await;
    seed_targets(&app.db.pool).await;
    let store = Store::new(app.db.pool.clone());
    let metrics = app.app.as_ref().unwrap().metrics.clone();
    let config = TestAnalysis::default();
    let beta = BETA.to_string();
    let alpha = [("target", "alpha")];
    let beta = [("target", beta.as_str())];

    // The first four steps hold one regression of each target (a2, b2).
    for step in &SERIES[..4] {
        seed(&app.db.pool, step).await;
    }
    refresh_test_gauges(&store, &metrics, &config, [ALPHA, BETA])
        .await
        .unwrap();
    assert_eq!(app.metric("acd_test_regressions_total", &alpha).await, 1.0);
    assert_eq!(app.metric("acd_test_regressions_total", &beta).await, 1.0);
    assert_eq!(app.metric("acd_test_pass_rate", &alpha).await, 0.6667);

    for step in &SERIES[4..] {
        seed(&app.db.pool, step).await;
    }
    // Refreshed twice, as after a resent batch: a5 is counted once.
    for _ in 0..2 {
        refresh_test_gauges(&store, &metrics, &config, [ALPHA, BETA])
            .await
            .unwrap();
    }
    expect_gauges(&app.metrics_text().await, (2.0, 1.0));

    // A restarted collector shows the same gauges at once; past regressions are not recounted.
    let restarted = spawn(Settings::ephemeral(), Store::new(app.db.pool.clone()))
        .await
        .unwrap();
    let text = app
        .http
        .get(format!("http://{}/metrics", restarted.api_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    expect_gauges(&text, (0.0, 0.0));
    restarted.shutdown().await.unwrap();
    app.shutdown().await;
}

/// The sample of `name` with these labels in a Prometheus exposition; panics when absent.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("valid exposition");
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

/// Gauges after the whole series, and the regression counters of (alpha, beta).
fn expect_gauges(text: &str, regressions: (f64, f64)) {
    let beta = BETA.to_string();
    for (labels, rate, delta, flaky, regressions) in [
        ([("target", "alpha")], 0.8333, 0.4047, 4.0, regressions.0),
        ([("target", beta.as_str())], 0.9, -0.1, 1.0, regressions.1),
    ] {
        assert_eq!(sample(text, "acd_test_pass_rate", &labels), rate);
        assert_eq!(sample(text, "acd_test_pass_rate_delta", &labels), delta);
        assert_eq!(sample(text, "acd_flaky_tests", &labels), flaky);
        assert_eq!(
            sample(text, "acd_test_regressions_total", &labels),
            regressions,
            "{labels:?}"
        );
    }
}
