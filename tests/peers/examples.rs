//! The examples in examples/ are compatibility tests: each harness (Node.js on the official
//! `@opentelemetry/sdk-node`, Python on the official SDK) runs as a user would run it, against a
//! real collector, over each OTLP transport its SDK offers, and the REST API and /metrics must
//! show exactly the session of examples/scenario.json, which both harnesses replay: its turns,
//! tokens, tools and retries (each `acd.retry` event's row is read from session_retries too).
//! The SDKs come from scripts/node-deps and scripts/python-venv (pinned, installed once).

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::TestApp;
use common::process::{node, python, repo, run};
use common::scenario::{Scenario, Usage};
use serde_json::Value;
use sqlx::Row;

/// Each harness sends one small session; it takes about a second.
const HARNESS_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Harness {
    Node,
    Python,
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

impl Transport {
    /// The standard `OTEL_EXPORTER_OTLP_PROTOCOL` value.
    fn protocol(self) -> &'static str {
        match self {
            Transport::HttpProtobuf => "http/protobuf",
            Transport::HttpJson => "http/json",
            Transport::Grpc => "grpc",
        }
    }
}

impl Harness {
    fn command(self) -> Command {
        let (program, script): (&PathBuf, _) = match self {
            Harness::Node => (node(), "examples/node/harness.js"),
            Harness::Python => (python(), "examples/python/harness.py"),
        };
        let mut cmd = Command::new(program);
        cmd.arg(repo().join(script));
        cmd
    }

    fn service_name(self, scenario: &Scenario) -> String {
        let suffix = match self {
            Harness::Node => "node",
            Harness::Python => "python",
        };
        format!("{}-{suffix}", scenario.service_name)
    }
}

/// Runs the example as documented (endpoint and protocol from the standard OTEL_* variables,
/// session id as the argument) and returns its closing JSON summary line.
async fn run_example(
    app: &TestApp,
    harness: Harness,
    transport: Transport,
    session: &str,
) -> Value {
    let endpoint = match transport {
        Transport::Grpc => app.otlp_grpc.clone(),
        Transport::HttpProtobuf | Transport::HttpJson => app.otlp_http.clone(),
    };
    let session = session.to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = harness.command();
        cmd.arg(&session)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", transport.protocol())
            // Only what the test sets: no traces-specific overrides from the environment.
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .env_remove("ACD_SCENARIO")
            // The collector is on loopback: keep any proxy of the environment out of the way.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        run(&mut cmd, HARNESS_TIMEOUT)
    })
    .await
    .unwrap_or_else(|failure| std::panic::resume_unwind(failure.into_panic()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{harness:?} over {transport:?}: {}", stdout.trim());
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("summary line {last:?}: {e}"))
}

