//! Retries from every source land in one table and answer in both retry endpoints and in every
//! retry metric, with exact values: `acd.retry` span events and an `acd.retry` span sent with the
//! official OpenTelemetry SDK, and a Claude Code `api_error` event sent with its log exporter.
//! Resending everything changes nothing; bad parameters are JSON 400s.

use crate::common;

use std::borrow::Cow;

use common::TestApp;
use common::claude_code::{event, records};
use common::spans::{self, MODEL, Tokens, Transport, at};
use opentelemetry::KeyValue;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::{SpanData, SpanEvents};
use serde_json::{Value, json};

const SESSION_A: &str = "7e2c4b1a-9d3f-4e8a-b6c5-0a1b2c3d4e5f";
const SESSION_B: &str = "1c8d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const SESSION_C: &str = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716";
const OPUS: &str = "claude-opus-4-5-20251101";
const TRACE_A: u128 = 0xA1;
const TRACE_C: u128 = 0xC1;

const TOKENS: Tokens = Tokens {
    input: 1_000,
    output: 100,
    cache_read: 0,
    cache_write: 0,
};

fn retry_event(ms: u64, attributes: Vec<KeyValue>) -> opentelemetry::trace::Event {
    opentelemetry::trace::Event::new("acd.retry", at(ms), attributes, 0)
}

fn with_events(mut span: SpanData, events: Vec<opentelemetry::trace::Event>) -> SpanData {
    span.events = SpanEvents::default();
    span.events.events = events;
    span
}

/// Session A, all spans: a turn that succeeded after a rate limit and a fallback to another
/// model (its events say nothing about success: inferred), a failed turn whose one retry ran
/// out of budget, and a turn with an `acd.retry` span (the back-off, 750 ms) that succeeded.
fn session_a() -> Vec<SpanData> {
    let first = spans::turn(TRACE_A, 2, 1, 1, (1_000, 5_000), TOKENS, 0.2);
    let first = with_events(
        first,
        vec![
            retry_event(
                1_500,
                vec![
                    KeyValue::new("acd.retry.number", 1_i64),
                    KeyValue::new("acd.retry.reason", "rate_limit"),
                    KeyValue::new("acd.retry.wait_ms", 1_000_i64),
                    KeyValue::new("acd.retry.original_model", OPUS),
                    KeyValue::new("http.response.status_code", 429_i64),
                    KeyValue::new("error.type", "rate_limit_error"),
                ],
            ),
            retry_event(
                3_000,
                vec![
                    KeyValue::new("acd.retry.number", 2_i64),
                    KeyValue::new("acd.retry.wait_ms", 2_000_i64),
                    KeyValue::new("acd.retry.original_model", OPUS),
                    KeyValue::new("acd.retry.fallback_model", MODEL),
                    KeyValue::new("exception.message", "falling back to a smaller model"),
                ],
            ),
        ],
    );
    let mut second = spans::turn(TRACE_A, 3, 1, 2, (10_000, 20_000), TOKENS, 0.2);
    second.status = Status::error("overloaded");
    let second = with_events(
        second,
        vec![retry_event(
            12_000,
            vec![
                KeyValue::new("acd.retry.wait_ms", 500_i64),
                KeyValue::new("acd.retry.exhausted", true),
                KeyValue::new("http.response.status_code", 529_i64),
                KeyValue::new("exception.message", "Overloaded"),
            ],
        )],
    );
    let third = spans::turn(TRACE_A, 5, 1, 3, (24_000, 30_000), TOKENS, 0.2);
    vec![
        spans::session(TRACE_A, 1, SESSION_A, (0, 60_000)),
        first,
        second,
        retry_span(TRACE_A, 4, 5, (25_000, 25_750)),
        third,
    ]
}

/// A harness that times its back-off as a span of its own, child of the retried turn.
fn retry_span(trace: u128, span: u64, parent: u64, (start, end): (u64, u64)) -> SpanData {
    let mut data = spans::turn(trace, span, parent, 0, (start, end), TOKENS, 0.0);
    data.name = Cow::Borrowed("acd.retry");
    data.attributes = vec![
        KeyValue::new("acd.retry.number", 1_i64),
        KeyValue::new("acd.retry.reason", "timeout"),
        KeyValue::new("acd.retry.succeeded", true),
        KeyValue::new("gen_ai.request.model", MODEL),
        KeyValue::new("error.type", "timeout"),
    ];
    data
}

/// Session C: one call, no retries (a session that did not hit the limit).
fn session_c() -> Vec<SpanData> {
    vec![
        spans::session(TRACE_C, 1, SESSION_C, (0, 10_000)),
        spans::turn(TRACE_C, 2, 1, 1, (1_000, 2_000), TOKENS, 0.2),
    ]
}

