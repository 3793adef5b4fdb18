//! Test runs end to end: real reports written by real tools (pytest `--junitxml`, libtest and
//! cargo-nextest JSON of a generated crate) uploaded to `POST /api/db/sessions/{id}/test-runs`
//! and through `acd-collector ingest junit|test-json`; `acd.test_run` spans sent with the official
//! OpenTelemetry SDK. Counts are checked exactly in the REST API (the session's tests_* fields)
//! and in /metrics; re-sending changes nothing; bad input gets a clear 4xx.

use crate::common;

use std::process::Command;

use acd_collector::app::Settings;
use acd_collector::config::Limits;
use common::TestApp;
use common::spans::{Transport, export, session};
use common::test_reports::{case, libtest_json, nextest_json, pytest_junit, test_run_span};
use opentelemetry::KeyValue;
use serde_json::Value;

const SESSION: &str = "5a0c7a4e-1d2b-4c3d-9e8f-0a1b2c3d4e5f";
const TRACE: u128 = 0x7e57_0000_0000_0000_0000_0000_0000_0001;
const TARGET: &str = "demo-repo";

async fn with_session(app: &TestApp) {
    export(
        Transport::HttpProtobuf,
        app,
        vec![session(TRACE, 1, SESSION, (0, 60_000))],
    )
    .await
    .expect("session exported");
}

async fn post(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}{path}", app.api))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn runs_path(session: &str) -> String {
    format!("/api/db/sessions/{session}/test-runs")
}

async fn tests_of(app: &TestApp, session: &str) -> (i64, i64, i64, Option<f64>) {
    let (status, s) = app.get(&format!("/api/db/sessions/{session}")).await;
    assert_eq!(status, 200, "{s}");
    let n = |k: &str| s[k].as_i64().unwrap();
    (
        n("tests_run"),
        n("tests_passed"),
        n("tests_failed"),
        s["test_pass_rate"].as_f64(),
    )
}

async fn tests_metric(app: &TestApp, target: &str, result: &str) -> f64 {
    app.metric("acd_tests_total", &[("target", target), ("result", result)])
        .await
}