async fn assert_session(app: &TestApp, scenario: &Scenario, harness: Harness, id: &str) {
    let (status, s) = app.get(&format!("/api/db/sessions/{id}")).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["external_id"], id);
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["target_id"], scenario.target.id.as_str());
    assert_eq!(s["target_name"], scenario.target.name.as_str());
    // The harness's acd.test_run span: pass rate = passed / (run − skipped).
    let count = |status: &str| {
        scenario
            .test_run
            .cases
            .iter()
            .filter(|c| c.status == status)
            .count()
    };
    let (passed, skipped) = (count("passed"), count("skipped"));
    let run = scenario.test_run.cases.len();
    assert_eq!(s["tests_run"], run, "{s}");
    assert_eq!(s["tests_passed"], passed);
    assert_eq!(s["tests_failed"], count("failed") + count("error"));
    let rate = passed as f64 / (run - skipped) as f64;
    assert_eq!(s["test_pass_rate"], (rate * 1e4).round() / 1e4);
    assert_eq!(s["feature_id"], scenario.feature_id.as_str());
    assert_eq!(s["features_completed"], scenario.features_completed);
    assert_eq!(s["turn_count"], scenario.turns.len());
    assert_eq!(s["input_tokens"], scenario.total(Usage::uncached_input));
    assert_eq!(s["output_tokens"], scenario.total(|u| u.output_tokens));
    assert_eq!(
        s["cache_read_tokens"],
        scenario.total(|u| u.cache_read_tokens)
    );
    assert_eq!(
        s["cache_write_tokens"],
        scenario.total(|u| u.cache_creation_tokens)
    );
    assert_eq!(
        s["attributes"]["otel.resource"]["service.name"],
        harness.service_name(scenario).as_str()
    );
    assert_eq!(s["retry_count"], scenario.retries().count(), "{s}");
    let fallbacks = scenario
        .retries()
        .filter(|r| {
            r.fallback_model
                .as_ref()
                .is_some_and(|f| *f != r.original_model)
        })
        .count();
    assert_eq!(s["model_fallbacks"], fallbacks, "{s}");
    assert_eq!(s["max_retries_hit"], false, "{s}");
    let mut requests: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &scenario.turns {
        *requests.entry(t.model.as_str()).or_default() += 1;
    }
    let models = s["models"].as_array().expect("models array");
    assert_eq!(models.len(), requests.len(), "{s}");
    for m in models {
        let name = m["model"].as_str().expect("model name");
        assert_eq!(m["request_count"], requests[name], "{name}");
    }

    let (status, body) = app.get(&format!("/api/db/sessions/{id}/turns")).await;
    assert_eq!(status, 200, "{body}");
    let turns = body["turns"].as_array().expect("turns array");
    assert_eq!(turns.len(), scenario.turns.len(), "{body}");
    let mut session_cost = 0.0;
    for (n, (got, want)) in turns.iter().zip(&scenario.turns).enumerate() {
        let n = n + 1;
        assert_eq!(got["turn_number"], n);
        assert_eq!(got["provider"], scenario.provider.as_str(), "turn {n}");
        assert_eq!(got["model"], want.model.as_str(), "turn {n}");
        assert_eq!(got["input_tokens"], want.usage.uncached_input(), "turn {n}");
        assert_eq!(
            got["reported_input_tokens"], want.usage.input_tokens,
            "turn {n}"
        );
        assert_eq!(got["output_tokens"], want.usage.output_tokens, "turn {n}");
        assert_eq!(
            got["cache_read_tokens"], want.usage.cache_read_tokens,
            "turn {n}"
        );
        assert_eq!(
            got["cache_write_tokens"], want.usage.cache_creation_tokens,
            "turn {n}"
        );
        assert_eq!(got["status"], "ok", "turn {n}");
        // Measured by the harness with real clocks: only its presence is certain.
        assert!(
            got["time_to_first_token_ms"]
                .as_i64()
                .is_some_and(|ms| ms >= 0),
            "turn {n}: {got}"
        );
        let cost = got["cost_usd"].as_f64().expect("turn cost");
        assert!(cost > 0.0, "turn {n}: {} is priced", want.model);
        session_cost += cost;

        let calls = got["tool_calls"].as_array().expect("tool_calls array");
        let names: Vec<_> = calls.iter().map(|c| c["name"].clone()).collect();
        let paths: Vec<_> = calls.iter().map(|c| c["file_path"].clone()).collect();
        let want_names: Vec<Value> = want.tools.iter().map(|t| t.name.as_str().into()).collect();
        let want_paths: Vec<Value> = want
            .tools
            .iter()
            .map(|t| t.file_path.clone().into())
            .collect();
        assert_eq!(names, want_names, "turn {n} tools");
        assert_eq!(paths, want_paths, "turn {n} file paths");
    }
    let cost = s["cost_usd"].as_f64().expect("session cost");
    assert!(
        (cost - session_cost).abs() < 1e-9,
        "{cost} != {session_cost}"
    );
}

/// Every `acd.retry` event as a row with all its attributes, read from the table (the retry
/// endpoints are tested in tests/it/retries.rs).
async fn assert_retry_rows(app: &TestApp, scenario: &Scenario, id: &str) {
    let rows = sqlx::query(
        "SELECT retry_number, reason, original_model, fallback_model, wait_duration_ms, succeeded,
                error_message
         FROM session_retries WHERE session_id = $1::text::uuid
         ORDER BY occurred_at, retry_number",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await
    .expect("session_retries");
    let got: Vec<Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!([
                r.get::<i32, _>("retry_number"),
                r.get::<String, _>("reason"),
                r.get::<Option<String>, _>("original_model"),
                r.get::<Option<String>, _>("fallback_model"),
                r.get::<Option<i32>, _>("wait_duration_ms"),
                r.get::<Option<bool>, _>("succeeded"),
                r.get::<Option<String>, _>("error_message"),
            ])
        })
        .collect();
    let want: Vec<Value> = scenario
        .turns
        .iter()
        .flat_map(|t| t.retries.iter().enumerate())
        .map(|(i, r)| {
            serde_json::json!([
                i + 1,
                r.reason,
                r.original_model,
                r.fallback_model,
                r.wait_ms,
                r.succeeded,
                r.message
            ])
        })
        .collect();
    assert_eq!(got, want, "session_retries");
}

