//! Generators of input shaped like the real thing: OTLP requests whose attributes use the keys
//! the mappers read, Claude CLI stream-json/transcript lines, and JUnit XML.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use proptest::prelude::*;

/// Keys the mappers read, so generated spans and events hit every rule, plus free text.
const KEYS: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.conversation.id",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.tool.name",
    "acd.turn.number",
    "acd.target.id",
    "acd.target.name",
    "acd.session.features_completed",
    "acd.usage.input_includes_cache",
    "acd.cost_usd",
    "acd.tool.file_path",
    "session.id",
    "event.name",
    "event.timestamp",
    "request_id",
    "tool_use_id",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "duration_ms",
    "ttft_ms",
    "success",
    "model",
    "type",
    "attempt",
    "status_code",
];

const VALUES: &[&str] = &[
    "invoke_agent",
    "chat",
    "execute_tool",
    "claude_code.api_request",
    "claude_code.api_error",
    "claude_code.tool_result",
    "api_request",
    "claude-sonnet-4-5",
    "12",
    "-3",
    "1e309",
    "NaN",
    "2025-01-01T00:00:00Z",
    "true",
    "",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(VALUES).prop_map(String::from),
        ".{0,24}",
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        text().prop_map(Value::StringValue),
        any::<i64>().prop_map(Value::IntValue),
        any::<f64>().prop_map(Value::DoubleValue),
        any::<bool>().prop_map(Value::BoolValue),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::BytesValue),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|values| {
                Value::ArrayValue(ArrayValue {
                    values: values
                        .into_iter()
                        .map(|v| AnyValue { value: Some(v) })
                        .collect(),
                })
            }),
            prop::collection::vec((text(), inner), 0..4).prop_map(|kvs| {
                Value::KvlistValue(KeyValueList {
                    values: kvs
                        .into_iter()
                        .map(|(key, v)| KeyValue {
                            key,
                            value: Some(AnyValue { value: Some(v) }),
                            ..Default::default()
                        })
                        .collect(),
                })
            }),
        ]
    })
    .prop_map(|v| AnyValue { value: Some(v) })
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    let key = prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(String::from),
        1 => text(),
    ];
    prop::collection::vec((key, prop::option::weighted(0.95, any_value())), 0..10).prop_map(|kvs| {
        kvs.into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value,
                ..Default::default()
            })
            .collect()
    })
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), len),
        1 => prop::collection::vec(any::<u8>(), 0..len + 3),
    ]
}

fn nanos() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 1_600_000_000_000_000_000u64..1_900_000_000_000_000_000,
        1 => any::<u64>(),
        1 => Just(0u64),
    ]
}

