//! Inserts a batch's new turns (`session_turns`), each with the tool calls already stored for it
//! and, for turns of the main conversation, its context figures (read as `context_usage`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::context::usage::TurnContext;
use crate::domain::{CallStatus, IngestReport, SpanBatch, TurnRecord};
use crate::store::{Error, Tx};

pub async fn insert_turns(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
    sessions: &[Option<Uuid>],
) -> Result<(), Error> {
    if report.new_turns.is_empty() {
        return Ok(());
    }
    let c = TurnColumns::of(
        report
            .new_turns
            .iter()
            .map(|&i| (&batch.turns[i], sessions[i])),
    );
    sqlx::query!(
        // tool_calls from the calls already stored (those of this batch are inserted first), so
        // a turn is written once; later calls are added by super::rollups.
        r#"INSERT INTO session_turns (id, session_id, turn_number, turn_number_inferred, started_at,
               finished_at, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
               reported_input_tokens, trace_id, span_id, parent_span_id, provider, model,
               response_model, duration_ms, time_to_first_token_ms, cost_usd, context_window,
               status, attributes, cache_write_1h_tokens, reported_cost_usd, call_kind,
               query_source, context_system_tokens, context_feature_tokens, context_file_tokens,
               context_conversation_tokens, context_total_tokens, context_limit,
               context_utilization_ratio, context_overflow_reason, context_segments_reported,
               tool_calls)
           SELECT u.*,
                  (SELECT jsonb_agg(jsonb_build_object(
                              'name', c.tool_name, 'file_path', c.file_path,
                              'started_at', c.started_at, 'duration_ms', c.duration_ms,
                              'status', c.status) ORDER BY c.started_at, c.span_id)
                   FROM session_tool_calls c
                   WHERE c.trace_id = u.trace_id AND c.parent_span_id = u.span_id
                     AND c.session_id = u.session_id)
           FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::bool[], $5::timestamptz[],
               $6::timestamptz[], $7::int[], $8::int[], $9::int[], $10::int[], $11::int[],
               $12::bytea[], $13::bytea[], $14::bytea[], $15::text[], $16::text[], $17::text[],
               $18::int[], $19::int[], $20::float8[], $21::int[], $22::text[], $23::jsonb[],
               $24::int[], $25::float8[], $26::text[], $27::text[], $28::int[], $29::int[],
               $30::int[], $31::int[], $32::int[], $33::int[], $34::float8[], $35::text[],
               $36::bool[])
             AS u(id, session_id, turn_number, turn_number_inferred, started_at, finished_at,
                  input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                  reported_input_tokens, trace_id, span_id, parent_span_id, provider, model,
                  response_model, duration_ms, time_to_first_token_ms, cost_usd, context_window,
                  status, attributes, cache_write_1h_tokens, reported_cost_usd, call_kind,
                  query_source, context_system_tokens, context_feature_tokens,
                  context_file_tokens, context_conversation_tokens, context_total_tokens,
                  context_limit, context_utilization_ratio, context_overflow_reason,
                  context_segments_reported)"#,
        &c.ids,
        &c.sessions as &[Option<Uuid>],
        &c.turn_numbers,
        &c.turn_number_inferred,
        &c.started_at,
        &c.finished_at,
        &c.input_tokens,
        &c.output_tokens,
        &c.cache_read_tokens,
        &c.cache_write_tokens,
        &c.reported_input_tokens as &[Option<i32>],
        &c.trace_ids,
        &c.span_ids,
        &c.parent_span_ids as &[Option<Vec<u8>>],
        &c.providers as &[Option<String>],
        &c.models,
        &c.response_models as &[Option<String>],
        &c.duration_ms,
        &c.time_to_first_token_ms as &[Option<i32>],
        &c.cost_usd,
        &c.context_windows,
        &c.statuses,
        &c.attributes,
        &c.cache_write_1h_tokens,
        &c.reported_cost_usd as &[Option<f64>],
        &c.call_kinds,
        &c.query_sources as &[Option<String>],
        &c.context.system as &[Option<i32>],
        &c.context.feature as &[Option<i32>],
        &c.context.files as &[Option<i32>],
        &c.context.conversation as &[Option<i32>],
        &c.context.total as &[Option<i32>],
        &c.context.limit as &[Option<i32>],
        &c.context.ratio as &[Option<f64>],
        &c.context.overflow as &[Option<String>],
        &c.context.reported as &[Option<bool>],
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The UNNEST columns of [`insert_turns`], one entry per turn.
#[derive(Default)]
struct TurnColumns {
    ids: Vec<Uuid>,
    sessions: Vec<Option<Uuid>>,
    turn_numbers: Vec<i32>,
    turn_number_inferred: Vec<bool>,
    started_at: Vec<DateTime<Utc>>,
    finished_at: Vec<DateTime<Utc>>,
    input_tokens: Vec<i32>,
    output_tokens: Vec<i32>,
    cache_read_tokens: Vec<i32>,
    cache_write_tokens: Vec<i32>,
    reported_input_tokens: Vec<Option<i32>>,
    trace_ids: Vec<Vec<u8>>,
    span_ids: Vec<Vec<u8>>,
    parent_span_ids: Vec<Option<Vec<u8>>>,
    providers: Vec<Option<String>>,
    models: Vec<String>,
    response_models: Vec<Option<String>>,
    duration_ms: Vec<i32>,
    time_to_first_token_ms: Vec<Option<i32>>,
    cost_usd: Vec<f64>,
    context_windows: Vec<i32>,
    statuses: Vec<String>,
    attributes: Vec<serde_json::Value>,
    cache_write_1h_tokens: Vec<i32>,
    reported_cost_usd: Vec<Option<f64>>,
    call_kinds: Vec<String>,
    query_sources: Vec<Option<String>>,
    context: ContextColumns,
}

