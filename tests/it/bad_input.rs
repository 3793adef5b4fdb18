//! Hostile and broken OTLP beyond `otlp_errors.rs`: truncated protobuf, invalid UTF-8, nesting
//! past the decoder's limit, NUL characters (which PostgreSQL refuses in text and jsonb), huge
//! attribute values, and every kind of invalid span in one batch. Each gets a clear 400 or a
//! partial success naming the reason, never a 5xx, and the valid rest of the batch lands.

mod extremes;
mod isolation;
mod rest;

use crate::common;

use acd_collector::otlp::http_body::RpcStatus;
use common::TestApp;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

async fn post(app: &TestApp, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/traces", app.otlp_http))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request")
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

const NOW: u64 = 1_700_000_000_000_000_000;

fn span(trace: u8, id: u8, name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        name: name.into(),
        start_time_unix_nano: NOW,
        end_time_unix_nano: NOW + 1_000_000_000,
        attributes,
        ..Default::default()
    }
}

fn session(trace: u8, id: u8, conversation: &str) -> Span {
    span(
        trace,
        id,
        "invoke_agent",
        vec![
            string("gen_ai.operation.name", "invoke_agent"),
            string("gen_ai.conversation.id", conversation),
        ],
    )
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn session_status(app: &TestApp, conversation: &str) -> (u16, serde_json::Value) {
    let id = acd_collector::domain::session_uuid(conversation);
    app.get(&format!("/api/db/sessions/{id}")).await
}

#[tokio::test]
async fn broken_protobuf_gets_400_with_a_status_message() {
    let app = TestApp::spawn().await;
    let valid = request(vec![session(1, 1, "whole")]).encode_to_vec();

    let truncated = post(
        &app,
        "application/x-protobuf",
        valid[..valid.len() - 3].to_vec(),
    )
    .await;
    assert_eq!(truncated.status(), 400);
    let status = RpcStatus::decode(truncated.bytes().await.unwrap()).unwrap();
    assert!(status.message.contains("protobuf"), "{}", status.message);

    // Invalid UTF-8 in a string field: replace the span name "invoke_agent" with 0xff bytes.
    let mut bad_utf8 = valid.clone();
    let at = bad_utf8
        .windows(12)
        .position(|w| w == b"invoke_agent")
        .unwrap();
    bad_utf8[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xc0, 0x80]);
    let response = post(&app, "application/x-protobuf", bad_utf8).await;
    assert_eq!(response.status(), 400);
    let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
    assert!(status.message.contains("UTF-8"), "{}", status.message);

    // Invalid UTF-8 inside a JSON body.
    let mut json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x"#.to_vec();
    json.extend_from_slice(&[0xff, 0xfe]);
    json.extend_from_slice(br#""}]}]}]}"#);
    let response = post(&app, "application/json", json).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");

    // Nesting beyond the protobuf decoder's recursion limit is refused, not a stack overflow.
    let mut value = Value::StringValue("leaf".into());
    for _ in 0..200 {
        value = Value::ArrayValue(ArrayValue {
            values: vec![AnyValue { value: Some(value) }],
        });
    }
    let deep = KeyValue {
        key: "deep".into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    };
    let mut nested = session(2, 2, "nested");
    nested.attributes.push(deep);
    let response = post(
        &app,
        "application/x-protobuf",
        request(vec![nested]).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(session_status(&app, "nested").await.0, 404);
    // The well-formed request still lands afterwards.
    assert_eq!(
        post(&app, "application/x-protobuf", valid).await.status(),
        200
    );
    assert_eq!(session_status(&app, "whole").await.0, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn nul_characters_and_huge_values_are_stored_not_a_500() {
    let app = TestApp::spawn().await;
    // PostgreSQL refuses U+0000 in text and jsonb; it must not fail the whole batch.
    let mut nul = session(3, 3, "nul\0session");
    nul.name = "invoke\0agent".into();
    nul.attributes.push(string("acd.target.name", "repo\0name"));
    nul.attributes.push(string("key\0with nul", "v"));
    nul.status = Some(opentelemetry_proto::tonic::trace::v1::Status {
        message: "boom\0".into(),
        code: 2,
    });
    let mut tool = span(
        3,
        4,
        "tool\0",
        vec![
            string("gen_ai.operation.name", "execute_tool"),
            string("gen_ai.conversation.id", "nul\0session"),
            string("gen_ai.tool.name", "Edit\0"),
            string("acd.tool.file_path", "/tmp/a\0b"),
        ],
    );
    tool.parent_span_id = vec![3; 8];
    let huge = "x".repeat(4 * 1024 * 1024);
    let mut big = session(4, 4, "huge");
    big.attributes.push(string("acd.huge", &huge));
    let response = post(
        &app,
        "application/x-protobuf",
        request(vec![nul, tool, big]).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let (status, body) = session_status(&app, "nul\u{fffd}session").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "failed", "{body}");
    let (status, body) = session_status(&app, "huge").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["attributes"]["acd.huge"].as_str().map(str::len),
        Some(huge.len())
    );

    // The same over JSON, where NUL is the escape \u0000.
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"05050505050505050505050505050505",
        "spanId":"0505050505050505","name":"s\u0000","startTimeUnixNano":"1700000000000000000",
        "endTimeUnixNano":"1700000001000000000",
        "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"invoke_agent"}},
                      {"key":"gen_ai.conversation.id","value":{"stringValue":"json\u0000nul"}}]}]}]}]}"#;
    let response = post(&app, "application/json", json.as_bytes().to_vec()).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(session_status(&app, "json\u{fffd}nul").await.0, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn every_invalid_span_is_rejected_with_its_reason_and_the_rest_lands() {
    let app = TestApp::spawn().await;
    let turn = |id: u8, attrs: Vec<KeyValue>| {
        let mut all = vec![
            string("gen_ai.operation.name", "chat"),
            string("gen_ai.conversation.id", "survivor"),
        ];
        all.extend(attrs);
        span(9, id, "chat", all)
    };
    let mut short_trace = turn(0x11, vec![]);
    short_trace.trace_id = vec![1; 8];
    let mut zero_trace = turn(0x12, vec![]);
    zero_trace.trace_id = vec![0; 16];
    let mut long_span = turn(0x13, vec![]);
    long_span.span_id = vec![1; 9];
    let mut zero_start = turn(0x14, vec![]);
    zero_start.start_time_unix_nano = 0;
    let mut far_future = turn(0x15, vec![]);
    far_future.end_time_unix_nano = u64::MAX;
    let negative = turn(0x16, vec![int("gen_ai.usage.output_tokens", -5)]);
    let absurd = turn(0x17, vec![int("gen_ai.usage.input_tokens", i64::MAX)]);
    let good = turn(0x18, vec![int("gen_ai.usage.output_tokens", 7)]);
    let batch = vec![
        short_trace,
        zero_trace,
        long_span,
        zero_start,
        far_future,
        negative,
        absurd,
        session(9, 0x19, "survivor"),
        good,
    ];
    let response = post(
        &app,
        "application/json",
        serde_json::to_vec(&request(batch)).unwrap(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], 7, "{body}");
    let message = body["partialSuccess"]["errorMessage"].as_str().unwrap();
    // The message names the first five reasons.
    for reason in ["trace id", "span id", "start time", "end time"] {
        assert!(message.contains(reason), "{reason} missing from {message}");
    }
    let (status, turns) = app
        .get(&format!(
            "/api/db/sessions/{}/turns",
            acd_collector::domain::session_uuid("survivor")
        ))
        .await;
    assert_eq!(status, 200);
    let turns = turns.as_array().or(turns["turns"].as_array()).unwrap();
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(
        app.metric("acd_otlp_spans_received_total", &[("outcome", "rejected")])
            .await,
        7.0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_claude_run_with_absurd_durations_is_stored_not_a_500() {
    // Found by schemathesis: a negative duration overflowed an integer column (500), and by
    // proptest: a huge negative duration_ms overflowed the clock (panic).
    let app = TestApp::spawn().await;
    let run = serde_json::json!({
        "format": "stream_json", "lines": 1, "blank_lines": 0, "orphan_tool_results": 0,
        "parse_errors": [], "compactions": [], "retries": [], "tool_calls": [], "tools": [],
        "turns": [], "skipped": {}, "session_id": "absurd",
        "result": {"duration_api_ms": -9223372036854775807_i64, "duration_ms": -8208471194495277_i64,
                   "errors": [], "is_error": false, "line": 0, "model_usage": {}, "raw": {},
                   "subtype": "success"}
    });
    let response = app
        .http
        .post(format!(
            "{}/api/db/ingest/claude-run?ended_at=2025-01-01T00:00:00Z",
            app.api
        ))
        .json(&run)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(session_status(&app, "absurd").await.0, 200);
    app.shutdown().await;
}
