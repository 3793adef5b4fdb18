//! Domain records: what a span means to us once decoded and mapped, before it is stored.
//! The OTLP mapping produces them, the store writes them, the metrics count them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

pub mod limits;
mod ownership;
mod records;
mod states;
mod test_runs;
pub use ownership::{Conflict, IMPORT_CHANNEL, Producers};
pub use records::RecordRef;
pub use states::*;
pub use test_runs::*;

/// Namespace of the UUIDv5 ids derived from non-UUID session ids and from span identities.
/// Fixed forever: changing it would split existing sessions.
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b7e_93a4_4d0b_9c55_1a2e_acd0_c011);

/// The session id for a `gen_ai.conversation.id`: the UUID itself, or a stable UUIDv5 of the text.
pub fn session_uuid(conversation_id: &str) -> Uuid {
    Uuid::parse_str(conversation_id.trim())
        .unwrap_or_else(|_| Uuid::new_v5(&ID_NAMESPACE, conversation_id.as_bytes()))
}

/// A span's OTLP identity: 16-byte trace id and 8-byte span id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpanKey {
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
}

impl SpanKey {
    /// A row id derived from the span identity, so every replica computes the same one.
    pub fn row_id(&self) -> Uuid {
        let mut name = self.trace_id.clone();
        name.extend_from_slice(&self.span_id);
        Uuid::new_v5(&ID_NAMESPACE, &name)
    }

    /// [`Self::row_id`] with the trace's first bytes in front, for the tables written a row per
    /// span (turns, tool calls): the rows of one trace (a session) sit together in their id
    /// index. Random ids scattered a batch's rows over the whole index, and once it outgrew
    /// memory every row cost a page read and a full-page image in the WAL (issue 16: 4.7 KB of
    /// WAL per turn at 3M turns of history). RFC 9562 version 8. Rows stored before keep their
    /// ids, so known rows are looked up by (trace_id, span_id), never by this id.
    pub fn local_row_id(&self) -> Uuid {
        let mut bytes = *self.row_id().as_bytes();
        let n = self.trace_id.len().min(6);
        bytes[..n].copy_from_slice(&self.trace_id[..n]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Completed,
    Failed,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Completed => "completed",
            SessionStatus::Failed => "failed",
        }
    }
}

/// A session span (`gen_ai.operation.name = invoke_agent`).
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub key: SpanKey,
    pub id: Uuid,
    pub external_id: String,
    pub target_id: Option<Uuid>,
    pub target_name: Option<String>,
    pub feature_id: Option<String>,
    pub features_completed: Option<i32>,
    pub status: SessionStatus,
    pub status_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub attributes: Value,
    /// What the source itself reported for the whole session (e.g. a stream-json `result` line).
    pub reported: Option<ReportedTotals>,
}

/// Session-level figures a source reports about itself, kept beside what we compute.
#[derive(Debug, Clone, Default)]
pub struct ReportedTotals {
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<i64>,
    pub duration_api_ms: Option<i64>,
    pub num_turns: Option<i32>,
    pub usage: Option<TokenUsage>,
    /// Our cost of `usage` from the price table (used for the session when `aggregate_only`).
    pub computed_cost_usd: Option<f64>,
    /// Per-turn parsing was incomplete: session totals come from these figures, not the turns.
    pub aggregate_only: bool,
    /// The source's own record (e.g. the result line's usage and modelUsage), kept verbatim.
    pub raw: Value,
}

impl SessionRecord {
    pub fn wall_clock_ms(&self) -> i64 {
        (self.ended_at - self.started_at).num_milliseconds()
    }
}

/// Token counts of one model call, with `input` already *uncached* (see docs/semantic-conventions.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
    /// The part of `cache_write` written with the 1-hour TTL (priced higher than 5-minute writes).
    pub cache_write_1h: i64,
}

