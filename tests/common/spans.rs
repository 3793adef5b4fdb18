//! Builds spans of the span contract as the official OpenTelemetry Rust SDK represents them, and
//! exports them with the official OTLP exporter (opentelemetry-otlp) over HTTP or gRPC.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};

pub const MODEL: &str = "claude-sonnet-4-5-20250929";
pub const TARGET_ID: &str = "0b7b3c0e-4f43-4d1e-9d7a-2f3a4b5c6d7e";

#[derive(Clone, Copy, Debug)]
pub enum Transport {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

/// Base time of every test span: fixed and recent (token-usage queries look back N days).
pub fn t0() -> SystemTime {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    // Midnight UTC of yesterday + 1h, so all spans of a test fall on one day.
    let day = now.as_secs() / 86_400 - 1;
    SystemTime::UNIX_EPOCH + Duration::from_secs(day * 86_400 + 3_600)
}

pub fn at(ms: u64) -> SystemTime {
    t0() + Duration::from_millis(ms)
}

fn span(
    trace: u128,
    span: u64,
    parent: u64,
    name: &'static str,
    (start, end): (u64, u64),
    attributes: Vec<KeyValue>,
) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: if parent == 0 {
            SpanId::INVALID
        } else {
            SpanId::from(parent)
        },
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed(name),
        start_time: at(start),
        end_time: at(end),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("acd-test-harness").build(),
    }
}

/// A session span covering `[start, end]` ms after [`t0`].
pub fn session(trace: u128, span_id: u64, conversation: &str, window: (u64, u64)) -> SpanData {
    span(
        trace,
        span_id,
        0,
        "invoke_agent harness",
        window,
        vec![
            KeyValue::new("gen_ai.operation.name", "invoke_agent"),
            KeyValue::new("gen_ai.conversation.id", conversation.to_string()),
            KeyValue::new("acd.target.id", TARGET_ID),
            KeyValue::new("acd.target.name", "demo-repo"),
            KeyValue::new("acd.session.features_completed", 2_i64),
        ],
    )
}

/// Token counts of a turn as sent (semconv: `input` includes the cached tokens).
#[derive(Clone, Copy, Debug)]
pub struct Tokens {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
}

/// A turn span, child of `parent`, carrying no conversation id (found through its trace).
pub fn turn(
    trace: u128,
    span_id: u64,
    parent: u64,
    number: i64,
    window: (u64, u64),
    tokens: Tokens,
    ttft_s: f64,
) -> SpanData {
    span(
        trace,
        span_id,
        parent,
        "chat claude",
        window,
        vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "anthropic"),
            KeyValue::new("gen_ai.request.model", MODEL),
            KeyValue::new("gen_ai.usage.input_tokens", tokens.input),
            KeyValue::new("gen_ai.usage.output_tokens", tokens.output),
            KeyValue::new("gen_ai.usage.cache_read.input_tokens", tokens.cache_read),
            KeyValue::new(
                "gen_ai.usage.cache_creation.input_tokens",
                tokens.cache_write,
            ),
            KeyValue::new("gen_ai.response.time_to_first_chunk", ttft_s),
            KeyValue::new("acd.turn.number", number),
            KeyValue::new("harness.custom", "kept"),
        ],
    )
}

pub fn tool(
    trace: u128,
    span_id: u64,
    parent: u64,
    name: &'static str,
    path: &str,
    window: (u64, u64),
) -> SpanData {
    span(
        trace,
        span_id,
        parent,
        "execute_tool",
        window,
        vec![
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", name),
            KeyValue::new("acd.tool.file_path", path.to_string()),
        ],
    )
}

/// A span that is none of ours (acknowledged, not stored).
pub fn unrelated(trace: u128, span_id: u64) -> SpanData {
    span(
        trace,
        span_id,
        0,
        "GET /",
        (0, 5),
        vec![KeyValue::new("http.request.method", "GET")],
    )
}

/// Exports with the official OTLP exporter; Err carries the exporter's error text.
pub async fn export(
    transport: Transport,
    app: &super::TestApp,
    spans: Vec<SpanData>,
) -> Result<(), String> {
    let timeout = Duration::from_secs(10);
    let exporter = match transport {
        Transport::HttpProtobuf | Transport::HttpJson => {
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(match transport {
                    Transport::HttpJson => Protocol::HttpJson,
                    _ => Protocol::HttpBinary,
                })
                .with_endpoint(format!("{}/v1/traces", app.otlp_http))
                .with_timeout(timeout)
                .build()
        }
        Transport::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(app.otlp_grpc.clone())
            .with_timeout(timeout)
            .build(),
    }
    .map_err(|e| e.to_string())?;
    exporter.export(spans).await.map_err(|e| e.to_string())
}
