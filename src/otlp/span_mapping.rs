//! Maps OTLP spans to domain records following the span contract in
//! docs/semantic-conventions.md: which spans are sessions, turns and tools, and what each
//! attribute means. Pure functions, so every rule is unit-testable without a server.

use crate::domain::limits::Invalid;
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use serde_json::Value;

use super::attributes::{self, Attributes};
use crate::domain::{
    CallKind, Rejection, SessionRecord, SessionStatus, SpanBatch, SpanKey, TokenUsage,
    ToolCallRecord, TurnRecord, limits, session_uuid,
};
use crate::pricing::PriceTable;

/// Timestamps past this many seconds after the Unix epoch (year 2200) are refused as garbage.
const MAX_UNIX_SECONDS: i64 = 7_258_118_400;

pub fn map_request(request: &ExportTraceServiceRequest, prices: &PriceTable) -> SpanBatch {
    let mut batch = SpanBatch::default();
    for resource_spans in &request.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map_or(&[][..], |r| r.attributes.as_slice());
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                if let Err(reason) = map_span(span, resource, prices, &mut batch) {
                    batch.rejected.push(Rejection {
                        span_name: span.name.clone(),
                        reason: reason.to_string(),
                    });
                }
            }
        }
    }
    batch
}

/// The common part of every span we store.
struct SpanFacts<'a> {
    key: SpanKey,
    parent_span_id: Option<Vec<u8>>,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    failed: bool,
    status_message: Option<String>,
    attrs: Attributes<'a>,
    json: Value,
}

fn map_span(
    span: &Span,
    resource: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    prices: &PriceTable,
    batch: &mut SpanBatch,
) -> Result<(), Invalid> {
    let attrs = Attributes::new(&span.attributes, resource);
    // Claude Code's beta spans first: `claude_code.tool` also says `execute_tool` and
    // `claude_code.interaction` (one prompt's work, not the session) `invoke_agent`.
    if span.name.starts_with("claude_code.") {
        return claude_code_span(span, resource, attrs, prices, batch);
    }
    let operation = attrs.str("gen_ai.operation.name");
    let kind = match operation.as_deref() {
        Some("invoke_agent") => Kind::Session,
        Some("chat" | "text_completion" | "generate_content") => Kind::Turn,
        Some("execute_tool") => Kind::Tool,
        _ if span.name == super::test_run_spans::TEST_RUN_SPAN => {
            let f = span_facts(span, resource, attrs)?;
            let run =
                super::test_run_spans::test_run(span, resource, f.key, f.started_at, f.ended_at);
            batch.test_runs.push(run);
            return Ok(());
        }
        _ if span.name == super::retry_events::RETRY_EVENT => {
            span_facts(span, resource, attrs)?;
            batch
                .retries
                .push(super::retry_events::retry_span(span, resource));
            return Ok(());
        }
        _ => {
            batch.ignored += 1;
            return Ok(());
        }
    };
    let facts = span_facts(span, resource, attrs)?;
    let model = facts.attrs.str("gen_ai.request.model");
    // A turn's retry events are retries of its call: the turn's outcome is theirs.
    let call_completed = matches!(kind, Kind::Turn).then_some(!facts.failed);
    batch.retries.extend(super::retry_events::retries_of(
        span,
        resource,
        model,
        call_completed,
    ));
    match kind {
        Kind::Session => batch.sessions.push(session(facts)),
        Kind::Turn => batch.turns.push(turn(facts, prices)?),
        Kind::Tool => batch.tools.push(tool(facts, &span.name)),
    }
    Ok(())
}

