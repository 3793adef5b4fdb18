//! Claude Code's own telemetry events (OTLP logs), shaped as its monitoring documentation
//! describes them and sent with the official OpenTelemetry SDK's OTLP log exporter, land as
//! turns, tool calls and retries in the REST API and in /metrics — once, however often resent.

use crate::common;

use acd_collector::domain::{TokenUsage, session_uuid};
use acd_collector::pricing::PriceTable;
use common::TestApp;
use common::claude_code::{Event, event, export, records};
use common::spans::{Transport, at};
use opentelemetry::KeyValue;

const SESSION: &str = "3f9d6a2e-8c41-4b7a-a2f0-5d1e9c7b4a60";
const MODEL: &str = "claude-sonnet-4-5-20250929";
const TARGET: &str = "5a1c9e7d-3b2f-4d6a-8e0c-1f2a3b4c5d6e";

/// A session as the current Claude Code reports it (numbers as ints and doubles), then one
/// API request as older versions did (every number a string).
fn session_events() -> Vec<Event> {
    vec![
        event(
            "claude_code.user_prompt",
            at(1_000),
            vec![KeyValue::new("prompt_length", 42_i64)],
        ),
        event(
            "claude_code.api_request",
            at(5_200),
            vec![
                KeyValue::new("model", MODEL),
                KeyValue::new("input_tokens", 120_i64),
                KeyValue::new("output_tokens", 800_i64),
                KeyValue::new("cache_read_tokens", 15_000_i64),
                KeyValue::new("cache_creation_tokens", 2_000_i64),
                KeyValue::new("cost_usd", 0.0248),
                KeyValue::new("duration_ms", 4_200_i64),
                KeyValue::new("request_id", "req_011CVa1"),
                KeyValue::new("speed", "normal"),
                KeyValue::new("query_source", "repl_main_thread"),
            ],
        ),
        event(
            "claude_code.tool_result",
            at(5_300),
            vec![
                KeyValue::new("tool_name", "Read"),
                KeyValue::new("tool_use_id", "toolu_01A"),
                KeyValue::new("success", "true"),
                KeyValue::new("duration_ms", 35_i64),
                KeyValue::new("decision_type", "accept"),
                KeyValue::new("decision_source", "config"),
                KeyValue::new("tool_input", r#"{"file_path":"src/lib.rs"}"#),
            ],
        ),
        event(
            "claude_code.api_error",
            at(40_000),
            vec![
                KeyValue::new("model", MODEL),
                KeyValue::new("error", "Overloaded"),
                KeyValue::new("status_code", 529_i64),
                KeyValue::new("attempt", 11_i64),
                KeyValue::new("duration_ms", 30_000_i64),
            ],
        ),
        event(
            "claude_code.api_retries_exhausted",
            at(40_000),
            vec![
                KeyValue::new("model", MODEL),
                KeyValue::new("error", "Overloaded"),
                KeyValue::new("status_code", 529_i64),
                KeyValue::new("total_attempts", 11_i64),
                KeyValue::new("total_retry_duration_ms", 30_000_i64),
            ],
        ),
        event(
            "claude_code.api_request",
            at(47_500),
            vec![
                KeyValue::new("model", MODEL),
                KeyValue::new("input_tokens", "200"),
                KeyValue::new("output_tokens", "350"),
                KeyValue::new("cache_read_tokens", "17000"),
                KeyValue::new("cache_creation_tokens", "0"),
                KeyValue::new("cost_usd", "0.0109"),
                KeyValue::new("duration_ms", "2100"),
            ],
        ),
    ]
}

fn usage(input: i64, output: i64, cache_read: i64, cache_write: i64) -> TokenUsage {
    TokenUsage {
        input,
        output,
        cache_read,
        cache_write,
        cache_write_1h: 0,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[tokio::test]
async fn claude_code_events_become_turns_tools_and_retries_once() {
    let app = TestApp::spawn().await;
    // Claude Code copies OTEL_RESOURCE_ATTRIBUTES onto every event, and sends them as resource.
    let target = [KeyValue::new("acd.target.id", TARGET)];
    let records = records(SESSION, &session_events(), &target);
    export(Transport::HttpProtobuf, &app, &records, target.to_vec())
        .await
        .expect("export over OTLP/HTTP");

    let (status, s) = app.get(&format!("/api/db/sessions/{SESSION}")).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["external_id"], SESSION);
    assert_eq!(s["target_id"], session_uuid(TARGET).to_string(), "{s}");
    assert_eq!(s["turn_count"], 2, "{s}");
    // Claude Code's input_tokens already exclude the cache: stored as sent.
    assert_eq!(s["input_tokens"], 320);
    assert_eq!(s["output_tokens"], 1_150);
    assert_eq!(s["cache_read_tokens"], 32_000);
    assert_eq!(s["cache_write_tokens"], 2_000);
    assert_eq!(s["api_latency_ms"], 4_200 + 2_100);
    let prices = PriceTable::shipped_default();
    let ours = prices.cost(MODEL, &usage(120, 800, 15_000, 2_000)).unwrap()
        + prices.cost(MODEL, &usage(200, 350, 17_000, 0)).unwrap();
    assert!(close(s["cost_usd"].as_f64().unwrap(), ours), "{s}");
    assert!(
        close(s["reported_cost_usd"].as_f64().unwrap(), 0.0357),
        "{s}"
    );
    assert!(
        close(s["cost_difference_usd"].as_f64().unwrap(), ours - 0.0357),
        "{s}"
    );
    // One api_error after 11 attempts, and its api_retries_exhausted companion: one retry row.
    assert_eq!(s["retry_count"], 1, "{s}");
    assert_eq!(s["max_retries_hit"], true, "{s}");

    let (_, turns) = app.get(&format!("/api/db/sessions/{SESSION}/turns")).await;
    let turns = turns["turns"].as_array().expect("turns").clone();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0]["turn_number"], 1);
    assert_eq!(turns[0]["duration_ms"], 4_200);
    assert!(close(
        turns[0]["reported_cost_usd"].as_f64().unwrap(),
        0.0248
    ));
    // The tool ran after the first call, which asked for it.
    assert_eq!(turns[0]["tool_calls"][0]["name"], "Read", "{turns:?}");
    assert_eq!(turns[0]["tool_calls"][0]["file_path"], "src/lib.rs");
    assert_eq!(turns[1]["tool_calls"], serde_json::json!([]));

    let (count, path): (i32, String) =
        sqlx::query_as("SELECT access_count, file_path FROM file_access_log WHERE target_id = $1")
            .bind(session_uuid(TARGET))
            .fetch_one(&app.db.pool)
            .await
            .expect("the Read landed in the file access log");
    assert_eq!((count, path.as_str()), (1, "src/lib.rs"));

    let model = [("model", MODEL)];
    let input = [("model", MODEL), ("type", "input")];
    assert_eq!(app.metric("acd_tokens_total", &input).await, 320.0);
    assert_eq!(app.metric("acd_model_requests_total", &model).await, 2.0);
    let overloaded = [("reason", "overloaded"), ("model", MODEL)];
    assert_eq!(app.metric("acd_retries_total", &overloaded).await, 1.0);
    let exhausted = [("outcome", "exhausted")];
    assert_eq!(
        app.metric("acd_retry_outcomes_total", &exhausted).await,
        1.0
    );
    assert_eq!(app.metric("acd_max_retries_hit_total", &[]).await, 1.0);
    assert_eq!(app.metric("acd_retry_wait_seconds_sum", &[]).await, 30.0);

    // The exporter retries the same batch over another transport: nothing changes.
    export(Transport::Grpc, &app, &records, target.to_vec())
        .await
        .expect("export over OTLP/gRPC");
    let (_, again) = app.get(&format!("/api/db/sessions/{SESSION}")).await;
    assert_eq!(again["turn_count"], 2);
    assert_eq!(again["input_tokens"], 320);
    assert_eq!(again["retry_count"], 1);
    assert_eq!(app.metric("acd_tokens_total", &input).await, 320.0);
    // 5 resent records, and the api_retries_exhausted of the first batch (same retry).
    let duplicate = [("outcome", "duplicate")];
    assert_eq!(
        app.metric("acd_otlp_spans_received_total", &duplicate)
            .await,
        6.0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn otlp_json_logs_report_unplaceable_events_as_partial_success() {
    let app = TestApp::spawn().await;
    let nanos = at(1_000)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_string();
    let body = serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": nanos, "body": {"stringValue": "claude_code.api_request"},
         "attributes": [{"key": "model", "value": {"stringValue": MODEL}},
                        {"key": "input_tokens", "value": {"intValue": "10"}}]},
        {"timeUnixNano": nanos, "body": {"stringValue": "some other log line"}}
    ]}]}]});
    let response = app
        .http
        .post(format!("{}/v1/logs", app.otlp_http))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reply: serde_json::Value = response.json().await.unwrap();
    // proto3 JSON writes int64 as a string; accept both spellings.
    let rejected = &reply["partialSuccess"]["rejectedLogRecords"];
    assert_eq!(rejected.to_string().trim_matches('"'), "1", "{reply}");
    let message = reply["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("session.id"), "{message}");

    let broken = app
        .http
        .post(format!("{}/v1/logs", app.otlp_http))
        .header("content-type", "application/json")
        .body("{\"resourceLogs\": 7}")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let error: serde_json::Value = broken.json().await.unwrap();
    assert!(error["message"].as_str().is_some(), "{error}");
    app.shutdown().await;
}