/// Session B, Claude Code events: one answered request, then a request that failed after three
/// attempts (Claude Code logs `api_error` once, when it gives up).
fn session_b() -> Vec<opentelemetry_sdk::logs::SdkLogRecord> {
    let events = [
        event(
            "claude_code.api_request",
            at(5_200),
            vec![
                KeyValue::new("model", MODEL),
                KeyValue::new("input_tokens", 100_i64),
                KeyValue::new("output_tokens", 10_i64),
                KeyValue::new("cost_usd", 0.001),
                KeyValue::new("duration_ms", 1_000_i64),
                KeyValue::new("request_id", "req_retries_1"),
            ],
        ),
        event(
            "claude_code.api_error",
            at(40_000),
            vec![
                KeyValue::new("model", MODEL),
                KeyValue::new("error", "rate_limit_error"),
                KeyValue::new("status_code", 429_i64),
                KeyValue::new("attempt", 3_i64),
                KeyValue::new("duration_ms", 4_000_i64),
            ],
        ),
    ];
    records(SESSION_B, &events, &[])
}

async fn send_all(app: &TestApp, transport: Transport) {
    let mut all = session_a();
    all.extend(session_c());
    spans::export(transport, app, all)
        .await
        .expect("spans exported");
    common::claude_code::export(transport, app, &session_b(), vec![])
        .await
        .expect("events exported");
}

/// The history without its times (checked apart): what each retry was.
fn history_rows(body: &Value) -> Vec<Value> {
    body["retries"]
        .as_array()
        .expect("retries")
        .iter()
        .map(|r| {
            json!([
                r["retry_number"],
                r["reason"],
                r["original_model"],
                r["fallback_model"],
                r["model_fallback"],
                r["wait_duration_ms"],
                r["succeeded"],
                r["exhausted"],
                r["ms_since_previous"]
            ])
        })
        .collect()
}

async fn assert_history(app: &TestApp) {
    let (status, a) = app.get(&format!("/api/db/retries/{SESSION_A}")).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["session_id"], SESSION_A);
    assert_eq!(
        history_rows(&a),
        vec![
            json!([
                1,
                "rate_limit",
                OPUS,
                null,
                false,
                1_000,
                false,
                false,
                null
            ]),
            json!([
                2,
                "model_fallback",
                OPUS,
                MODEL,
                true,
                2_000,
                true,
                false,
                1_500
            ]),
            json!([1, "overloaded", MODEL, null, false, 500, false, true, 9_000]),
            json!([1, "timeout", MODEL, null, false, 750, true, false, 13_000]),
        ],
        "{a}"
    );
    assert_eq!(a["retries"][2]["error_message"], "Overloaded");
    let (_, b) = app.get(&format!("/api/db/retries/{SESSION_B}")).await;
    assert_eq!(
        history_rows(&b),
        vec![json!([
            3,
            "rate_limit",
            MODEL,
            null,
            false,
            4_000,
            false,
            true,
            null
        ])],
        "{b}"
    );
    let (_, c) = app.get(&format!("/api/db/retries/{SESSION_C}")).await;
    assert_eq!(c["retries"], json!([]), "{c}");

    for (id, count, hit, fallbacks) in [
        (SESSION_A, 4, true, 1),
        (SESSION_B, 1, true, 0),
        (SESSION_C, 0, false, 0),
    ] {
        let (_, s) = app.get(&format!("/api/db/sessions/{id}")).await;
        let got = (
            &s["retry_count"],
            &s["max_retries_hit"],
            &s["model_fallbacks"],
        );
        assert_eq!(got, (&json!(count), &json!(hit), &json!(fallbacks)), "{s}");
    }
}

async fn assert_summary(app: &TestApp) {
    let (status, s) = app.get("/api/db/retries/summary").await;
    assert_eq!(status, 200, "{s}");
    let expected = json!({
        "days": 7,
        "total_retries": 5,
        // Five calls of MODEL: three turns of A, one of C, one Claude Code request of B.
        "model_calls": 5,
        "succeeded": 2,
        "exhausted": 2,
        "success_rate": 0.5,
        "by_reason": [
            {"reason": "rate_limit", "retries": 2, "share": 0.4, "retries_per_call": 0.4},
            {"reason": "model_fallback", "retries": 1, "share": 0.2, "retries_per_call": 0.2},
            {"reason": "overloaded", "retries": 1, "share": 0.2, "retries_per_call": 0.2},
            {"reason": "timeout", "retries": 1, "share": 0.2, "retries_per_call": 0.2},
        ],
        "by_model": [
            {"model": MODEL, "retries": 3, "calls": 5, "retries_per_call": 0.6},
            {"model": OPUS, "retries": 2, "calls": 0, "retries_per_call": null},
        ],
        "success_after": [{"retries": 1, "calls": 1}, {"retries": 2, "calls": 1}],
        "fallback_pairs": [{"from_model": OPUS, "to_model": MODEL, "count": 1}],
        "max_retries": {"sessions": 3, "sessions_hit": 2, "share": 2.0 / 3.0},
    });
    assert_eq!(s, expected);
    let (_, year) = app.get("/api/db/retries/summary?days=365").await;
    assert_eq!(year["total_retries"], 5);
    assert_eq!(year["days"], 365);
}