/// A turn span: one model call (`gen_ai.operation.name = chat`).
#[derive(Debug, Clone)]
pub struct TurnRecord {
    pub key: SpanKey,
    pub parent_span_id: Option<Vec<u8>>,
    /// Known when the span carries `gen_ai.conversation.id`; otherwise resolved through its trace.
    pub session_id: Option<Uuid>,
    pub session_external_id: Option<String>,
    pub turn_number: Option<i32>,
    pub provider: Option<String>,
    pub model: String,
    pub response_model: Option<String>,
    /// `gen_ai.usage.input_tokens` as received.
    pub reported_input_tokens: Option<i64>,
    pub usage: TokenUsage,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub time_to_first_token_ms: Option<i64>,
    pub cost_usd: f64,
    /// The source's own cost figure for this call (Claude Code's `cost_usd`), when it gives one.
    pub reported_cost_usd: Option<f64>,
    /// False when the model is not in the price table (cost is then 0).
    pub priced: bool,
    pub context_window: i32,
    pub failed: bool,
    /// Main-conversation turn, side call or subagent call.
    pub call_kind: CallKind,
    /// The producer's own name for what the call was for (Claude Code's `query_source`).
    pub query_source: Option<String>,
    pub attributes: Value,
}

impl TurnRecord {
    /// A turn of the main conversation (not a side or subagent call): numbered, with a context
    /// row, and in the turn latency and TTFT figures.
    pub fn is_turn(&self) -> bool {
        self.call_kind == CallKind::Main
    }

    pub fn duration_ms(&self) -> i64 {
        (self.finished_at - self.started_at).num_milliseconds()
    }
}

/// A tool span (`gen_ai.operation.name = execute_tool`).
#[derive(Debug, Clone)]
pub struct ToolCallRecord {
    pub key: SpanKey,
    pub parent_span_id: Option<Vec<u8>>,
    pub session_id: Option<Uuid>,
    pub session_external_id: Option<String>,
    pub tool_name: String,
    pub file_path: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub failed: bool,
    pub attributes: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTarget {
    pub session_id: Uuid,
    pub target_id: Uuid,
    pub target_name: Option<String>,
}

/// One failed model call that was (or could not be) retried.
#[derive(Debug, Clone)]
pub struct RetryRecord {
    pub key: SpanKey,
    pub session_id: Option<Uuid>,
    pub session_external_id: Option<String>,
    pub retry_number: i32,
    pub reason: RetryReason,
    pub original_model: Option<String>,
    pub fallback_model: Option<String>,
    pub wait_ms: Option<i64>,
    pub succeeded: Option<bool>,
    /// The retry budget ran out: this failure was final.
    pub exhausted: bool,
    pub error_message: Option<String>,
    pub at: DateTime<Utc>,
    pub attributes: Value,
}

impl RetryRecord {
    /// The (from, to) models when this retry fell back to another model: a `fallback_model`
    /// that differs from `original_model` (an unknown original counts as different).
    pub fn fallback(&self) -> Option<(Option<&str>, &str)> {
        let to = self.fallback_model.as_deref()?;
        let from = self.original_model.as_deref();
        (from != Some(to)).then_some((from, to))
    }
}

/// A retry reason from an HTTP status and/or error text: 429 or "rate limit" → rate_limit,
/// 529 or "overloaded" → overloaded, 408/504 or "timeout" → timeout, "fallback" in the text →
/// model_fallback, anything else (other 5xx, connection failures, unknown) → error.
pub fn retry_reason(status: Option<i64>, error: Option<&str>) -> RetryReason {
    let text = error.unwrap_or("").to_ascii_lowercase();
    match status {
        Some(429) => return RetryReason::RateLimit,
        Some(529) => return RetryReason::Overloaded,
        Some(408 | 504) => return RetryReason::Timeout,
        _ => {}
    }
    if text.contains("overloaded") {
        RetryReason::Overloaded
    } else if text.contains("rate limit") || text.contains("rate_limit") {
        RetryReason::RateLimit
    } else if text.contains("timeout") || text.contains("timed out") {
        RetryReason::Timeout
    } else if text.contains("fallback") {
        RetryReason::ModelFallback
    } else {
        RetryReason::Error
    }
}

/// Fills in `succeeded` where the source did not say, for the retries of one model call in the
/// order they happened. `succeeded` means "the attempt after this failure completed": every
/// retry but the last was followed by another failure (false); the last one succeeded exactly
/// when the call completed (`call_completed`, None when unknown). An exhausted retry is false.
pub fn infer_retry_outcomes<'a>(
    retries: impl DoubleEndedIterator<Item = &'a mut RetryRecord>,
    call_completed: Option<bool>,
) {
    for (position, retry) in retries.rev().enumerate() {
        if retry.succeeded.is_some() {
            continue;
        }
        retry.succeeded = if retry.exhausted {
            Some(false)
        } else if position == 0 {
            call_completed
        } else {
            Some(false)
        };
    }
}

