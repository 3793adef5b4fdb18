//! Compatibility with the official OpenTelemetry Python SDK: tests/fixtures/python_harness.py, a
//! tiny harness built on the SDK's TracerProvider, BatchSpanProcessor and OTLP exporters, emits
//! one session over OTLP/HTTP (protobuf) and over OTLP/gRPC, and the REST API and /metrics must
//! show exactly the numbers it was given. The SDK comes from `scripts/python-venv` (pinned
//! versions, installed once per machine). examples/python is the same SDK in a user's shape;
//! this fixture differs in taking explicit timestamps, so durations can be checked exactly.

use crate::common;

use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use common::TestApp;
use common::process::{python, repo, run};
use serde_json::{Value, json};

const MODEL: &str = "claude-sonnet-4-5-20250929";
const TARGET_NAME: &str = "python-demo";
const FEATURES_COMPLETED: i64 = 2;
/// Session window, ms after the base time.
const SESSION: (i64, i64) = (0, 90_000);
const TOOL: Tool = Tool {
    name: "Read",
    file_path: "src/lib.rs",
    window: (2_000, 2_750),
};
const TURNS: [Turn; 2] = [
    Turn {
        number: 1,
        window: (1_000, 5_200),
        input: 20_000,
        output: 900,
        cache_read: 15_000,
        cache_write: 3_000,
        ttft_s: 0.45,
    },
    Turn {
        number: 2,
        window: (30_000, 32_600),
        input: 26_500,
        output: 1_700,
        cache_read: 24_000,
        cache_write: 500,
        ttft_s: 1.25,
    },
];
/// Sonnet 4.x, USD per 1M tokens: uncached input, output, cache read, cache write (5 min).
const PRICES: [f64; 4] = [3.0, 15.0, 0.3, 3.75];
/// The harness takes well under a second (installing the SDK is bounded in common::process).
const HARNESS_TIMEOUT: Duration = Duration::from_secs(60);

struct Turn {
    number: i64,
    window: (i64, i64),
    /// As sent: semconv `gen_ai.usage.input_tokens` includes the cached tokens.
    input: i64,
    output: i64,
    cache_read: i64,
    cache_write: i64,
    ttft_s: f64,
}

impl Turn {
    fn uncached_input(&self) -> i64 {
        self.input - self.cache_read - self.cache_write
    }

    fn duration_ms(&self) -> i64 {
        self.window.1 - self.window.0
    }

    fn ttft_ms(&self) -> i64 {
        (self.ttft_s * 1000.0).round() as i64
    }

    fn cost_usd(&self) -> f64 {
        let [input, output, cache_read, cache_write] = PRICES;
        (self.uncached_input() as f64 * input
            + self.output as f64 * output
            + self.cache_read as f64 * cache_read
            + self.cache_write as f64 * cache_write)
            / 1e6
    }
}

struct Tool {
    name: &'static str,
    file_path: &'static str,
    window: (i64, i64),
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    HttpProtobuf,
    Grpc,
}

fn total(f: impl Fn(&Turn) -> i64) -> i64 {
    TURNS.iter().map(f).sum()
}

fn total_cost() -> f64 {
    TURNS.iter().map(Turn::cost_usd).sum()
}

/// Yesterday 01:00 UTC: recent (token-usage queries look back N days) and within one day.
fn base_ns() -> u64 {
    let now = UNIX_EPOCH.elapsed().unwrap().as_secs();
    ((now / 86_400 - 1) * 86_400 + 3_600) * 1_000_000_000
}