async fn assert_metrics(app: &TestApp, scenario: &Scenario) {
    for (kind, expected) in [
        ("input", scenario.total(Usage::uncached_input)),
        ("output", scenario.total(|u| u.output_tokens)),
        ("cache_read", scenario.total(|u| u.cache_read_tokens)),
        ("cache_write", scenario.total(|u| u.cache_creation_tokens)),
    ] {
        let got = app.metric("acd_tokens_total", &[("type", kind)]).await;
        assert_eq!(got, expected as f64, "acd_tokens_total type={kind}");
    }
    let requests = app.metric("acd_model_requests_total", &[]).await;
    assert_eq!(requests, scenario.turns.len() as f64);
    let completed = [("status", "completed")];
    assert_eq!(app.metric("acd_sessions_total", &completed).await, 1.0);
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for r in scenario.retries() {
        *reasons.entry(r.reason.as_str()).or_default() += 1;
    }
    for (reason, n) in reasons {
        let got = app.metric("acd_retries_total", &[("reason", reason)]).await;
        assert_eq!(got, n as f64, "acd_retries_total reason={reason}");
    }
    let exhausted = [("outcome", "exhausted")];
    assert_eq!(
        app.metric("acd_retry_outcomes_total", &exhausted).await,
        0.0
    );
    assert_eq!(app.metric("acd_max_retries_hit_total", &[]).await, 0.0);
    let succeeded = scenario.retries().filter(|r| r.succeeded).count();
    let outcome = [("outcome", "succeeded")];
    let got = app.metric("acd_retry_outcomes_total", &outcome).await;
    assert_eq!(
        got, succeeded as f64,
        "acd_retry_outcomes_total{{outcome=succeeded}}"
    );
    let fallbacks = scenario
        .retries()
        .filter(|r| {
            r.fallback_model
                .as_ref()
                .is_some_and(|f| *f != r.original_model)
        })
        .count();
    let got = app.metric("acd_model_fallbacks_total", &[]).await;
    assert_eq!(got, fallbacks as f64, "acd_model_fallbacks_total");
    let waits = scenario.retries().count();
    assert_eq!(
        app.metric("acd_retry_wait_seconds_count", &[]).await,
        waits as f64
    );
    // Every span the SDK sent was stored: none ignored, refused or counted twice. (`accepted`
    // also counts the stored retry events, so it is a lower bound here.)
    let mut outcomes = BTreeMap::new();
    for outcome in ["accepted", "ignored", "rejected", "duplicate"] {
        let labels = [("outcome", outcome)];
        let count = app.metric("acd_otlp_spans_received_total", &labels).await;
        outcomes.insert(outcome, count);
    }
    let stored = 1 + scenario.turns.len() + scenario.tool_count() + 1;
    assert!(outcomes["accepted"] >= stored as f64, "{outcomes:?}");
    assert_eq!(outcomes["ignored"], 0.0, "{outcomes:?}");
    let passed = [
        ("target", scenario.target.name.as_str()),
        ("result", "passed"),
    ];
    let want = scenario
        .test_run
        .cases
        .iter()
        .filter(|c| c.status == "passed")
        .count();
    assert_eq!(app.metric("acd_tests_total", &passed).await, want as f64);
    assert_eq!(outcomes["rejected"], 0.0, "{outcomes:?}");
    assert_eq!(outcomes["duplicate"], 0.0, "{outcomes:?}");
}

async fn example_session_lands(harness: Harness, transport: Transport) {
    let scenario = Scenario::load();
    assert!(
        scenario.turns.iter().any(|t| !t.retries.is_empty()),
        "the scenario has a retry"
    );
    assert!(
        !scenario.test_run.cases.is_empty(),
        "the scenario has tests"
    );
    let app = TestApp::spawn().await;
    let session = uuid::Uuid::new_v4().to_string();

    let summary = run_example(&app, harness, transport, &session).await;
    assert_eq!(summary["session_id"], session.as_str());
    assert_eq!(summary["spans"], scenario.span_count(), "{summary}");
    assert_eq!(summary["exported"], scenario.span_count(), "{summary}");

    assert_session(&app, &scenario, harness, &session).await;
    assert_retry_rows(&app, &scenario, &session).await;
    assert_metrics(&app, &scenario).await;
    app.shutdown().await;
}

#[tokio::test]
async fn node_example_over_otlp_http_protobuf() {
    example_session_lands(Harness::Node, Transport::HttpProtobuf).await;
}

#[tokio::test]
async fn node_example_over_otlp_http_json() {
    example_session_lands(Harness::Node, Transport::HttpJson).await;
}

#[tokio::test]
async fn node_example_over_otlp_grpc() {
    example_session_lands(Harness::Node, Transport::Grpc).await;
}

#[tokio::test]
async fn python_example_over_otlp_http_protobuf() {
    example_session_lands(Harness::Python, Transport::HttpProtobuf).await;
}

#[tokio::test]
async fn python_example_over_otlp_grpc() {
    example_session_lands(Harness::Python, Transport::Grpc).await;
}
