//! The second report of a known call: Claude Code reports a model call both as an
//! `api_request` event and as a `claude_code.llm_request` beta span, and a tool call both as a
//! `tool_result` event and as a `claude_code.tool` span, under the same key. The ledger stores
//! whichever arrives first; these stages complete the stored row from the later one, so the
//! result is the same in either arrival order. A plain resend differs in nothing and changes
//! nothing; a conflicting report (see [`super::ledger`]) completes nothing.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{IngestReport, RecordRef, SpanBatch, ToolCallRecord, TurnRecord};
use crate::store::{Error, Tx};

/// What [`complete_known_turns`] changed: the sessions whose totals need recomputing, and the
/// cost each completed call gained (model, USD), for `/metrics`.
#[derive(Default)]
pub struct Completed {
    pub sessions: Vec<Uuid>,
    pub cost_added: Vec<(String, f64)>,
}

/// A model call reported twice is one turn, whichever came first: the later report fills in what the stored row lacks (the event's `cost_usd` and 5m/1h
/// cache-write split, the span's TTFT, the source). Cost is then the one of the report with
/// the split, which prices 1-hour writes at their rate; the daily rollup gains the difference.
/// The span's times win over the event's (which has only its end and a rounded duration), so
/// the turn is the same in either arrival order.
pub async fn complete_known_turns(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
) -> Result<Completed, Error> {
    let mut new: std::collections::HashSet<usize> = report.new_turns.iter().copied().collect();
    // Conflicting reports complete nothing: they are refused whole.
    new.extend(report.conflicts.iter().filter_map(|c| match c.record {
        RecordRef::Turn(i) => Some(i),
        _ => None,
    }));
    let known: Vec<&TurnRecord> = (0..batch.turns.len())
        .filter(|i| !new.contains(i))
        .map(|i| &batch.turns[i])
        .collect();
    if known.is_empty() {
        return Ok(Completed::default());
    }
    // By span identity, not row id: rows stored before ids were trace-local have other ids.
    let trace_ids: Vec<Vec<u8>> = known.iter().map(|t| t.key.trace_id.clone()).collect();
    let span_ids: Vec<Vec<u8>> = known.iter().map(|t| t.key.span_id.clone()).collect();
    let reported: Vec<Option<f64>> = known.iter().map(|t| t.reported_cost_usd).collect();
    let ttft: Vec<Option<i32>> = known
        .iter()
        .map(|t| t.time_to_first_token_ms.and_then(|n| i32::try_from(n).ok()))
        .collect();
    let sources: Vec<Option<String>> = known.iter().map(|t| t.query_source.clone()).collect();
    let cache_1h: Vec<i32> = known
        .iter()
        .map(|t| t.usage.cache_write_1h as i32)
        .collect();
    let costs: Vec<f64> = known.iter().map(|t| t.cost_usd).collect();
    let spans: Vec<bool> = known.iter().map(|t| from_span(t)).collect();
    let started: Vec<DateTime<Utc>> = known.iter().map(|t| t.started_at).collect();
    let finished: Vec<DateTime<Utc>> = known.iter().map(|t| t.finished_at).collect();
    let rows = sqlx::query!(
        r#"WITH u AS (SELECT * FROM UNNEST($1::bytea[], $10::bytea[], $2::float8[], $3::int[],
                                          $4::text[], $5::int[], $6::float8[], $7::bool[],
                                          $8::timestamptz[], $9::timestamptz[])
                        AS u(trace_id, span_id, reported, ttft, source, cache_1h, cost, span,
                             started, finished)),
                old AS (SELECT t.id, u.trace_id, u.span_id, t.cost_usd,
                               t.attributes ? 'span.type' AS span
                        FROM session_turns t
                        JOIN u ON u.trace_id = t.trace_id AND u.span_id = t.span_id),
                upd AS (
                    UPDATE session_turns t SET
                        reported_cost_usd = COALESCE(t.reported_cost_usd, u.reported),
                        time_to_first_token_ms = COALESCE(t.time_to_first_token_ms, u.ttft),
                        query_source = COALESCE(t.query_source, u.source),
                        cost_usd = CASE WHEN u.cache_1h > t.cache_write_1h_tokens
                                        THEN u.cost ELSE t.cost_usd END,
                        cache_write_1h_tokens = GREATEST(t.cache_write_1h_tokens, u.cache_1h),
                        started_at = CASE WHEN u.span AND NOT old.span THEN u.started
                                          ELSE t.started_at END,
                        finished_at = CASE WHEN u.span AND NOT old.span THEN u.finished
                                           ELSE t.finished_at END,
                        duration_ms = CASE WHEN u.span AND NOT old.span
                            -- Truncated to the millisecond, as at insert.
                            THEN LEAST(floor(EXTRACT(EPOCH FROM (u.finished - u.started))
                                             * 1000), 2147483647)::int
                            ELSE t.duration_ms END,
                        attributes = CASE WHEN u.span AND NOT old.span
                                          THEN t.attributes || '{"span.type": "llm_request"}'
                                          ELSE t.attributes END
                    FROM u, old
                    WHERE old.id = t.id AND old.trace_id = u.trace_id
                      AND old.span_id = u.span_id
                      AND ((t.reported_cost_usd IS NULL AND u.reported IS NOT NULL)
                           OR (t.time_to_first_token_ms IS NULL AND u.ttft IS NOT NULL)
                           OR (t.query_source IS NULL AND u.source IS NOT NULL)
                           OR u.cache_1h > t.cache_write_1h_tokens
                           OR (u.span AND NOT old.span))
                    RETURNING t.session_id, t.model, t.started_at,
                              (t.cost_usd - old.cost_usd)::float8 AS added),
                daily AS (
                    INSERT INTO turn_usage_daily AS d (day, model, shard, cost_usd)
                    SELECT (started_at AT TIME ZONE 'UTC')::date, model, 0, sum(added)
                    FROM upd WHERE added <> 0 GROUP BY 1, 2 ORDER BY 1, 2
                    ON CONFLICT (day, model, shard) DO UPDATE
                        SET cost_usd = d.cost_usd + EXCLUDED.cost_usd
                    RETURNING 1)
           SELECT session_id, model AS "model!", added AS "added!" FROM upd"#,
        &trace_ids,
        &reported as &[Option<f64>],
        &ttft as &[Option<i32>],
        &sources as &[Option<String>],
        &cache_1h,
        &costs,
        &spans,
        &started,
        &finished,
        &span_ids,
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut completed = Completed::default();
    for r in rows {
        completed.sessions.extend(r.session_id);
        if r.added > 0.0 {
            completed.cost_added.push((r.model, r.added));
        }
    }
    completed.sessions.sort_unstable();
    completed.sessions.dedup();
    Ok(completed)
}

