//! Claude Code's telemetry events as its documentation describes them
//! (code.claude.com/docs/en/monitoring-usage, "Events"), built as the official OpenTelemetry
//! Rust SDK represents log records and exported with the official OTLP log exporter.

use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::{InstrumentationScope, Key, KeyValue, Value};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, SdkLogRecord, SdkLoggerProvider};

use super::spans::Transport;

/// Claude Code's meter and logger scope name.
pub const SCOPE: &str = "com.anthropic.claude_code";

/// One event: its full name (`claude_code.api_request`), time, and its own attributes; the
/// standard attributes (session.id, user.id, event.name, event.timestamp, ...) are added.
pub struct Event {
    pub name: &'static str,
    pub at: SystemTime,
    pub attributes: Vec<KeyValue>,
}

pub fn event(name: &'static str, at: SystemTime, attributes: Vec<KeyValue>) -> Event {
    Event {
        name,
        at,
        attributes,
    }
}

/// The records of one Claude Code session, shaped as Claude Code sends them: the body is the
/// bare event name, `event.name` the short name, and every datum is an attribute.
pub fn records(session_id: &str, events: &[Event], extra: &[KeyValue]) -> Vec<SdkLogRecord> {
    let provider = SdkLoggerProvider::builder().build();
    let logger = provider.logger(SCOPE);
    events
        .iter()
        .enumerate()
        .map(|(sequence, e)| {
            let mut record = logger.create_log_record();
            record.set_event_name(e.name);
            record.set_body(AnyValue::from(e.name.to_string()));
            record.set_timestamp(e.at);
            record.set_observed_timestamp(e.at);
            let short = e.name.trim_start_matches("claude_code.").to_string();
            let iso = chrono::DateTime::<chrono::Utc>::from(e.at).to_rfc3339();
            let standard = [
                KeyValue::new("session.id", session_id.to_string()),
                KeyValue::new("user.id", "4f1d0c8a9b7e"),
                KeyValue::new("organization.id", "8d3c2b1a-0000-4000-8000-000000000001"),
                KeyValue::new("terminal.type", "tmux"),
                KeyValue::new("event.name", short),
                KeyValue::new("event.timestamp", iso),
                KeyValue::new("event.sequence", sequence as i64),
                KeyValue::new("prompt.id", "6a0e7c58-2b9d-4e57-9f1a-3c5d7e9f1b2d"),
            ];
            for kv in standard.iter().chain(&e.attributes).chain(extra) {
                record.add_attribute(kv.key.clone(), any(&kv.value));
            }
            record
        })
        .collect()
}

fn any(value: &Value) -> AnyValue {
    match value {
        Value::Bool(b) => AnyValue::Boolean(*b),
        Value::I64(i) => AnyValue::Int(*i),
        Value::F64(f) => AnyValue::Double(*f),
        other => AnyValue::String(other.to_string().into()),
    }
}

/// Exports `records` with the official OTLP log exporter, as Claude Code's SDK would.
pub async fn export(
    transport: Transport,
    app: &super::TestApp,
    records: &[SdkLogRecord],
    resource: Vec<KeyValue>,
) -> Result<(), String> {
    let timeout = std::time::Duration::from_secs(10);
    let mut exporter = match transport {
        Transport::HttpProtobuf | Transport::HttpJson => opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_protocol(match transport {
                Transport::HttpJson => Protocol::HttpJson,
                _ => Protocol::HttpBinary,
            })
            .with_endpoint(format!("{}/v1/logs", app.otlp_http))
            .with_timeout(timeout)
            .build(),
        Transport::Grpc => opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .with_endpoint(app.otlp_grpc.clone())
            .with_timeout(timeout)
            .build(),
    }
    .map_err(|e| e.to_string())?;
    let mut attributes = vec![
        KeyValue::new("service.name", "claude-code"),
        KeyValue::new("service.version", "2.1.201"),
        KeyValue::new("os.type", "linux"),
    ];
    attributes.extend(resource);
    exporter.set_resource(
        &Resource::builder_empty()
            .with_attributes(attributes)
            .build(),
    );
    let scope = InstrumentationScope::builder(SCOPE).build();
    let pairs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
        records.iter().map(|r| (r, &scope)).collect();
    exporter
        .export(LogBatch::new(&pairs))
        .await
        .map_err(|e| e.to_string())
}

pub fn key(k: &'static str) -> Key {
    Key::from_static_str(k)
}
