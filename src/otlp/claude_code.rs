//! Claude Code's API calls and tool calls, from either of the two ways Claude Code reports them:
//! events (`claude_code.api_request`, `claude_code.tool_result`) and its beta trace spans
//! (`claude_code.llm_request`, `claude_code.tool`). Both name the same attributes, and both key
//! a call by its API request id or tool-use id, so a call reported both ways is stored once.

use crate::domain::limits::Invalid;
use chrono::{DateTime, Duration, Utc};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::Value;
use uuid::Uuid;

use super::attributes::Attributes;
use super::log_mapping::json_attribute;
use crate::domain::{CallKind, RetryRecord, TokenUsage, ToolCallRecord, TurnRecord, synthetic_key};
use crate::pricing::PriceTable;

/// What every Claude Code call record starts from.
pub struct CallFacts<'a> {
    pub attrs: &'a Attributes<'a>,
    pub session: Uuid,
    pub external_id: &'a str,
    /// When the call ended (an event's timestamp, a span's end).
    pub ended_at: DateTime<Utc>,
    pub json: Value,
}

impl CallFacts<'_> {
    /// A span gives its start; an event only its end and `duration_ms`.
    fn started_at(&self, span_start: Option<DateTime<Utc>>) -> DateTime<Utc> {
        span_start.unwrap_or_else(|| {
            let ms = self
                .attrs
                .int("duration_ms")
                .filter(|d| *d >= 0)
                .unwrap_or(0);
            self.ended_at - Duration::milliseconds(ms)
        })
    }

    fn count(&self, key: &str) -> Result<i64, Invalid> {
        crate::domain::limits::token_count(key, self.attrs.int(key))
    }

    fn failed(&self) -> bool {
        self.attrs.bool("success") == Some(false)
    }
}

/// One API request. Claude Code's `input_tokens` already excludes cache reads and writes.
pub fn turn(
    f: CallFacts<'_>,
    fallback_id: &str,
    prices: &PriceTable,
    span_start: Option<DateTime<Utc>>,
) -> Result<TurnRecord, Invalid> {
    let cache_write = f.count("cache_creation_tokens")?;
    let usage = TokenUsage {
        input: f.count("input_tokens")?,
        output: f.count("output_tokens")?,
        cache_read: f.count("cache_read_tokens")?,
        cache_write,
        // 2.1.3xx `api_request` events split cache writes by TTL (`cache_creation_5m_tokens`,
        // `cache_creation_1h_tokens`); older versions and the beta spans do not, and then all
        // writes are priced as 5-minute writes.
        cache_write_1h: f.count("cache_creation_1h_tokens")?.min(cache_write),
    };
    let model = crate::domain::limits::model_name(
        f.attrs
            .str("model")
            .or_else(|| f.attrs.str("gen_ai.request.model"))
            .unwrap_or_else(|| "unknown".into()),
    )?;
    let cost = prices.cost(&model, &usage);
    // Spans name the source `query_source_safe` when the full one is withheld; a call made
    // from inside a tool (`llm_request.context = tool`, e.g. WebFetch's summary) is a side call
    // whatever its source says.
    let query_source = f
        .attrs
        .str("query_source")
        .or_else(|| f.attrs.str("query_source_safe"));
    let call_kind = match CallKind::of_query_source(query_source.as_deref()) {
        CallKind::Main if f.attrs.str("llm_request.context").as_deref() == Some("tool") => {
            CallKind::Side
        }
        kind => kind,
    };
    let id = match f.attrs.str("request_id") {
        Some(request) => format!("cc:request:{request}"),
        None => fallback_id.to_string(),
    };
    Ok(TurnRecord {
        key: synthetic_key(f.session, &id),
        parent_span_id: None,
        session_id: Some(f.session),
        session_external_id: Some(f.external_id.to_string()),
        turn_number: None,
        provider: Some("anthropic".into()),
        context_window: prices.context_window(&model),
        cost_usd: cost.unwrap_or(0.0),
        reported_cost_usd: crate::domain::limits::reported_cost(
            "cost_usd",
            f.attrs.float("cost_usd"),
        )?,
        priced: cost.is_some(),
        response_model: None,
        reported_input_tokens: f.attrs.int("input_tokens"),
        usage,
        started_at: f.started_at(span_start),
        finished_at: f.ended_at,
        time_to_first_token_ms: f.attrs.int("ttft_ms").filter(|t| *t >= 0),
        failed: f.failed(),
        model,
        call_kind,
        query_source,
        attributes: f.json,
    })
}