/// Claude Code's beta trace spans describe the same API call as its `api_request` event: the
/// request id makes them one turn, whichever arrives first.
#[tokio::test]
async fn a_call_reported_as_beta_span_and_as_event_is_one_turn() {
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

    let app = TestApp::spawn().await;
    let span = |id: u64, name: &'static str, window: (u64, u64), attrs: Vec<KeyValue>| SpanData {
        span_context: SpanContext::new(
            TraceId::from(0xc1a0_u128),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(99),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: name.into(),
        start_time: at(window.0),
        end_time: at(window.1),
        attributes: attrs,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: opentelemetry::InstrumentationScope::builder(
            common::claude_code::SCOPE,
        )
        .build(),
    };
    let llm = span(
        1,
        "claude_code.llm_request",
        (1_000, 5_200),
        vec![
            KeyValue::new("session.id", SESSION),
            KeyValue::new("span.type", "llm_request"),
            KeyValue::new("model", MODEL),
            KeyValue::new("input_tokens", 120_i64),
            KeyValue::new("output_tokens", 800_i64),
            KeyValue::new("cache_read_tokens", 15_000_i64),
            KeyValue::new("cache_creation_tokens", 2_000_i64),
            KeyValue::new("ttft_ms", 640_i64),
            KeyValue::new("request_id", "req_011CVa1"),
            KeyValue::new("success", true),
        ],
    );
    let tool = span(
        2,
        "claude_code.tool",
        (5_265, 5_300),
        vec![
            KeyValue::new("session.id", SESSION),
            KeyValue::new("tool_name", "Read"),
            KeyValue::new("tool_use_id", "toolu_01A"),
            KeyValue::new("file_path", "src/lib.rs"),
        ],
    );
    common::spans::export(Transport::HttpProtobuf, &app, vec![llm, tool])
        .await
        .expect("export spans");
    let events = records(SESSION, &session_events()[..3], &[]);
    export(Transport::HttpJson, &app, &events, vec![])
        .await
        .expect("export events over OTLP/HTTP JSON");

    let (_, s) = app.get(&format!("/api/db/sessions/{SESSION}")).await;
    assert_eq!(s["turn_count"], 1, "{s}");
    assert_eq!(s["input_tokens"], 120);
    assert_eq!(s["time_to_first_token_ms"], 640, "the span's TTFT is kept");
    let (_, turns) = app.get(&format!("/api/db/sessions/{SESSION}/turns")).await;
    let calls = turns["turns"][0]["tool_calls"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["file_path"], "src/lib.rs");
    app.shutdown().await;
}