fn spec(conversation_id: &str, target_id: &str) -> Value {
    let turns: Vec<Value> = TURNS
        .iter()
        .map(|t| {
            json!({
                "number": t.number,
                "start_ms": t.window.0, "end_ms": t.window.1,
                "input": t.input, "output": t.output,
                "cache_read": t.cache_read, "cache_write": t.cache_write,
                "ttft_s": t.ttft_s,
                // The tool runs inside the first turn only.
                "tools": if t.number == 1 {
                    json!([{
                        "name": TOOL.name, "file_path": TOOL.file_path,
                        "start_ms": TOOL.window.0, "end_ms": TOOL.window.1,
                    }])
                } else {
                    json!([])
                },
            })
        })
        .collect();
    json!({
        "conversation_id": conversation_id,
        "target_id": target_id,
        "target_name": TARGET_NAME,
        "features_completed": FEATURES_COMPLETED,
        // A JSON integer: Python reads it exactly (a float would lose the nanoseconds).
        "base_ns": base_ns(),
        "model": MODEL,
        "provider": "anthropic",
        "session": {"start_ms": SESSION.0, "end_ms": SESSION.1},
        "turns": turns,
    })
}

/// Runs the Python harness against `app`; blocking, so it runs off the runtime that serves it.
async fn run_harness(app: &TestApp, transport: Transport, spec: &Value) {
    let (name, endpoint) = match transport {
        Transport::HttpProtobuf => ("http", format!("{}/v1/traces", app.otlp_http)),
        Transport::Grpc => ("grpc", app.otlp_grpc.clone()),
    };
    let spec = spec.to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(python());
        cmd.arg(repo().join("tests/fixtures/python_harness.py"))
            .args([name, &endpoint, &spec])
            // The collector is on loopback: keep any proxy of the environment out of the way.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        run(&mut cmd, HARNESS_TIMEOUT)
    })
    .await
    .unwrap_or_else(|failure| std::panic::resume_unwind(failure.into_panic()));
    eprintln!(
        "{transport:?}: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
}

fn assert_cost(actual: &Value, expected: f64, what: &str) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {actual}"));
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: {actual} != {expected}"
    );
}

async fn assert_rest(app: &TestApp, session_id: &str, conversation_id: &str, target_id: &str) {
    let (status, s) = app.get(&format!("/api/db/sessions/{session_id}")).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["external_id"], conversation_id);
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["target_id"], target_id);
    assert_eq!(s["target_name"], TARGET_NAME);
    assert_eq!(s["features_completed"], FEATURES_COMPLETED);
    assert_eq!(s["turn_count"], TURNS.len());
    assert_eq!(s["wall_clock_ms"], SESSION.1 - SESSION.0);
    assert_eq!(s["api_latency_ms"], total(Turn::duration_ms));
    assert_eq!(s["input_tokens"], total(Turn::uncached_input));
    assert_eq!(s["output_tokens"], total(|t| t.output));
    assert_eq!(s["cache_read_tokens"], total(|t| t.cache_read));
    assert_eq!(s["cache_write_tokens"], total(|t| t.cache_write));
    assert_cost(&s["cost_usd"], total_cost(), "session cost_usd");
    assert_eq!(s["models"][0]["model"], MODEL);
    assert_eq!(s["models"][0]["request_count"], TURNS.len());
    assert_eq!(
        s["attributes"]["otel.resource"]["service.name"],
        "acd-python-harness"
    );

    let (status, body) = app
        .get(&format!("/api/db/sessions/{session_id}/turns"))
        .await;
    assert_eq!(status, 200, "{body}");
    let turns = body["turns"].as_array().expect("turns array");
    assert_eq!(turns.len(), TURNS.len(), "{body}");
    for (got, want) in turns.iter().zip(&TURNS) {
        let n = want.number;
        assert_eq!(got["turn_number"], n);
        assert_eq!(got["provider"], "anthropic", "turn {n}");
        assert_eq!(got["model"], MODEL, "turn {n}");
        assert_eq!(got["input_tokens"], want.uncached_input(), "turn {n}");
        assert_eq!(got["reported_input_tokens"], want.input, "turn {n}");
        assert_eq!(got["output_tokens"], want.output, "turn {n}");
        assert_eq!(got["cache_read_tokens"], want.cache_read, "turn {n}");
        assert_eq!(got["cache_write_tokens"], want.cache_write, "turn {n}");
        assert_eq!(got["duration_ms"], want.duration_ms(), "turn {n}");
        assert_eq!(got["time_to_first_token_ms"], want.ttft_ms(), "turn {n}");
        assert_eq!(got["status"], "ok", "turn {n}");
        assert_cost(&got["cost_usd"], want.cost_usd(), "turn cost_usd");
    }
    let calls = turns[0]["tool_calls"].as_array().expect("tool_calls array");
    assert_eq!(calls.len(), 1, "{body}");
    assert_eq!(calls[0]["name"], TOOL.name);
    assert_eq!(calls[0]["file_path"], TOOL.file_path);
    assert_eq!(calls[0]["duration_ms"], TOOL.window.1 - TOOL.window.0);
    assert_eq!(turns[1]["tool_calls"], json!([]));

    let (status, timing) = app
        .get(&format!("/api/db/sessions/{session_id}/timing"))
        .await;
    assert_eq!(status, 200, "{timing}");
    let wall = SESSION.1 - SESSION.0;
    let api = total(Turn::duration_ms);
    assert_eq!(timing["wall_clock_ms"], wall);
    assert_eq!(timing["api_time_ms"], api);
    assert_eq!(timing["non_api_time_ms"], wall - api);
    // Two samples: the median interpolates halfway, as percentile_cont does.
    let ttft_p50 = (TURNS[0].ttft_ms() + TURNS[1].ttft_ms()) as f64 / 2.0;
    assert_eq!(timing["time_to_first_token"]["samples"], TURNS.len());
    assert_eq!(timing["time_to_first_token"]["p50_ms"], ttft_p50);
    assert_eq!(s["time_to_first_token_ms"], ttft_p50.round() as i64);
}