/// One tool call. Claude Code names the file only with `OTEL_LOG_TOOL_DETAILS=1`: as
/// `file_path` on spans, inside the `tool_input` JSON string on events.
pub fn tool(
    f: CallFacts<'_>,
    fallback_id: &str,
    span_start: Option<DateTime<Utc>>,
) -> Result<ToolCallRecord, Invalid> {
    let tool_name = f
        .attrs
        .str("tool_name")
        .ok_or("tool call without tool_name")?;
    let id = match f.attrs.str("tool_use_id") {
        Some(tool_use) => format!("cc:tool:{tool_use}"),
        None => fallback_id.to_string(),
    };
    let file_path = f.attrs.str("file_path").or_else(|| {
        ["tool_input", "tool_parameters"]
            .into_iter()
            .filter_map(|key| json_attribute(f.attrs, key))
            .find_map(|input| {
                ["file_path", "notebook_path", "path"]
                    .into_iter()
                    .find_map(|k| input.get(k)?.as_str().map(str::to_string))
            })
    });
    // Every `tool_result` (2.1.3xx) names the API request that asked for the tool: its turn
    // is keyed by that request id (see [`turn`]), so the call is placed under it whatever the
    // timing. Without one, the store places it by time (the latest turn ended before it).
    let parent_span_id = f
        .attrs
        .str("request_id")
        .map(|request| synthetic_key(f.session, &format!("cc:request:{request}")).span_id);
    Ok(ToolCallRecord {
        key: synthetic_key(f.session, &id),
        parent_span_id,
        session_id: Some(f.session),
        session_external_id: Some(f.external_id.to_string()),
        tool_name,
        file_path,
        started_at: f.started_at(span_start),
        finished_at: f.ended_at,
        failed: f.failed(),
        attributes: f.json,
    })
}

/// The start of each attempt of a `claude_code.llm_request` span, in attempt order: one
/// `gen_ai.request.attempt` event per attempt (2.1.3xx), the last one the attempt that answered.
pub fn attempts(span: &Span) -> Vec<DateTime<Utc>> {
    let mut attempts: Vec<(i64, DateTime<Utc>)> = span
        .events
        .iter()
        .filter(|e| e.name == "gen_ai.request.attempt" && e.time_unix_nano > 0)
        .map(|e| {
            let n = Attributes::new(&e.attributes, &[])
                .int("attempt")
                .unwrap_or(0);
            let at = DateTime::from_timestamp_nanos(e.time_unix_nano.min(i64::MAX as u64) as i64);
            (n, at)
        })
        .collect();
    attempts.sort();
    attempts.into_iter().map(|(_, at)| at).collect()
}

/// Every attempt but the last failed and was retried: one retry each. The span names no status
/// or error for them, so the reason is `error`; the wait is from that attempt's start to the
/// next one's (the failed attempt and the back-off). The last retry succeeded when the call did.
/// Keyed by request id and attempt, so a resent span adds nothing.
pub fn retried_attempts(turn: &TurnRecord, attempts: &[DateTime<Utc>]) -> Vec<RetryRecord> {
    let Some(session) = turn.session_id else {
        return Vec::new();
    };
    let request = turn.attributes["request_id"].as_str().unwrap_or("");
    let retried = attempts.len().saturating_sub(1);
    (0..retried)
        .map(|i| RetryRecord {
            key: synthetic_key(session, &format!("cc:retry:{request}:{}", i + 1)),
            session_id: Some(session),
            session_external_id: turn.session_external_id.clone(),
            retry_number: i as i32 + 1,
            reason: crate::domain::RetryReason::Error,
            original_model: Some(turn.model.clone()),
            fallback_model: None,
            wait_ms: Some((attempts[i + 1] - attempts[i]).num_milliseconds().max(0)),
            succeeded: Some(i + 1 == retried && !turn.failed),
            exhausted: false,
            error_message: Some(format!(
                "attempt {} of request {request} failed (Claude Code's span names no status)",
                i + 1
            )),
            at: attempts[i],
            attributes: serde_json::json!({"claude_code.attempt": i + 1,
                                           "claude_code.request_id": request}),
        })
        .collect()
}