/// A synthetic span identity for records that do not come from a span (events, stream-json
/// lines): the session's UUID as trace id, and 8 bytes of a UUIDv5 over a stable description
/// of the record as span id, so a resent record maps to the same key.
pub fn synthetic_key(session: Uuid, description: &str) -> SpanKey {
    let mut name = session.as_bytes().to_vec();
    name.extend_from_slice(description.as_bytes());
    let id = Uuid::new_v5(&ID_NAMESPACE, &name);
    SpanKey {
        trace_id: session.as_bytes().to_vec(),
        span_id: id.as_bytes()[..8].to_vec(),
    }
}

/// A span that could not be accepted, and why (reported back as OTLP partial success).
#[derive(Debug, Clone)]
pub struct Rejection {
    pub span_name: String,
    pub reason: String,
}

/// Everything one OTLP trace request maps to.
#[derive(Debug, Default)]
pub struct SpanBatch {
    pub sessions: Vec<SessionRecord>,
    pub turns: Vec<TurnRecord>,
    pub tools: Vec<ToolCallRecord>,
    pub retries: Vec<RetryRecord>,
    /// Test runs: `acd.test_run` spans and uploaded reports (JUnit XML, libtest/nextest JSON).
    pub test_runs: Vec<TestRunRecord>,
    /// Targets named by records that are not session spans (e.g. `acd.target.id` set as an
    /// OTEL resource attribute of Claude Code): given to the session if it has none yet.
    pub session_targets: Vec<SessionTarget>,
    pub rejected: Vec<Rejection>,
    /// Valid spans that are none of ours (no known `gen_ai.operation.name`): accepted, not stored.
    pub ignored: usize,
    /// Who sent each record (the OTLP resource's service identity), where known: the owner of
    /// the sessions it names (see [`ownership`]).
    pub producers: Producers,
    /// How the records came ("span", "event", "record", ...): a second report of the same key
    /// through another channel completes the first, through the same one it must be identical.
    pub channel: Option<String>,
}

impl SpanBatch {
    pub fn stored_span_count(&self) -> usize {
        self.sessions.len()
            + self.turns.len()
            + self.tools.len()
            + self.retries.len()
            + self.test_runs.len()
    }
}

/// What the store did with a batch: indices (into the [`SpanBatch`] vectors) of the records that
/// were new, and how many spans had been stored before (retried deliveries).
#[derive(Debug, Default, Clone)]
pub struct IngestReport {
    pub new_sessions: Vec<usize>,
    pub new_turns: Vec<usize>,
    pub new_tools: Vec<usize>,
    pub new_retries: Vec<usize>,
    pub new_test_runs: Vec<usize>,
    /// The target of each new test run's session, in the order of `new_test_runs` (None while
    /// the session has no target, or the run no session yet).
    pub test_run_targets: Vec<Option<RunTarget>>,
    /// Every target whose test history this batch changed (new runs, and earlier runs that
    /// found their session now).
    pub test_targets: Vec<Uuid>,
    pub duplicates: usize,
    /// Sessions whose `max_retries_hit` became true with this batch (counted once per session).
    pub sessions_hit_max_retries: usize,
    /// Sessions with a known turn that this batch completed (a call reported both as a Claude
    /// Code event and as a beta span), and the cost such turns gained (model, USD).
    pub completed_turn_sessions: Vec<Uuid>,
    pub completed_cost: Vec<(String, f64)>,
    /// Sessions with a known tool call this batch moved under the model call that asked for it.
    pub moved_tool_sessions: Vec<Uuid>,
    /// Records refused because they conflict with what is stored (another producer's session
    /// or trace, or a span identity already stored with other content), each with the reason.
    pub conflicts: Vec<Conflict>,
}

