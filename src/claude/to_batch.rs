//! Maps a [`ParsedRun`] to the domain records OTLP spans map to ([`SpanBatch`]), so stored
//! Claude runs look like any instrumented session: one session, a turn per API response, a tool
//! call per `tool_use`, a retry per `api_retry`.
//!
//! Identity: nothing here has an OTLP identity, so every record gets a synthetic, deterministic
//! key ([`synthetic_key`]) from the session UUID and a stable description ("turn:<message id>",
//! "tool:<tool_use id>", "retry:<line>:<attempt>"); ingesting the same run twice therefore
//! changes nothing. The session is `session_uuid(session_id)`; a stream with no session id gets
//! one derived from a hash of its parsed content.
//!
//! Totals: the store sums the turns unless `reported.aggregate_only`, which is set when per-turn
//! parsing is known to be incomplete (unparsable lines, a cut-off stream) or when the turns'
//! input or cache tokens disagree with the `result` line (e.g. calls missing from the stream);
//! the session totals then come from the result line.

use crate::domain::limits::Invalid;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::model::{ParsedRun, ParsedTurn, SourceFormat, Usage};
use crate::domain::{
    CallKind, ID_NAMESPACE, Rejection, ReportedTotals, RetryRecord, SessionRecord, SessionStatus,
    SpanBatch, SpanKey, TokenUsage, ToolCallRecord, TurnRecord, limits, retry_reason, session_uuid,
    synthetic_key,
};
use crate::pricing::PriceTable;

/// What the caller knows beyond the run itself.
#[derive(Debug, Clone)]
pub struct MapOptions {
    pub target_id: Option<Uuid>,
    /// When the run carries no times (a stream-json file read without a clock): its end time,
    /// e.g. the file's modification time. Kept out of the run so its content hash is stable.
    pub fallback_time: DateTime<Utc>,
}

/// The session's external id: the CLI's session id, or a hash of the parsed content.
pub fn session_external_id(run: &ParsedRun) -> String {
    match &run.session_id {
        Some(id) => id.clone(),
        None => {
            let content = serde_json::to_vec(run).unwrap_or_default();
            format!("claude-run-{}", Uuid::new_v5(&ID_NAMESPACE, &content))
        }
    }
}