/// Claude Code's beta trace spans: keyed like its events, so a call reported both ways (events
/// and spans) is stored once. `claude_code.llm_request` is a model call and
/// `claude_code.tool` a tool call; the rest (`interaction`, `tool.execution`, hooks, ...) and
/// spans without `session.id` are acknowledged and ignored.
fn claude_code_span(
    span: &Span,
    resource: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    attrs: Attributes<'_>,
    prices: &PriceTable,
    batch: &mut SpanBatch,
) -> Result<(), Invalid> {
    let known = span.name == "claude_code.llm_request" || span.name == "claude_code.tool";
    let Some(external) = attrs.str("session.id").filter(|_| known) else {
        batch.ignored += 1;
        return Ok(());
    };
    let facts = span_facts(span, resource, attrs)?;
    let fallback_id = format!("span:{}", attributes::hex(&facts.key.span_id));
    let call = super::claude_code::CallFacts {
        attrs: &facts.attrs,
        session: session_uuid(&external),
        external_id: &external,
        ended_at: facts.ended_at,
        json: facts.json.clone(),
    };
    if span.name == "claude_code.llm_request" {
        let attempts = super::claude_code::attempts(span);
        // The call's time is its successful attempt's: from the last attempt's start.
        let start = attempts.last().map_or(facts.started_at, |a| {
            (*a).clamp(facts.started_at, facts.ended_at)
        });
        let turn = super::claude_code::turn(call, &fallback_id, prices, Some(start))?;
        batch
            .retries
            .extend(super::claude_code::retried_attempts(&turn, &attempts));
        batch.turns.push(turn);
    } else {
        let tool = super::claude_code::tool(call, &fallback_id, Some(facts.started_at))?;
        batch.tools.push(tool);
    }
    Ok(())
}

enum Kind {
    Session,
    Turn,
    Tool,
}

fn span_facts<'a>(
    span: &Span,
    resource: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    attrs: Attributes<'a>,
) -> Result<SpanFacts<'a>, Invalid> {
    if span.trace_id.len() != 16 || span.trace_id.iter().all(|b| *b == 0) {
        return Err(format!(
            "invalid trace id ({} bytes, need 16 non-zero)",
            span.trace_id.len()
        )
        .into());
    }
    if span.span_id.len() != 8 || span.span_id.iter().all(|b| *b == 0) {
        return Err(format!(
            "invalid span id ({} bytes, need 8 non-zero)",
            span.span_id.len()
        )
        .into());
    }
    let started_at =
        timestamp(span.start_time_unix_nano).ok_or("missing or out-of-range start time")?;
    let ended_at = timestamp(span.end_time_unix_nano).ok_or("missing or out-of-range end time")?;
    if ended_at < started_at {
        return Err("end time is before start time".into());
    }
    let parent_span_id = (span.parent_span_id.len() == 8).then(|| span.parent_span_id.clone());
    let status = span.status.as_ref();
    let failed = status.is_some_and(|s| s.code == StatusCode::Error as i32);
    let status_message = status.map(|s| s.message.clone()).filter(|m| !m.is_empty());
    let mut json = attributes::to_json(&span.attributes);
    if !resource.is_empty() {
        json["otel.resource"] = attributes::to_json(resource);
    }
    Ok(SpanFacts {
        key: SpanKey {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
        },
        parent_span_id,
        started_at,
        ended_at,
        failed,
        status_message,
        attrs,
        json,
    })
}

fn timestamp(unix_nanos: u64) -> Option<DateTime<Utc>> {
    let secs = (unix_nanos / 1_000_000_000) as i64;
    if unix_nanos == 0 || secs > MAX_UNIX_SECONDS {
        return None;
    }
    DateTime::from_timestamp(secs, (unix_nanos % 1_000_000_000) as u32)
}

fn session(f: SpanFacts<'_>) -> SessionRecord {
    // A session span without a conversation id is its own trace: its turns are found by trace.
    let external_id = f
        .attrs
        .str("gen_ai.conversation.id")
        .unwrap_or_else(|| attributes::hex(&f.key.trace_id));
    SessionRecord {
        id: session_uuid(&external_id),
        external_id,
        target_id: f.attrs.str("acd.target.id").map(|t| session_uuid(&t)),
        target_name: f.attrs.str("acd.target.name"),
        feature_id: f.attrs.str("acd.feature.id"),
        features_completed: f
            .attrs
            .int("acd.session.features_completed")
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n >= 0),
        status: if f.failed {
            SessionStatus::Failed
        } else {
            SessionStatus::Completed
        },
        status_message: f.status_message,
        started_at: f.started_at,
        ended_at: f.ended_at,
        attributes: f.json,
        key: f.key,
        reported: None,
    }
}