fn span() -> impl Strategy<Value = Span> {
    let names = prop_oneof![
        Just("claude_code.llm_request".to_string()),
        Just("claude_code.tool".to_string()),
        Just("acd.test_run".to_string()),
        Just("acd.retry".to_string()),
        text(),
    ];
    (
        (id(16), id(8), id(8), names),
        (nanos(), nanos(), attributes(), 0..4i32, text()),
        prop::collection::vec((text(), nanos(), attributes()), 0..3),
    )
        .prop_map(
            |(
                (trace_id, span_id, parent_span_id, name),
                (start, end, attributes, code, message),
                events,
            )| Span {
                trace_id,
                span_id,
                parent_span_id,
                name,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                status: Some(Status { message, code }),
                events: events
                    .into_iter()
                    .map(|(name, time_unix_nano, attributes)| span::Event {
                        name,
                        time_unix_nano,
                        attributes,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        )
}

pub fn traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    prop::collection::vec((attributes(), prop::collection::vec(span(), 0..6)), 0..3).prop_map(
        |groups| ExportTraceServiceRequest {
            resource_spans: groups
                .into_iter()
                .map(|(attributes, spans)| ResourceSpans {
                    resource: Some(Resource {
                        attributes,
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        },
    )
}

pub fn logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let record = (
        text(),
        nanos(),
        nanos(),
        attributes(),
        prop::option::of(any_value()),
    )
        .prop_map(|(event_name, time, observed, attributes, body)| LogRecord {
            event_name,
            time_unix_nano: time,
            observed_time_unix_nano: observed,
            attributes,
            body,
            ..Default::default()
        });
    (attributes(), prop::collection::vec(record, 0..8)).prop_map(|(resource, log_records)| {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    })
}

pub fn metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    let names = prop_oneof![
        Just("claude_code.token.usage".to_string()),
        Just("claude_code.cost.usage".to_string()),
        Just("claude_code.session.count".to_string()),
        Just("claude_code.lines_of_code.count".to_string()),
        text(),
    ];
    let point = (
        attributes(),
        nanos(),
        nanos(),
        any::<f64>(),
        any::<i64>(),
        any::<bool>(),
    )
        .prop_map(|(attributes, start, time, d, i, as_int)| NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: Some(if as_int {
                number_data_point::Value::AsInt(i)
            } else {
                number_data_point::Value::AsDouble(d)
            }),
            ..Default::default()
        });
    let metric = (
        names,
        prop::collection::vec(point, 0..5),
        0..4i32,
        any::<bool>(),
    )
        .prop_map(|(name, data_points, temporality, is_monotonic)| Metric {
            name,
            data: Some(Data::Sum(Sum {
                data_points,
                aggregation_temporality: temporality,
                is_monotonic,
            })),
            ..Default::default()
        });
    (attributes(), prop::collection::vec(metric, 0..5)).prop_map(|(resource, metrics)| {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    })
}

/// A stream-json / transcript line: a JSON object of the shapes the CLI writes, or free text.
pub fn claude_line() -> BoxedStrategy<String> {
    let json = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
    ];
    let value = json.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec(
                (
                    prop::sample::select(
                        &[
                            "type",
                            "subtype",
                            "message",
                            "content",
                            "usage",
                            "model",
                            "id",
                            "session_id",
                            "uuid",
                            "timestamp",
                            "input_tokens",
                            "output_tokens",
                            "cache_read_input_tokens",
                            "cache_creation_input_tokens",
                            "name",
                            "tool_use_id",
                            "is_error",
                            "total_cost_usd",
                            "duration_ms",
                            "event",
                            "delta",
                            "stop_reason",
                            "text",
                            "result",
                            "num_turns",
                            "error",
                            "retry",
                            "attempt",
                            "parent_tool_use_id",
                        ][..]
                    ),
                    inner,
                ),
                0..6,
            )
            .prop_map(|kvs| {
                serde_json::Value::Object(
                    kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                )
            }),
        ]
    });
    let typed = (
        prop::sample::select(
            &[
                "system",
                "assistant",
                "user",
                "result",
                "stream_event",
                "summary",
            ][..],
        ),
        value,
    )
        .prop_map(|(kind, mut v)| {
            if let serde_json::Value::Object(map) = &mut v {
                map.insert("type".into(), kind.into());
            }
            v.to_string()
        });
    prop_oneof![4 => typed, 1 => ".{0,40}"].boxed()
}

pub fn junit_xml() -> impl Strategy<Value = String> {
    let case = (
        text(),
        text(),
        prop::option::of(".{0,8}"),
        prop::sample::select(
            &[
                "",
                "<failure message=\"x\"/>",
                "<error/>",
                "<skipped/>",
                "<failure>",
            ][..],
        ),
    )
        .prop_map(|(name, class, time, body)| {
            let time = time.map(|t| format!(" time=\"{t}\"")).unwrap_or_default();
            format!("<testcase name=\"{name}\" classname=\"{class}\"{time}>{body}</testcase>")
        });
    (
        prop::collection::vec(case, 0..6),
        prop::option::of(".{0,6}"),
        any::<bool>(),
    )
        .prop_map(|(cases, tests, nested)| {
            let tests = tests.map(|t| format!(" tests=\"{t}\"")).unwrap_or_default();
            let suite = format!(
                "<testsuite name=\"s\"{tests}>{}</testsuite>",
                cases.join("")
            );
            if nested {
                format!("<?xml version=\"1.0\"?><testsuites>{suite}</testsuites>")
            } else {
                suite
            }
        })
}