pub fn to_batch(run: &ParsedRun, prices: &PriceTable, options: &MapOptions) -> SpanBatch {
    let external_id = session_external_id(run);
    let session_id = session_uuid(&external_id);
    let session_key = synthetic_key(session_id, "session");
    let (started_at, ended_at) = session_times(run, options.fallback_time);

    let mut batch = SpanBatch::default();
    // Turns are the main conversation's calls, numbered among themselves; a subagent's calls
    // (a sidechain) take the number of the turn they ran in, inferred at ingest.
    let mut main_turns = 0;
    for parsed in &run.turns {
        // A turn past the limits is refused alone; the rest of the run is stored.
        if let Err(reason) = usage_within_limits(&parsed.usage) {
            batch.rejected.push(Rejection {
                span_name: format!("turn {:?}", parsed.message_id),
                reason: reason.to_string(),
            });
            continue;
        }
        main_turns += usize::from(!parsed.sidechain);
        let number = (!parsed.sidechain).then_some(main_turns);
        let mut record = turn(
            parsed,
            number,
            (session_id, &external_id, &session_key),
            started_at,
            prices,
        );
        // The CLI's own window for the model (`modelUsage.contextWindow`) beats the price table.
        if let Some(window) = run
            .result
            .as_ref()
            .and_then(|r| r.model_usage.get(&parsed.model))
            .and_then(|u| u.context_window)
            .and_then(|w| i32::try_from(w).ok())
            .filter(|w| *w > 0)
        {
            record.context_window = window;
        }
        batch.turns.push(record);
    }
    for call in &run.tool_calls {
        let parent = synthetic_key(session_id, &format!("turn:{}", call.message_id));
        let turn_start = batch
            .turns
            .iter()
            .find(|t| t.key.span_id == parent.span_id)
            .map_or(started_at, |t| t.started_at);
        let start = call.called_at.unwrap_or(turn_start);
        batch.tools.push(ToolCallRecord {
            key: synthetic_key(session_id, &format!("tool:{}", call.id)),
            parent_span_id: Some(parent.span_id),
            session_id: Some(session_id),
            session_external_id: Some(external_id.clone()),
            tool_name: call.name.clone(),
            file_path: call.file_path.clone(),
            started_at: start,
            finished_at: call.result_at.filter(|t| *t >= start).unwrap_or(start),
            failed: call.is_error == Some(true),
            attributes: json!({
                "claude.tool_use_id": call.id,
                "claude.result_seen": call.is_error.is_some(),
                "claude.line": call.line,
            }),
        });
    }
    let failed = session_failed(run);
    for retry in &run.retries {
        // What came next decides the attempt after this retry line: a response (it succeeded),
        // another api_retry line (it failed too), or nothing (failed if the run failed).
        let next_turn = run
            .turns
            .iter()
            .map(|t| t.first_line)
            .filter(|&l| l > retry.line)
            .min();
        let next_retry = run
            .retries
            .iter()
            .map(|r| r.line)
            .filter(|&l| l > retry.line)
            .min();
        let answered = match (next_turn, next_retry) {
            (Some(turn), Some(again)) => turn < again,
            (Some(_), None) => true,
            _ => false,
        };
        let succeeded = if answered {
            Some(true)
        } else if failed || next_retry.is_some() {
            Some(false)
        } else {
            None
        };
        batch.retries.push(RetryRecord {
            key: synthetic_key(
                session_id,
                &format!("retry:{}:{}", retry.line, retry.attempt),
            ),
            session_id: Some(session_id),
            session_external_id: Some(external_id.clone()),
            retry_number: i32::try_from(retry.attempt).unwrap_or(i32::MAX),
            reason: retry_reason(retry.error_status, retry.error.as_deref()),
            original_model: run.model.clone(),
            fallback_model: None,
            wait_ms: retry.retry_delay_ms.map(|ms| ms.round() as i64),
            succeeded,
            exhausted: !answered && retry.max_retries.is_some_and(|max| retry.attempt >= max),
            error_message: retry.error.clone(),
            at: retry.at.unwrap_or(started_at),
            attributes: json!({
                "claude.max_retries": retry.max_retries,
                "claude.retry_delay_ms": retry.retry_delay_ms,
                "claude.error_status": retry.error_status,
                "claude.line": retry.line,
            }),
        });
    }
    batch.sessions.push(SessionRecord {
        key: session_key,
        id: session_id,
        external_id,
        target_id: options.target_id,
        target_name: None,
        feature_id: None,
        features_completed: None,
        status: if failed {
            SessionStatus::Failed
        } else {
            SessionStatus::Completed
        },
        status_message: status_message(run, failed),
        started_at,
        ended_at,
        attributes: session_attributes(run),
        reported: reported(run, prices),
    });
    batch
}

/// Start and end: the run's own times, else `fallback` as the end and the result line's
/// duration before it.
fn session_times(run: &ParsedRun, fallback: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    // A negative or absurd duration (hostile or corrupt input) must not overflow the clock.
    const MAX_MS: i64 = 366 * 24 * 3_600_000;
    let duration = run
        .result
        .as_ref()
        .and_then(|r| r.duration_ms)
        .map_or(Duration::zero(), |ms| {
            Duration::milliseconds(ms.clamp(0, MAX_MS))
        });
    let before = |end: DateTime<Utc>| end.checked_sub_signed(duration).unwrap_or(end);
    match (run.started_at, run.ended_at) {
        (Some(start), Some(end)) => (start, end.max(start)),
        (Some(start), None) => (start, start.checked_add_signed(duration).unwrap_or(start)),
        (None, Some(end)) => (before(end), end),
        (None, None) => (before(fallback), fallback),
    }
}