async fn duration_count(app: &TestApp) -> f64 {
    let text = app.metrics_text().await;
    text.lines()
        .find_map(|l| l.strip_prefix("acd_test_run_duration_seconds_count "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn counts(run: &Value) -> [i64; 5] {
    ["total", "passed", "failed", "errors", "skipped"].map(|k| run[k].as_i64().unwrap())
}

#[tokio::test]
async fn a_pytest_junit_report_counts_exactly_and_a_resend_is_a_duplicate() {
    let app = TestApp::spawn().await;
    with_session(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let xml = pytest_junit(dir.path());

    let path = format!("{}?revision=abc123", runs_path(SESSION));
    let (status, run) = post(&app, &path, "application/xml", xml.clone()).await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(counts(&run), [6, 3, 1, 1, 1]);
    assert_eq!(run["source"], "junit");
    assert_eq!(run["cases"], 6);
    assert_eq!(run["vcs_revision"], "abc123");
    assert_eq!(run["duplicate"], false);
    assert_eq!(
        run["warnings"],
        serde_json::json!([]),
        "pytest's counts agree"
    );
    let reasons = run["failure_reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r["status"] == "error"
            && r["message"].as_str().unwrap().contains("fixture exploded"))
    );
    assert_eq!(tests_of(&app, SESSION).await, (6, 3, 2, Some(0.6)));
    assert_eq!(tests_metric(&app, TARGET, "passed").await, 3.0);
    assert_eq!(tests_metric(&app, TARGET, "failed").await, 1.0);
    assert_eq!(tests_metric(&app, TARGET, "error").await, 1.0);
    assert_eq!(tests_metric(&app, TARGET, "skipped").await, 1.0);
    assert_eq!(duration_count(&app).await, 1.0);

    // The same report again (text/xml this time): nothing changes.
    let (status, again) = post(&app, &path, "text/xml", xml).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], run["id"]);
    assert_eq!(tests_of(&app, SESSION).await, (6, 3, 2, Some(0.6)));
    assert_eq!(tests_metric(&app, TARGET, "passed").await, 3.0);
    assert_eq!(duration_count(&app).await, 1.0);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM session_test_cases")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 6);
    app.shutdown().await;
}

#[tokio::test]
async fn libtest_and_nextest_json_of_a_generated_crate() {
    let app = TestApp::spawn().await;
    with_session(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let libtest = libtest_json(dir.path());
    let nextest = nextest_json(dir.path());

    let (status, run) = post(&app, &runs_path(SESSION), "application/x-ndjson", libtest).await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["source"], "libtest-json");
    assert_eq!(counts(&run), [4, 2, 1, 0, 1]);
    assert_eq!(run["warnings"], serde_json::json!([]));
    assert_eq!(run["failure_reasons"][0]["name"], "wrong");
    assert!(
        run["failure_reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("one and one")
    );

    let path = format!("{}?suite=nextest%20lib", runs_path(SESSION));
    let (status, run) = post(&app, &path, "application/json", nextest).await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["source"], "nextest-json");
    assert_eq!(run["suite"], "nextest lib");
    assert_eq!(counts(&run), [4, 2, 1, 0, 1]);

    // Sums over both runs; pass rate = passed / (run − skipped) = 4 / 6.
    assert_eq!(tests_of(&app, SESSION).await, (8, 4, 2, Some(0.6667)));
    assert_eq!(tests_metric(&app, TARGET, "passed").await, 4.0);
    assert_eq!(tests_metric(&app, TARGET, "failed").await, 2.0);
    assert_eq!(tests_metric(&app, TARGET, "skipped").await, 2.0);
    assert_eq!(duration_count(&app).await, 2.0);
    app.shutdown().await;
}

#[tokio::test]
async fn test_run_spans_attach_to_their_session_and_bad_counts_are_kept_with_warnings() {
    let app = TestApp::spawn().await;
    // A run that arrives before its session, found through its trace.
    let early = test_run_span(
        TRACE,
        2,
        vec![
            KeyValue::new("acd.test.suite", "unit"),
            KeyValue::new("acd.test.total", 3_i64),
            KeyValue::new("acd.test.passed", 2_i64),
            KeyValue::new("acd.test.failed", 1_i64),
            KeyValue::new("acd.test.skipped", 0_i64),
            KeyValue::new("acd.vcs.revision", "r1"),
        ],
        vec![
            case("a", "passed"),
            case("b", "passed"),
            case("c", "failed"),
        ],
    );
    // Counts that do not add up (2 + 1 ≠ 10): stored as sent, with warnings.
    let odd = test_run_span(
        TRACE,
        3,
        vec![
            KeyValue::new("gen_ai.conversation.id", SESSION),
            KeyValue::new("acd.test.total", 10_i64),
            KeyValue::new("acd.test.passed", 2_i64),
            KeyValue::new("acd.test.failed", 1_i64),
        ],
        vec![case("d", "passed")],
    );
    export(Transport::Grpc, &app, vec![early.clone()])
        .await
        .unwrap();
    with_session(&app).await;
    export(Transport::HttpJson, &app, vec![odd.clone()])
        .await
        .unwrap();

    assert_eq!(tests_of(&app, SESSION).await, (13, 4, 2, Some(0.3077)));
    let rows: Vec<(i32, String, Value, Option<String>)> = sqlx::query_as(
        "SELECT total_tests, source, warnings, vcs_revision FROM session_test_runs
         WHERE session_id = $1 ORDER BY total_tests",
    )
    .bind(uuid::Uuid::parse_str(SESSION).unwrap())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].0, rows[0].1.as_str()), (3, "span"));
    assert_eq!(rows[0].2, serde_json::json!([]));
    assert_eq!(rows[0].3.as_deref(), Some("r1"));
    let warnings = rows[1].2.as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].as_str().unwrap().contains("do not add up"));
    // The early run was counted before its session (and target) was known.
    assert_eq!(tests_metric(&app, "none", "passed").await, 2.0);
    assert_eq!(tests_metric(&app, TARGET, "passed").await, 2.0);

    // Re-sent spans are duplicates: nothing changes.
    export(Transport::HttpProtobuf, &app, vec![early, odd])
        .await
        .unwrap();
    assert_eq!(tests_of(&app, SESSION).await, (13, 4, 2, Some(0.3077)));
    assert_eq!(tests_metric(&app, TARGET, "passed").await, 2.0);
    assert_eq!(duration_count(&app).await, 2.0);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_reports_get_a_clear_4xx_and_store_nothing() {
    let app = TestApp::spawn_with(Settings {
        limits: Limits {
            max_body_bytes: 4096,
            ..Limits::default()
        },
        ..Settings::ephemeral()
    })
    .await;
    with_session(&app).await;
    let xml = b"<testsuite name=\"s\"><testcase name=\"a\"/></testsuite>".to_vec();
    let cases: Vec<(String, &str, Vec<u8>, u16, &str)> = vec![
        (
            runs_path("not-a-uuid"),
            "application/xml",
            xml.clone(),
            400,
            "malformed session id",
        ),
        (
            runs_path("00000000-0000-4000-8000-000000000001"),
            "application/xml",
            xml.clone(),
            404,
            "not found",
        ),
        (
            runs_path(SESSION),
            "application/xml",
            b"<testsuite><testcase name=\"x\">".to_vec(),
            400,
            "malformed test report",
        ),
        (
            runs_path(SESSION),
            "application/x-ndjson",
            b"running 3 tests\n".to_vec(),
            400,
            "no libtest/nextest JSON events",
        ),
        (
            format!("{}?format=csv", runs_path(SESSION)),
            "application/xml",
            xml.clone(),
            400,
            "unknown format",
        ),
        (
            runs_path(SESSION),
            "image/png",
            b"\x89PNG".to_vec(),
            415,
            "Content-Type",
        ),
        (
            runs_path(SESSION),
            "application/xml",
            vec![b' '; 10_000],
            413,
            "larger than",
        ),
    ];
    for (path, content_type, body, want, says) in cases {
        let (status, error) = post(&app, &path, content_type, body).await;
        assert_eq!(status, want, "{path} {content_type}: {error}");
        let message = error["error"].as_str().unwrap();
        assert!(
            message.contains(says),
            "{path}: {message:?} should say {says:?}"
        );
    }
    assert_eq!(tests_of(&app, SESSION).await, (0, 0, 0, None));
    let (_, doc) = app.get("/api/openapi.json").await;
    let op = &doc["paths"]["/api/db/sessions/{session_id}/test-runs"]["post"];
    assert!(
        op["responses"]["201"].is_object(),
        "OpenAPI lists the endpoint: {op}"
    );
    // A body with no type is recognised by its first character.
    let (status, run) = post(&app, &runs_path(SESSION), "", xml).await;
    assert_eq!((status, run["total"].as_i64()), (201, Some(1)), "{run}");
    app.shutdown().await;
}