fn turn(mut f: SpanFacts<'_>, prices: &PriceTable) -> Result<TurnRecord, Invalid> {
    // Kept for the context overflow rule ("prompt is too long" in a failed call's status).
    if let Some(message) = f.status_message.as_ref().filter(|_| f.failed) {
        f.json["otel.status_message"] = Value::String(message.clone());
    }
    let count = |key: &str| limits::token_count(key, f.attrs.int(key));
    let reported_input = f.attrs.int("gen_ai.usage.input_tokens");
    let cache_read = count("gen_ai.usage.cache_read.input_tokens")?;
    let cache_write = count("gen_ai.usage.cache_creation.input_tokens")?;
    let usage = TokenUsage {
        input: uncached_input(
            count("gen_ai.usage.input_tokens")?,
            cache_read,
            cache_write,
            f.attrs
                .bool("acd.usage.input_includes_cache")
                .unwrap_or(true),
        ),
        output: count("gen_ai.usage.output_tokens")?,
        cache_read,
        cache_write,
        cache_write_1h: count("acd.usage.cache_creation_1h.input_tokens")?.min(cache_write),
    };
    let response_model = f.attrs.str("gen_ai.response.model");
    let model = limits::model_name(
        f.attrs
            .str("gen_ai.request.model")
            .or_else(|| response_model.clone())
            .unwrap_or_else(|| "unknown".into()),
    )?;
    let cost = prices.cost(&model, &usage);
    let ttft_ms = f
        .attrs
        .float("gen_ai.response.time_to_first_chunk")
        .filter(|s| *s >= 0.0)
        .map(|s| (s * 1000.0).round() as i64);
    let session_external_id = f.attrs.str("gen_ai.conversation.id");
    Ok(TurnRecord {
        session_id: session_external_id.as_deref().map(session_uuid),
        session_external_id,
        parent_span_id: f.parent_span_id,
        turn_number: f
            .attrs
            .int("acd.turn.number")
            .and_then(|n| i32::try_from(n).ok()),
        provider: f
            .attrs
            .str("gen_ai.provider.name")
            .or_else(|| f.attrs.str("gen_ai.system")),
        context_window: prices.context_window(&model),
        cost_usd: cost.unwrap_or(0.0),
        reported_cost_usd: limits::reported_cost("acd.cost_usd", f.attrs.float("acd.cost_usd"))?,
        priced: cost.is_some(),
        model,
        response_model,
        reported_input_tokens: reported_input,
        usage,
        started_at: f.started_at,
        finished_at: f.ended_at,
        time_to_first_token_ms: ttft_ms,
        failed: f.failed,
        // A GenAI span is a main turn unless the harness says otherwise (docs/semantic-conventions.md).
        call_kind: match f.attrs.str("acd.call.kind").as_deref() {
            Some("side") => CallKind::Side,
            Some("subagent") => CallKind::Subagent,
            _ => CallKind::Main,
        },
        query_source: f.attrs.str("acd.call.source"),
        attributes: f.json,
        key: f.key,
    })
}

/// Uncached input tokens. The semconv `gen_ai.usage.input_tokens` includes cache reads and
/// writes; a producer that already sends the uncached count (as Anthropic's API does) either says
/// so with `acd.usage.input_includes_cache = false`, or is recognised because its input is smaller
/// than its cached tokens, which cannot be true of an inclusive count.
pub fn uncached_input(input: i64, cache_read: i64, cache_write: i64, includes_cache: bool) -> i64 {
    let cached = cache_read + cache_write;
    if includes_cache && input >= cached {
        input - cached
    } else {
        input
    }
}

fn tool(f: SpanFacts<'_>, span_name: &str) -> ToolCallRecord {
    let session_external_id = f.attrs.str("gen_ai.conversation.id");
    ToolCallRecord {
        session_id: session_external_id.as_deref().map(session_uuid),
        session_external_id,
        parent_span_id: f.parent_span_id,
        tool_name: f
            .attrs
            .str("gen_ai.tool.name")
            .unwrap_or_else(|| span_name.to_string()),
        file_path: f.attrs.str("acd.tool.file_path"),
        started_at: f.started_at,
        finished_at: f.ended_at,
        failed: f.failed,
        attributes: f.json,
        key: f.key,
    }
}

#[cfg(test)]
#[path = "span_mapping_tests.rs"]
mod tests;
