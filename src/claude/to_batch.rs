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

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::model::{ParsedRun, ParsedTurn, Usage};
pub use super::session_facts::{aggregate_only, session_failed};
use super::session_facts::{reported, session_attributes, session_times, status_message};
use crate::domain::limits::Invalid;
use crate::domain::{
    CallKind, ID_NAMESPACE, Rejection, RetryRecord, SessionRecord, SessionStatus, SpanBatch,
    SpanKey, TokenUsage, ToolCallRecord, TurnRecord, limits, retry_reason, session_uuid,
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
    let session = Session {
        id: session_id,
        external_id: &external_id,
        key: &session_key,
        started_at,
    };

    let mut batch = SpanBatch::default();
    add_turns(&mut batch, run, &session, prices);
    add_unlisted_calls(&mut batch, run, &session, ended_at, prices);
    add_tool_calls(&mut batch, run, &session);
    let failed = session_failed(run);
    add_retries(&mut batch, run, &session, failed);
    batch.sessions.push(SessionRecord {
        key: session_key.clone(),
        id: session_id,
        external_id: external_id.clone(),
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

/// The session every record of one run belongs to.
struct Session<'a> {
    id: Uuid,
    external_id: &'a str,
    key: &'a SpanKey,
    started_at: DateTime<Utc>,
}

/// One record per model call. Turns are the main conversation's calls, numbered among
/// themselves; a subagent's calls (a sidechain) take the number of the turn they ran in,
/// inferred at ingest. A call past the limits is refused alone; the rest of the run is stored.
fn add_turns(batch: &mut SpanBatch, run: &ParsedRun, s: &Session<'_>, prices: &PriceTable) {
    let mut main_turns = 0;
    for parsed in &run.turns {
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
            (s.id, s.external_id, s.key),
            s.started_at,
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
}

/// The model calls the stream never shows. `modelUsage` counts every call of the run, the
/// `result` line's `usage` the main conversation's alone (2.1.3xx); what a model's entry holds
/// beyond its turns are side calls (a WebFetch's summary, compaction, ...), billed like any other.
/// One side call record per such model, at the end of the run, so the session's tokens and cost
/// match the CLI's own totals. Only when the turns account for the main conversation exactly
/// (else the gap is lost lines, and the session takes the result line's totals anyway).
fn add_unlisted_calls(
    batch: &mut SpanBatch,
    run: &ParsedRun,
    s: &Session<'_>,
    ended_at: DateTime<Utc>,
    prices: &PriceTable,
) {
    let Some(result) = &run.result else {
        return;
    };
    let turns = run.turn_totals();
    let main_matches = result.usage.is_some_and(|u| {
        u.input == turns.input
            && u.cache_read == turns.cache_read
            && u.cache_write == turns.cache_write
    });
    if run.incomplete() || !main_matches {
        return;
    }
    for (model, listed) in &result.model_usage {
        let mut seen = Usage::default();
        for t in run.turns.iter().filter(|t| &t.model == model) {
            seen.add(&t.usage);
        }
        let gap = |all: i64, seen: i64| (all - seen).max(0);
        let cache_write = gap(listed.cache_write, seen.cache_write);
        let usage = TokenUsage {
            input: gap(listed.input, seen.input),
            output: gap(listed.output, seen.output),
            cache_read: gap(listed.cache_read, seen.cache_read),
            cache_write,
            cache_write_1h: gap(listed.cache_write_1h, seen.cache_write_1h).min(cache_write),
        };
        if usage.input + usage.output + usage.cache_read + usage.cache_write == 0
            || usage_within_limits(&Usage {
                input: usage.input,
                output: usage.output,
                cache_read: usage.cache_read,
                cache_write: usage.cache_write,
                cache_write_5m: usage.cache_write - usage.cache_write_1h,
                cache_write_1h: usage.cache_write_1h,
            })
            .is_err()
        {
            continue;
        }
        let cost = prices.cost(model, &usage);
        batch.turns.push(TurnRecord {
            key: synthetic_key(s.id, &format!("unlisted:{model}")),
            parent_span_id: Some(s.key.span_id.clone()),
            session_id: Some(s.id),
            session_external_id: Some(s.external_id.to_string()),
            turn_number: None,
            provider: Some("anthropic".into()),
            model: model.clone(),
            response_model: None,
            reported_input_tokens: None,
            usage,
            started_at: ended_at,
            finished_at: ended_at,
            time_to_first_token_ms: None,
            cost_usd: cost.unwrap_or(0.0),
            reported_cost_usd: None,
            priced: cost.is_some(),
            context_window: prices.context_window(model),
            failed: false,
            call_kind: CallKind::Side,
            query_source: Some(UNLISTED_SOURCE.into()),
            attributes: json!({"claude.from": "modelUsage minus the stream's calls"}),
        });
    }
}

/// The source named on side calls known only from `modelUsage`.
pub const UNLISTED_SOURCE: &str = "model_usage_unlisted";

/// One record per `tool_use` block, under the call that asked for it.
fn add_tool_calls(batch: &mut SpanBatch, run: &ParsedRun, s: &Session<'_>) {
    for call in &run.tool_calls {
        let parent = synthetic_key(s.id, &format!("turn:{}", call.message_id));
        let turn_start = batch
            .turns
            .iter()
            .find(|t| t.key.span_id == parent.span_id)
            .map_or(s.started_at, |t| t.started_at);
        let start = call.called_at.unwrap_or(turn_start);
        batch.tools.push(ToolCallRecord {
            key: synthetic_key(s.id, &format!("tool:{}", call.id)),
            parent_span_id: Some(parent.span_id),
            session_id: Some(s.id),
            session_external_id: Some(s.external_id.to_string()),
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
}

/// One record per `system/api_retry` (or transcript `api_error`) line. What came next decides
/// the attempt after it: a response (it succeeded), another retry line (it failed too), or
/// nothing (failed if the run failed).
fn add_retries(batch: &mut SpanBatch, run: &ParsedRun, s: &Session<'_>, failed: bool) {
    for retry in &run.retries {
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
            key: synthetic_key(s.id, &format!("retry:{}:{}", retry.line, retry.attempt)),
            session_id: Some(s.id),
            session_external_id: Some(s.external_id.to_string()),
            retry_number: i32::try_from(retry.attempt).unwrap_or(i32::MAX),
            reason: retry_reason(retry.error_status, retry.error.as_deref()),
            original_model: run.model.clone(),
            fallback_model: None,
            wait_ms: retry.retry_delay_ms.map(|ms| ms.round() as i64),
            succeeded,
            exhausted: !answered && retry.max_retries.is_some_and(|max| retry.attempt >= max),
            error_message: retry.error.clone(),
            at: retry.at.unwrap_or(s.started_at),
            attributes: json!({
                "claude.max_retries": retry.max_retries,
                "claude.retry_delay_ms": retry.retry_delay_ms,
                "claude.error_status": retry.error_status,
                "claude.line": retry.line,
            }),
        });
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

pub(super) fn token_usage(u: &Usage) -> TokenUsage {
    TokenUsage {
        input: u.input,
        output: u.output,
        cache_read: u.cache_read,
        cache_write: u.cache_write,
        cache_write_1h: u.cache_write_1h,
    }
}