fn turn(
    parsed: &ParsedTurn,
    number: Option<usize>,
    (session_id, external_id, session_key): (Uuid, &str, &SpanKey),
    session_start: DateTime<Utc>,
    prices: &PriceTable,
) -> TurnRecord {
    let usage = token_usage(&parsed.usage);
    let cost = prices.cost(&parsed.model, &usage);
    let started_at = parsed.requested_at.unwrap_or(session_start);
    let finished_at = parsed
        .finished_at
        .filter(|t| *t >= started_at)
        .unwrap_or(started_at);
    let ttft = parsed.ttft_ms.or_else(|| {
        parsed
            .first_token_at
            .zip(parsed.requested_at)
            .map(|(first, sent)| (first - sent).num_milliseconds())
            .filter(|ms| *ms >= 0)
    });
    TurnRecord {
        key: synthetic_key(session_id, &format!("turn:{}", parsed.message_id)),
        parent_span_id: Some(session_key.span_id.clone()),
        session_id: Some(session_id),
        session_external_id: Some(external_id.to_string()),
        turn_number: number.and_then(|n| i32::try_from(n).ok()),
        provider: Some("anthropic".into()),
        model: parsed.model.clone(),
        response_model: None,
        // Anthropic's input_tokens excludes cache, unlike the semconv attribute this mirrors.
        reported_input_tokens: None,
        usage,
        started_at,
        finished_at,
        time_to_first_token_ms: ttft,
        cost_usd: cost.unwrap_or(0.0),
        reported_cost_usd: None,
        priced: cost.is_some(),
        context_window: prices.context_window(&parsed.model),
        failed: parsed.is_error,
        // Lines of a Task subagent (`parent_tool_use_id`, `isSidechain`) are its calls, not turns.
        call_kind: if parsed.sidechain {
            CallKind::Subagent
        } else {
            CallKind::Main
        },
        query_source: None,
        attributes: json!({
            "claude.message_id": parsed.message_id,
            "claude.request_id": parsed.request_id,
            "claude.stop_reason": parsed.stop_reason,
            "claude.output_source": parsed.output_source,
            "claude.reported_output_tokens": parsed.reported_output_tokens,
            "claude.cache_write_5m_tokens": parsed.usage.cache_write_5m,
            "claude.sidechain": parsed.sidechain,
            "claude.timed": parsed.requested_at.is_some(),
            "claude.lines": [parsed.first_line, parsed.last_line],
        }),
    }
}

/// Every count within [`limits::MAX_TOKENS_PER_CALL`], and no more 1-hour cache writes than
/// cache writes.
fn usage_within_limits(u: &Usage) -> Result<(), Invalid> {
    let counts = [
        ("input_tokens", u.input),
        ("output_tokens", u.output),
        ("cache_read_input_tokens", u.cache_read),
        ("cache_creation_input_tokens", u.cache_write),
        ("ephemeral_5m_input_tokens", u.cache_write_5m),
        ("ephemeral_1h_input_tokens", u.cache_write_1h),
    ];
    for (key, n) in counts {
        limits::token_count(key, Some(n))?;
    }
    if u.cache_write_1h > u.cache_write {
        return Err("more 1-hour cache writes than cache writes".into());
    }
    Ok(())
}

fn token_usage(u: &Usage) -> TokenUsage {
    TokenUsage {
        input: u.input,
        output: u.output,
        cache_read: u.cache_read,
        cache_write: u.cache_write,
        cache_write_1h: u.cache_write_1h,
    }
}

/// Failed: the result says so (`is_error`, even with subtype `success`, or an `error_*`
/// subtype), the wrapped CLI exited non-zero, or a stream-json run ended without a result line.
pub fn session_failed(run: &ParsedRun) -> bool {
    let no_result = run.format == SourceFormat::StreamJson && run.result.is_none();
    run.result.as_ref().is_some_and(|r| r.failed())
        || run.exit_code.is_some_and(|c| c != 0)
        || no_result
}

