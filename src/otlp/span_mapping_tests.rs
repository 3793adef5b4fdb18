//! Unit tests of the span contract's mapping rules.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Any};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::*;

fn kv(key: &str, value: Any) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Any {
    Any::StringValue(v.into())
}

fn span(span_id: u8, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![span_id; 8],
        name: "span".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_002_500_000_000,
        attributes: attrs,
        ..Default::default()
    }
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

fn map(spans: Vec<Span>) -> SpanBatch {
    map_request(&request(spans), &PriceTable::shipped_default())
}

#[test]
fn spans_are_classified_by_operation_name() {
    let batch = map(vec![
        span(1, vec![kv("gen_ai.operation.name", s("invoke_agent"))]),
        span(2, vec![kv("gen_ai.operation.name", s("chat"))]),
        span(
            3,
            vec![
                kv("gen_ai.operation.name", s("execute_tool")),
                kv("gen_ai.tool.name", s("Read")),
            ],
        ),
        span(4, vec![kv("http.method", s("GET"))]),
    ]);
    assert_eq!(
        (batch.sessions.len(), batch.turns.len(), batch.tools.len()),
        (1, 1, 1)
    );
    assert_eq!(batch.ignored, 1);
    assert_eq!(batch.tools[0].tool_name, "Read");
}

#[test]
fn semconv_input_includes_cache_and_is_stored_uncached() {
    let batch = map(vec![span(
        2,
        vec![
            kv("gen_ai.operation.name", s("chat")),
            kv("gen_ai.request.model", s("claude-sonnet-4-5-20250929")),
            kv("gen_ai.usage.input_tokens", Any::IntValue(1500)),
            kv("gen_ai.usage.output_tokens", Any::StringValue("200".into())),
            kv(
                "gen_ai.usage.cache_read.input_tokens",
                Any::DoubleValue(1000.0),
            ),
            kv(
                "gen_ai.usage.cache_creation.input_tokens",
                Any::IntValue(300),
            ),
            kv(
                "gen_ai.response.time_to_first_chunk",
                Any::DoubleValue(0.42),
            ),
            kv("gen_ai.conversation.id", s("run-42")),
        ],
    )]);
    let turn = &batch.turns[0];
    assert_eq!(
        turn.usage,
        TokenUsage {
            input: 200,
            output: 200,
            cache_read: 1000,
            cache_write: 300,
            cache_write_1h: 0,
        }
    );
    assert_eq!(turn.reported_input_tokens, Some(1500));
    assert_eq!(turn.time_to_first_token_ms, Some(420));
    assert_eq!(turn.duration_ms(), 2500);
    assert_eq!(turn.session_id, Some(session_uuid("run-42")));
    // sonnet 4: 200*3 + 200*15 + 1000*0.3 + 300*3.75 per 1M
    assert!(
        (turn.cost_usd - 0.005025).abs() < 1e-12,
        "{}",
        turn.cost_usd
    );
}

#[test]
fn a_producer_sending_uncached_input_is_recognised() {
    assert_eq!(uncached_input(100, 1000, 300, true), 100);
    assert_eq!(uncached_input(1500, 1000, 300, false), 1500);
    assert_eq!(uncached_input(1300, 1000, 300, true), 0);
}

#[test]
fn non_uuid_session_ids_map_to_a_stable_uuid() {
    let uuid = "9f0c1f7e-3f55-4a5e-8a53-1b8f3f1f2b10";
    assert_eq!(session_uuid(uuid).to_string(), uuid);
    assert_eq!(session_uuid("run-42"), session_uuid("run-42"));
    assert_ne!(session_uuid("run-42"), session_uuid("run-43"));
}

#[test]
fn broken_spans_are_rejected_with_a_reason_and_the_rest_kept() {
    let mut bad_ids = span(2, vec![kv("gen_ai.operation.name", s("chat"))]);
    bad_ids.trace_id = vec![1; 5];
    let mut backwards = span(3, vec![kv("gen_ai.operation.name", s("chat"))]);
    backwards.end_time_unix_nano = 1;
    let negative = span(
        4,
        vec![
            kv("gen_ai.operation.name", s("chat")),
            kv("gen_ai.usage.output_tokens", Any::IntValue(-5)),
        ],
    );
    let good = span(5, vec![kv("gen_ai.operation.name", s("chat"))]);
    let batch = map(vec![bad_ids, backwards, negative, good]);
    assert_eq!(batch.turns.len(), 1);
    let reasons: Vec<_> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("trace id"));
    assert!(reasons[1].contains("end time"));
    assert!(reasons[2].contains("negative"));
}

#[test]
fn session_status_and_target_come_from_the_session_span() {
    let mut failed = span(
        1,
        vec![
            kv("gen_ai.operation.name", s("invoke_agent")),
            kv("gen_ai.conversation.id", s("a")),
            kv("acd.target.id", s("0b7b3c0e-4f43-4d1e-9d7a-2f3a4b5c6d7e")),
            kv("acd.target.name", s("repo")),
            kv("acd.session.features_completed", s("3")),
        ],
    );
    failed.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    let batch = map(vec![failed]);
    let session = &batch.sessions[0];
    assert_eq!(session.status, SessionStatus::Failed);
    assert_eq!(session.status_message.as_deref(), Some("boom"));
    assert_eq!(session.features_completed, Some(3));
    assert_eq!(session.target_name.as_deref(), Some("repo"));
    assert_eq!(session.wall_clock_ms(), 2500);
}