async fn assert_metrics(app: &TestApp) {
    for (reason, model, n) in [
        ("rate_limit", OPUS, 1.0),
        ("rate_limit", MODEL, 1.0),
        ("model_fallback", OPUS, 1.0),
        ("overloaded", MODEL, 1.0),
        ("timeout", MODEL, 1.0),
        ("error", MODEL, 0.0),
    ] {
        let labels = [("reason", reason), ("model", model)];
        let got = app.metric("acd_retries_total", &labels).await;
        assert_eq!(got, n, "acd_retries_total{labels:?}");
    }
    assert_eq!(app.metric("acd_retries_total", &[]).await, 5.0);
    for (outcome, n) in [("succeeded", 2.0), ("exhausted", 2.0)] {
        let labels = [("outcome", outcome)];
        let got = app.metric("acd_retry_outcomes_total", &labels).await;
        assert_eq!(got, n, "{outcome}");
    }
    let pair = [("from_model", OPUS), ("to_model", MODEL)];
    assert_eq!(app.metric("acd_model_fallbacks_total", &pair).await, 1.0);
    assert_eq!(app.metric("acd_model_fallbacks_total", &[]).await, 1.0);
    assert_eq!(app.metric("acd_max_retries_hit_total", &[]).await, 2.0);

    assert_eq!(app.metric("acd_retry_wait_seconds_count", &[]).await, 5.0);
    let sum = app.metric("acd_retry_wait_seconds_sum", &[]).await;
    assert!(
        (sum - 8.25).abs() < 1e-9,
        "1 + 2 + 0.5 + 0.75 + 4 s, got {sum}"
    );
    let scrape = app.scrape().await;
    let buckets = scrape
        .samples
        .iter()
        .find(|s| s.metric == "acd_retry_wait_seconds")
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(b) => b.clone(),
            other => panic!("not a histogram: {other:?}"),
        })
        .expect("acd_retry_wait_seconds is exported");
    let count_le = |le: f64| {
        buckets
            .iter()
            .find(|b| b.less_than == le)
            .map(|b| b.count)
            .expect("bucket")
    };
    assert_eq!(
        [count_le(0.25), count_le(0.5), count_le(1.0), count_le(2.0)],
        [0.0, 1.0, 3.0, 4.0]
    );
    assert_eq!(count_le(5.0), 5.0);
}

#[tokio::test]
async fn retries_from_spans_and_claude_code_events_answer_everywhere_once() {
    let app = TestApp::spawn().await;
    send_all(&app, Transport::HttpProtobuf).await;

    // One table: every retry of every source is a session_retries row.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM session_retries")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(rows, 5);
    assert_history(&app).await;
    assert_summary(&app).await;
    assert_metrics(&app).await;

    // The exporters resend everything over another transport: nothing changes anywhere.
    send_all(&app, Transport::Grpc).await;
    assert_history(&app).await;
    assert_summary(&app).await;
    assert_metrics(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn bad_retry_parameters_are_json_400s_and_unknown_sessions_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/db/retries/summary?days=0",
        "/api/db/retries/summary?days=366",
        "/api/db/retries/summary?days=-1",
        "/api/db/retries/summary?days=week",
        "/api/db/retries/not-a-uuid",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    let (status, body) = app.get(&format!("/api/db/retries/{SESSION_A}")).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains(SESSION_A),
        "{body}"
    );

    // An empty window is an answer, not an error.
    let (status, empty) = app.get("/api/db/retries/summary?days=1").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["total_retries"], 0);
    assert_eq!(empty["success_rate"], Value::Null);
    assert_eq!(empty["max_retries"]["share"], Value::Null);

    let (_, doc) = app.get("/api/openapi.json").await;
    for path in ["/api/db/retries/{session_id}", "/api/db/retries/summary"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} in OpenAPI");
    }
    app.shutdown().await;
}