impl IngestReport {
    pub fn new_span_count(&self) -> usize {
        self.new_sessions.len()
            + self.new_turns.len()
            + self.new_tools.len()
            + self.new_retries.len()
            + self.new_test_runs.len()
    }

    /// The targets whose test history changed with this batch, each once: what the lead's
    /// per-target figures (pass-rate gauges) must refresh after the commit.
    pub fn touched_test_targets(&self) -> Vec<Uuid> {
        let mut ids = self.test_targets.clone();
        ids.sort();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_row_ids_start_with_their_trace_and_stay_unique_per_span() {
        let key = |t: u8, s: u8| SpanKey {
            trace_id: vec![t; 16],
            span_id: vec![s; 8],
        };
        let id = key(7, 1).local_row_id();
        assert_eq!(
            id,
            key(7, 1).local_row_id(),
            "deterministic across replicas"
        );
        assert_eq!(
            &id.as_bytes()[..6],
            &[7; 6],
            "the trace's rows sit together"
        );
        assert_eq!(id.get_version_num(), 8);
        assert_ne!(id, key(7, 2).local_row_id());
        assert_ne!(id, key(8, 1).local_row_id());
        assert_ne!(id, key(7, 1).row_id());
    }

    fn retry(number: i32, succeeded: Option<bool>, exhausted: bool) -> RetryRecord {
        RetryRecord {
            key: synthetic_key(Uuid::nil(), &number.to_string()),
            session_id: None,
            session_external_id: None,
            retry_number: number,
            reason: RetryReason::Error,
            original_model: Some("a".into()),
            fallback_model: None,
            wait_ms: None,
            succeeded,
            exhausted,
            error_message: None,
            at: DateTime::UNIX_EPOCH,
            attributes: Value::Null,
        }
    }

    #[test]
    fn reasons_stay_in_the_bounded_set() {
        let cases = [
            (Some(429), None, "rate_limit"),
            (Some(529), None, "overloaded"),
            (Some(504), None, "timeout"),
            (Some(500), Some("Internal server error"), "error"),
            (None, Some("ECONNRESET: connection reset"), "error"),
            (None, Some("request timed out"), "timeout"),
            (None, Some("model fallback"), "model_fallback"),
            (None, None, "error"),
        ];
        for (status, text, want) in cases {
            assert_eq!(
                retry_reason(status, text).as_str(),
                want,
                "{status:?} {text:?}"
            );
            assert!(RetryReason::ALL.iter().any(|r| r.as_str() == want));
        }
    }

    #[test]
    fn the_last_retry_of_a_call_takes_the_call_outcome() {
        let mut call = [
            retry(1, None, false),
            retry(2, Some(true), false),
            retry(3, None, false),
        ];
        infer_retry_outcomes(call.iter_mut(), Some(true));
        let got: Vec<_> = call.iter().map(|r| r.succeeded).collect();
        assert_eq!(
            got,
            [Some(false), Some(true), Some(true)],
            "given values stay"
        );

        let mut unknown = [retry(1, None, false), retry(2, None, false)];
        infer_retry_outcomes(unknown.iter_mut(), None);
        assert_eq!(unknown[0].succeeded, Some(false));
        assert_eq!(unknown[1].succeeded, None);

        let mut gave_up = [retry(1, None, true)];
        infer_retry_outcomes(gave_up.iter_mut(), Some(true));
        assert_eq!(
            gave_up[0].succeeded,
            Some(false),
            "exhausted never succeeded"
        );
    }

    #[test]
    fn a_fallback_is_a_different_model() {
        let mut r = retry(1, None, false);
        assert_eq!(r.fallback(), None);
        r.fallback_model = Some("a".into());
        assert_eq!(r.fallback(), None, "same model");
        r.fallback_model = Some("b".into());
        assert_eq!(r.fallback(), Some((Some("a"), "b")));
        r.original_model = None;
        assert_eq!(r.fallback(), Some((None, "b")));
    }
}