fn acd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_acd-collector"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ACD_ENDPOINT")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn the_cli_stores_reports_in_the_database_and_through_an_endpoint() {
    let app = TestApp::spawn().await;
    with_session(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.xml");
    std::fs::write(&junit, pytest_junit(dir.path())).unwrap();
    let stream = dir.path().join("libtest.json");
    std::fs::write(&stream, libtest_json(&dir.path().join("crate"))).unwrap();
    let admin = common::admin_url();
    let url = format!("{}/{}", admin.rsplit_once('/').unwrap().0, app.db.name);
    let junit_args = [
        "ingest",
        "junit",
        junit.to_str().unwrap(),
        "--session",
        SESSION,
        "--revision",
        "r9",
        "--database-url",
        &url,
    ];
    let out = tokio::task::spawn_blocking({
        let args: Vec<String> = junit_args.iter().map(|a| a.to_string()).collect();
        move || acd(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (counts(&run), run["vcs_revision"].as_str()),
        ([6, 3, 1, 1, 1], Some("r9"))
    );
    assert!(stderr.contains("6 tests, 3 passed"), "{stderr}");

    let endpoint_args = [
        "ingest",
        "test-json",
        stream.to_str().unwrap(),
        "--session",
        SESSION,
        "--endpoint",
        &app.api,
    ];
    let out = tokio::task::spawn_blocking({
        let args: Vec<String> = endpoint_args.iter().map(|a| a.to_string()).collect();
        move || acd(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tests_of(&app, SESSION).await, (10, 5, 3, Some(0.625)));
    // The endpoint counted its run; the database path has no collector to count in.
    assert_eq!(tests_metric(&app, TARGET, "passed").await, 2.0);

    // An unknown session is refused by both paths.
    let unknown = [
        "ingest",
        "junit",
        junit.to_str().unwrap(),
        "--session",
        "nope",
        "--endpoint",
        &app.api,
    ];
    let args: Vec<String> = unknown.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        acd(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    app.shutdown().await;
}
