//! Flaky tests, regressions and the test history: a scripted series of sessions for two targets
//! (test_analysis/series.rs) must produce exactly the expected flaky tests (each rule) and
//! regressions (with the newly failing tests), and nothing else, whether stored as rows or sent
//! as OTLP spans through the real ingest path; the test gauges and regression counter follow
//! it, survive a restart, and count a resent state once; bad parameters get JSON 400s.

mod series;

use crate::common;

use acd_collector::app::{Settings, spawn};
use acd_collector::config::TestAnalysis;
use acd_collector::ingest::IngestService;
use acd_collector::store::Store;
use common::TestApp;
use common::spans::{Transport, export};
use serde_json::{Value, json};
use series::*;
use uuid::Uuid;

async fn seeded_app() -> TestApp {
    let app = TestApp::spawn().await;
    seed_targets(&app.db.pool).await;
    for step in SERIES {
        seed(&app.db.pool, step).await;
    }
    app
}

#[tokio::test]
async fn the_scripted_series_gives_exactly_the_expected_flaky_tests() {
    let app = seeded_app().await;
    let (a, b) = (ALPHA.to_string(), BETA.to_string());
    let expected = expected_flaky();
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
    wider.insert(3, (a, "oldflip".into(), s(&["flip"]), vec![], 6));
    wider[2].4 = 6;
    wider[4].4 = 6;
    assert_eq!(flaky_summary(&body), wider);
    app.shutdown().await;
}

#[tokio::test]
async fn the_scripted_series_gives_exactly_the_expected_regressions() {
    let app = seeded_app().await;
    let default = expected_regressions();
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
    lower.insert(0, regression("b5", "b4", 10.0, &[]));
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
        "/api/db/tests/{target_id}",
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
    let service = IngestService {
        store: store.clone(),
        metrics,
        prices: std::sync::Arc::new(acd_collector::pricing::PriceTable::shipped_default()),
        test_analysis: config,
    };
    let beta = BETA.to_string();
    let alpha = [("target", "alpha")];
    let beta = [("target", beta.as_str())];

    // The first four steps hold one regression of each target (a2, b2).
    for step in &SERIES[..4] {
        seed(&app.db.pool, step).await;
    }
    service.refresh_test_gauges([ALPHA, BETA]).await.unwrap();
    assert_eq!(app.metric("acd_test_regressions_total", &alpha).await, 1.0);
    assert_eq!(app.metric("acd_test_regressions_total", &beta).await, 1.0);
    assert_eq!(app.metric("acd_test_pass_rate", &alpha).await, 0.6667);

    for step in &SERIES[4..] {
        seed(&app.db.pool, step).await;
    }
    // Refreshed twice, as after a resent batch: a5 is counted once.
    for _ in 0..2 {
        service.refresh_test_gauges([ALPHA, BETA]).await.unwrap();
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

#[tokio::test]
async fn the_series_sent_as_otlp_spans_gives_the_same_analysis() {
    let app = TestApp::spawn().await;
    // Every step in its own export, then the whole series again (a resend changes nothing).
    for (n, step) in SERIES.iter().enumerate() {
        export(Transport::HttpProtobuf, &app, step_spans(n, step))
            .await
            .unwrap();
    }
    let all = SERIES
        .iter()
        .enumerate()
        .flat_map(|(n, s)| step_spans(n, s));
    export(Transport::Grpc, &app, all.collect()).await.unwrap();

    let (status, body) = app.get("/api/db/tests/flaky").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(flaky_summary(&body), expected_flaky());
    let (_, body) = app.get("/api/db/tests/regressions").await;
    assert_eq!(regression_summary(&body), expected_regressions());
    let (_, body) = app.get(&format!("/api/db/tests/{ALPHA}")).await;
    assert_eq!(body["total"], 7, "{body}");
    assert_eq!(body["sessions"][0]["pass_rate"], 0.8333);
    assert_eq!(body["sessions"][0]["vcs_revision"], "a6");

    // The collector refreshed the gauges itself after each commit with test runs.
    expect_gauges(&app.metrics_text().await, (2.0, 1.0));
    app.shutdown().await;
}