fn status_message(run: &ParsedRun, failed: bool) -> Option<String> {
    if !failed {
        return None;
    }
    let mut parts = Vec::new();
    match &run.result {
        Some(r) => {
            parts.push(format!(
                "result {}{}",
                r.subtype,
                if r.is_error { " (is_error)" } else { "" }
            ));
            parts.extend(r.errors.iter().cloned());
        }
        None => parts.push("no result line".into()),
    }
    if let Some(line) = run.truncated_line {
        parts.push(format!("stream cut off at line {line}"));
    }
    if let Some(code) = run.exit_code.filter(|c| *c != 0) {
        parts.push(format!("exit code {code}"));
    }
    Some(parts.join("; "))
}

/// Per-turn parsing cannot be trusted for totals: see the module documentation.
pub fn aggregate_only(run: &ParsedRun) -> bool {
    let Some(want) = run.result.as_ref().and_then(|r| r.usage) else {
        return false;
    };
    let got = run.turn_totals();
    run.incomplete()
        || got.input != want.input
        || got.cache_read != want.cache_read
        || got.cache_write != want.cache_write
}

fn reported(run: &ParsedRun, prices: &PriceTable) -> Option<ReportedTotals> {
    let r = run.result.as_ref()?;
    Some(ReportedTotals {
        computed_cost_usd: r.usage.as_ref().and_then(|u| result_cost(run, u, prices)),
        // A total no column can hold is dropped (the turns still give our own cost).
        cost_usd: limits::reported_cost("total_cost_usd", r.total_cost_usd).unwrap_or(None),
        // Negative durations are corrupt input, not figures to store.
        duration_ms: r.duration_ms.filter(|d| *d >= 0),
        duration_api_ms: r.duration_api_ms.filter(|d| *d >= 0),
        num_turns: r.num_turns.and_then(|n| i32::try_from(n).ok()),
        usage: r.usage.as_ref().map(token_usage),
        aggregate_only: aggregate_only(run),
        raw: r.raw.clone(),
    })
}

fn session_attributes(run: &ParsedRun) -> Value {
    let mut attrs = json!({
        "claude.source": run.format,
        "claude.session_id": run.session_id,
        "claude.cli_version": run.cli_version,
        "claude.cwd": run.cwd,
        "claude.model": run.model,
        "claude.tools_offered": run.tools.len(),
        "claude.lines": run.lines,
        "claude.skipped_lines": run.skipped,
        "claude.parse_errors": run.parse_errors,
        "claude.truncated_line": run.truncated_line,
        "claude.orphan_tool_results": run.orphan_tool_results,
        "claude.reconciled_output_tokens": run.reconciled_output_tokens,
        "claude.compactions": run.compactions,
        "claude.exit_code": run.exit_code,
        "acd.run": run.wrapper,
    });
    if let Some(r) = &run.result {
        attrs["claude.result.subtype"] = json!(r.subtype);
        attrs["claude.result.is_error"] = json!(r.is_error);
        attrs["claude.result.stop_reason"] = json!(r.stop_reason);
        attrs["claude.result.errors"] = json!(r.errors);
    }
    attrs
}

/// Our price for the result line's usage: per `modelUsage` entry when there is one (1-hour
/// cache writes, which it does not split by model, shared in proportion to cache writes), else
/// all of it at the run's model. None when a model is not in the price table.
fn result_cost(run: &ParsedRun, usage: &Usage, prices: &PriceTable) -> Option<f64> {
    let result = run.result.as_ref()?;
    if result.model_usage.is_empty() {
        let model = run
            .model
            .as_deref()
            .or(run.turns.first().map(|t| t.model.as_str()))?;
        return prices.cost(model, &token_usage(usage));
    }
    let mut total = 0.0;
    for (model, m) in &result.model_usage {
        let one_hour = if usage.cache_write > 0 {
            (usage.cache_write_1h as f64 * m.cache_write as f64 / usage.cache_write as f64).round()
                as i64
        } else {
            0
        };
        let tokens = TokenUsage {
            input: m.input,
            output: m.output,
            cache_read: m.cache_read,
            cache_write: m.cache_write,
            cache_write_1h: one_hour.min(m.cache_write),
        };
        total += prices.cost(model, &tokens)?;
    }
    Some(total)
}