async fn assert_metrics(app: &TestApp) {
    for (kind, expected) in [
        ("input", total(Turn::uncached_input)),
        ("output", total(|t| t.output)),
        ("cache_read", total(|t| t.cache_read)),
        ("cache_write", total(|t| t.cache_write)),
    ] {
        let labels = [("model", MODEL), ("type", kind)];
        let got = app.metric("acd_tokens_total", &labels).await;
        assert_eq!(got, expected as f64, "acd_tokens_total type={kind}");
    }
    let model = [("model", MODEL)];
    let requests = app.metric("acd_model_requests_total", &model).await;
    assert_eq!(requests, TURNS.len() as f64);
    let cost = app.metric("acd_cost_usd_total", &model).await;
    assert!((cost - total_cost()).abs() < 1e-9, "{cost}");
    let completed = [("status", "completed")];
    assert_eq!(app.metric("acd_sessions_total", &completed).await, 1.0);
    let spans = 1 + TURNS.len() + 1;
    for (outcome, expected) in [("accepted", spans), ("rejected", 0), ("duplicate", 0)] {
        let got = app
            .metric("acd_otlp_spans_received_total", &[("outcome", outcome)])
            .await;
        assert_eq!(got, expected as f64, "spans {outcome}");
    }
}

async fn python_sdk_session_lands(transport: Transport) {
    let app = TestApp::spawn().await;
    let conversation_id = format!("python-sdk-{transport:?}-{}", uuid::Uuid::new_v4());
    let target_id = uuid::Uuid::new_v4().to_string();
    run_harness(&app, transport, &spec(&conversation_id, &target_id)).await;

    let session_id = acd_collector::domain::session_uuid(&conversation_id).to_string();
    assert_rest(&app, &session_id, &conversation_id, &target_id).await;
    assert_metrics(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn python_sdk_over_otlp_http_protobuf() {
    python_sdk_session_lands(Transport::HttpProtobuf).await;
}

#[tokio::test]
async fn python_sdk_over_otlp_grpc() {
    python_sdk_session_lands(Transport::Grpc).await;
}
