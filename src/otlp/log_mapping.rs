//! Maps Claude Code's telemetry events (OTLP log records) to domain records, per
//! docs/claude-code-telemetry.md:
//! - `claude_code.api_request` → a turn (tokens, Claude Code's own cost, latency);
//! - `claude_code.api_error` (and its companion `api_retries_exhausted`) → a retry;
//! - `claude_code.tool_result` → a tool call (with its file path when Claude Code sends one).
//!
//! Events carry no span identity, so each record gets a deterministic synthetic key (see
//! [`crate::domain::synthetic_key`]): a resent batch maps to the same keys and changes nothing.
//! Where an API request id or tool-use id exists it names the key, so the beta trace spans
//! describing the same call (`claude_code.llm_request`, `claude_code.tool`) dedupe against it.

use crate::domain::limits::Invalid;
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as Any};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_json::Value;

use super::attributes::{self, Attributes};
use super::claude_code::{self, CallFacts};
use crate::domain::{
    Rejection, RetryRecord, SessionTarget, SpanBatch, retry_reason, session_uuid, synthetic_key,
};
use crate::pricing::PriceTable;

pub fn map_logs(request: &ExportLogsServiceRequest, prices: &PriceTable) -> SpanBatch {
    let mut batch = SpanBatch::default();
    for resource_logs in &request.resource_logs {
        let resource = resource_logs
            .resource
            .as_ref()
            .map_or(&[][..], |r| r.attributes.as_slice());
        for scope_logs in &resource_logs.scope_logs {
            for record in &scope_logs.log_records {
                let name = event_name(record);
                if let Err(reason) = map_record(record, &name, resource, prices, &mut batch) {
                    batch.rejected.push(Rejection {
                        span_name: name,
                        reason: reason.to_string(),
                    });
                }
            }
        }
    }
    batch
}

/// The event name without its `claude_code.` prefix, from wherever this version put it: the
/// OTLP `event_name` field, the `event.name` attribute, or the body (the bare name).
fn event_name(record: &LogRecord) -> String {
    let body = match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Any::StringValue(s)) => s.as_str(),
        _ => "",
    };
    let attr = Attributes::new(&record.attributes, &[]).str("event.name");
    let name = [
        record.event_name.as_str(),
        attr.as_deref().unwrap_or(""),
        body,
    ]
    .into_iter()
    .map(str::trim)
    .find(|n| !n.is_empty())
    .unwrap_or("");
    name.strip_prefix("claude_code.")
        .unwrap_or(name)
        .to_string()
}

fn map_record(
    record: &LogRecord,
    name: &str,
    resource: &[KeyValue],
    prices: &PriceTable,
    batch: &mut SpanBatch,
) -> Result<(), Invalid> {
    if !matches!(
        name,
        "api_request" | "api_error" | "api_retries_exhausted" | "tool_result"
    ) {
        batch.ignored += 1;
        return Ok(());
    }
    let attrs = Attributes::new(&record.attributes, resource);
    let external = attrs
        .str("session.id")
        .ok_or("Claude Code event without session.id")?;
    let session = session_uuid(&external);
    let at = event_time(record, &attrs).ok_or("event without a usable timestamp")?;
    // OTEL_RESOURCE_ATTRIBUTES="acd.target.id=…" on Claude Code names the repository it works on.
    if let Some(target) = attrs.str("acd.target.id") {
        let named = SessionTarget {
            session_id: session,
            target_id: session_uuid(&target),
            target_name: attrs.str("acd.target.name"),
        };
        if !batch.session_targets.contains(&named) {
            batch.session_targets.push(named);
        }
    }
    let mut json = attributes::to_json(&record.attributes);
    if !resource.is_empty() {
        json["otel.resource"] = attributes::to_json(resource);
    }
    // What identifies this event when no request or tool-use id does: the record itself.
    let fallback_id = format!("{name}:{}:{}", at.timestamp_nanos_opt().unwrap_or(0), json);
    let facts = CallFacts {
        attrs: &attrs,
        session,
        external_id: &external,
        ended_at: at,
        json,
    };
    match name {
        "api_request" => batch
            .turns
            .push(claude_code::turn(facts, &fallback_id, prices, None)?),
        "tool_result" => batch
            .tools
            .push(claude_code::tool(facts, &fallback_id, None)?),
        _ => batch.retries.push(retry(name, facts)),
    }
    Ok(())
}

/// `api_error` is logged once, after Claude Code gave up; `attempt` counts every attempt. More
/// than one attempt means the retries ran out, which `api_retries_exhausted` also says: both
/// events map to the same key, so the pair is one retry row.
fn retry(name: &str, f: CallFacts<'_>) -> RetryRecord {
    let a = f.attrs;
    let attempts = if name == "api_retries_exhausted" {
        a.int("total_attempts")
    } else {
        a.int("attempt")
    }
    .filter(|n| *n > 0)
    .unwrap_or(1);
    // "undefined" was sent for non-HTTP errors by older versions.
    let status = a.int("status_code");
    let error = a.str("error");
    let model = a.str("model");
    let anchor = a
        .str("prompt.id")
        .unwrap_or_else(|| f.ended_at.timestamp().to_string());
    let description = format!(
        "cc:api_failure:{anchor}:{}:{attempts}:{}:{}",
        model.as_deref().unwrap_or(""),
        status.map_or(String::new(), |s| s.to_string()),
        error.as_deref().unwrap_or(""),
    );
    let wait_ms = a
        .int("total_retry_duration_ms")
        .or_else(|| a.int("duration_ms"))
        .filter(|n| *n >= 0);
    RetryRecord {
        key: synthetic_key(f.session, &description),
        session_id: Some(f.session),
        session_external_id: Some(f.external_id.to_string()),
        retry_number: i32::try_from(attempts).unwrap_or(i32::MAX),
        reason: retry_reason(status, error.as_deref()),
        original_model: model,
        fallback_model: None,
        wait_ms,
        succeeded: Some(false),
        exhausted: attempts > 1,
        error_message: error,
        at: f.ended_at,
        attributes: f.json,
    }
}

/// The record's time, else its observed time, else the `event.timestamp` attribute (ISO 8601).
fn event_time(record: &LogRecord, attrs: &Attributes<'_>) -> Option<DateTime<Utc>> {
    [record.time_unix_nano, record.observed_time_unix_nano]
        .into_iter()
        .find(|t| *t > 0)
        .and_then(|t| i64::try_from(t).ok())
        .map(DateTime::from_timestamp_nanos)
        .or_else(|| {
            let text = attrs.str("event.timestamp")?;
            DateTime::parse_from_rfc3339(&text)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .filter(|t| t.timestamp() > 0 && t.timestamp() < 7_258_118_400)
}

/// A JSON object from a JSON-string attribute (`tool_input`, `tool_parameters`), if it is one.
pub fn json_attribute(attrs: &Attributes<'_>, key: &str) -> Option<Value> {
    let text = attrs.str(key)?;
    serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object)
}