/// A call reported by a Claude Code beta span (`span.type`), which times it exactly.
fn from_span(turn: &TurnRecord) -> bool {
    turn.attributes.get("span.type").is_some()
}

/// A tool call reported twice: the event's facts win over the span's, whichever came first.
/// The event names the model call that asked for the tool (`request_id`, the span does not)
/// and times the tool's execution (the span also covers the wait for permission). Returns the
/// sessions whose tool calls moved.
pub async fn complete_known_tools(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
) -> Result<Vec<Uuid>, Error> {
    let mut new: std::collections::HashSet<usize> = report.new_tools.iter().copied().collect();
    new.extend(report.conflicts.iter().filter_map(|c| match c.record {
        RecordRef::Tool(i) => Some(i),
        _ => None,
    }));
    let known: Vec<&ToolCallRecord> = (0..batch.tools.len())
        .filter(|i| !new.contains(i))
        .map(|i| &batch.tools[i])
        .filter(|t| t.parent_span_id.is_some() && t.key.trace_id.len() == 16)
        .collect();
    if known.is_empty() {
        return Ok(Vec::new());
    }
    let trace_ids: Vec<Vec<u8>> = known.iter().map(|t| t.key.trace_id.clone()).collect();
    let span_ids: Vec<Vec<u8>> = known.iter().map(|t| t.key.span_id.clone()).collect();
    let parents: Vec<Vec<u8>> = known
        .iter()
        .map(|t| t.parent_span_id.clone().unwrap_or_default())
        .collect();
    let started: Vec<DateTime<Utc>> = known.iter().map(|t| t.started_at).collect();
    let durations: Vec<i32> = known
        .iter()
        .map(|t| {
            i32::try_from((t.finished_at - t.started_at).num_milliseconds()).unwrap_or(i32::MAX)
        })
        .collect();
    let files: Vec<Option<String>> = known.iter().map(|t| t.file_path.clone()).collect();
    let mut sessions = sqlx::query_scalar!(
        r#"UPDATE session_tool_calls c SET parent_span_id = u.parent, started_at = u.started,
               duration_ms = u.duration, file_path = COALESCE(c.file_path, u.file)
           FROM UNNEST($1::bytea[], $6::bytea[], $2::bytea[], $3::timestamptz[], $4::int[],
                       $5::text[])
             AS u(trace_id, span_id, parent, started, duration, file)
           WHERE c.trace_id = u.trace_id AND c.span_id = u.span_id AND c.parent_span_id IS NULL
           RETURNING c.session_id"#,
        &trace_ids,
        &parents,
        &started,
        &durations,
        &files as &[Option<String>],
        &span_ids,
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .flatten()
    .collect::<Vec<Uuid>>();
    sessions.sort_unstable();
    sessions.dedup();
    Ok(sessions)
}