/// The `context_*` columns: None for side and subagent calls, whose contexts are their own and
/// not the conversation's.
#[derive(Default)]
struct ContextColumns {
    system: Vec<Option<i32>>,
    feature: Vec<Option<i32>>,
    files: Vec<Option<i32>>,
    conversation: Vec<Option<i32>>,
    total: Vec<Option<i32>>,
    limit: Vec<Option<i32>>,
    ratio: Vec<Option<f64>>,
    overflow: Vec<Option<String>>,
    reported: Vec<Option<bool>>,
}

impl ContextColumns {
    fn push(&mut self, turn: &TurnRecord) {
        let c = turn.is_turn().then(|| TurnContext::of(turn));
        let segment = |k: usize| c.as_ref().map(|c| clamp(c.segments.map_or(0, |s| s[k])));
        self.system.push(segment(0));
        self.feature.push(segment(1));
        self.files.push(segment(2));
        self.conversation.push(segment(3));
        self.total.push(c.as_ref().map(|c| clamp(c.total)));
        self.limit.push(c.as_ref().map(|c| clamp(c.limit)));
        self.ratio.push(c.as_ref().map(|c| c.utilization));
        self.overflow.push(
            c.as_ref()
                .and_then(|c| c.overflow)
                .map(|o| o.as_str().to_string()),
        );
        self.reported.push(c.as_ref().map(|c| c.segments.is_some()));
    }
}

/// Token counts fit the INTEGER columns (see `domain::limits`).
fn clamp(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

impl TurnColumns {
    fn of<'a>(turns: impl Iterator<Item = (&'a TurnRecord, Option<Uuid>)>) -> Self {
        let mut c = Self::default();
        for (t, session) in turns {
            c.ids.push(t.key.local_row_id());
            c.sessions.push(session);
            c.turn_numbers.push(t.turn_number.unwrap_or(0));
            c.turn_number_inferred.push(t.turn_number.is_none());
            c.started_at.push(t.started_at);
            c.finished_at.push(t.finished_at);
            c.input_tokens.push(t.usage.input as i32);
            c.output_tokens.push(t.usage.output as i32);
            c.cache_read_tokens.push(t.usage.cache_read as i32);
            c.cache_write_tokens.push(t.usage.cache_write as i32);
            c.reported_input_tokens
                .push(t.reported_input_tokens.and_then(|n| i32::try_from(n).ok()));
            c.trace_ids.push(t.key.trace_id.clone());
            c.span_ids.push(t.key.span_id.clone());
            c.parent_span_ids.push(t.parent_span_id.clone());
            c.providers.push(t.provider.clone());
            c.models.push(t.model.clone());
            c.response_models.push(t.response_model.clone());
            c.duration_ms
                .push(i32::try_from(t.duration_ms()).unwrap_or(i32::MAX));
            c.time_to_first_token_ms
                .push(t.time_to_first_token_ms.and_then(|n| i32::try_from(n).ok()));
            c.cost_usd.push(t.cost_usd);
            c.context_windows.push(t.context_window);
            c.statuses
                .push(CallStatus::of(t.failed).as_str().to_string());
            c.attributes.push(t.attributes.clone());
            c.cache_write_1h_tokens.push(t.usage.cache_write_1h as i32);
            c.reported_cost_usd.push(t.reported_cost_usd);
            c.call_kinds.push(t.call_kind.as_str().to_string());
            c.query_sources.push(t.query_source.clone());
            c.context.push(t);
        }
        c
    }
}
