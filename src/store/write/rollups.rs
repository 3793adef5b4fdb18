//! Derived values kept current at ingest, recomputed from the detail rows of the sessions a batch
//! touched: inferred turn numbers, each turn's `tool_calls`, the session totals and timing, and
//! `token_usage_details` (one row per session and model); the retry columns are recomputed by
//! [`crate::store::retries::recompute`]. Recomputing rather than incrementing
//! makes the result independent of the order spans arrive in.

use std::collections::HashSet;

use uuid::Uuid;

use crate::domain::{IngestReport, SpanBatch};
use crate::store::{Error, Tx};

/// The turns whose `tool_calls` a batch can change after their insert: stored turns that are
/// parents of its new tool calls, and every turn of traces whose orphans it attached (turns new
/// in the batch got theirs at insert, see [`super::turns::insert_turns`]). Only these are
/// rebuilt, so the cost follows the batch rather than the size of its sessions.
pub struct ChangedTurns {
    trace_ids: Vec<Vec<u8>>,
    span_ids: Vec<Vec<u8>>,
    attached_traces: Vec<Vec<u8>>,
}

impl ChangedTurns {
    pub fn of(batch: &SpanBatch, report: &IngestReport, attached_traces: Vec<Vec<u8>>) -> Self {
        let new_turns: HashSet<(&Vec<u8>, &Vec<u8>)> = report
            .new_turns
            .iter()
            .map(|&i| (&batch.turns[i].key.trace_id, &batch.turns[i].key.span_id))
            .collect();
        let mut keys = HashSet::new();
        for &i in &report.new_tools {
            let tool = &batch.tools[i];
            if let Some(parent) = &tool.parent_span_id
                && !new_turns.contains(&(&tool.key.trace_id, parent))
            {
                keys.insert((&tool.key.trace_id, parent));
            }
        }
        let (trace_ids, span_ids) = keys
            .into_iter()
            .map(|(t, s)| (t.clone(), s.clone()))
            .unzip();
        Self {
            trace_ids,
            span_ids,
            attached_traces,
        }
    }
}

/// Recomputes what the detail rows of `sessions` determine, one stage per derived value.
pub async fn recompute_sessions(
    tx: &mut Tx<'_>,
    sessions: &[Uuid],
    changed: &ChangedTurns,
) -> Result<(), Error> {
    if sessions.is_empty() {
        return Ok(());
    }
    number_inferred_turns(tx, sessions).await?;
    rebuild_parented_tool_calls(tx, sessions, changed).await?;
    rebuild_unparented_tool_calls(tx, sessions).await?;
    recompute_session_totals(tx, sessions).await?;
    recompute_token_usage(tx, sessions).await?;
    Ok(())
}

/// Inferred turn numbers.
async fn number_inferred_turns(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    // Turns without acd.turn.number are numbered by start time within their session. Only main
    // calls are turns; a side or subagent call takes the number of the turn it happened in
    // (the latest main call started before it; 1 before the first).
    sqlx::query!(
        r#"UPDATE session_turns t SET turn_number = r.rn
           FROM (SELECT id, GREATEST(count(*) FILTER (WHERE call_kind = 'main')
                                       OVER (PARTITION BY session_id
                                             ORDER BY started_at, span_id), 1)::int AS rn
                 FROM session_turns WHERE session_id = ANY($1)) r
           WHERE t.id = r.id AND t.session_id = ANY($1) AND t.turn_number_inferred
             AND t.turn_number <> r.rn"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `tool_calls` of the turns whose child tool calls changed.
async fn rebuild_parented_tool_calls(
    tx: &mut Tx<'_>,
    sessions: &[Uuid],
    changed: &ChangedTurns,
) -> Result<(), Error> {
    sqlx::query!(
        r#"UPDATE session_turns t SET tool_calls = agg.calls
           FROM (SELECT c.trace_id, c.parent_span_id,
                        jsonb_agg(jsonb_build_object(
                            'name', c.tool_name, 'file_path', c.file_path,
                            'started_at', c.started_at, 'duration_ms', c.duration_ms,
                            'status', c.status) ORDER BY c.started_at, c.span_id) AS calls
                 FROM session_tool_calls c
                 WHERE c.session_id = ANY($1) AND c.parent_span_id IS NOT NULL
                   AND ((c.trace_id, c.parent_span_id) IN
                            (SELECT * FROM UNNEST($2::bytea[], $3::bytea[]))
                        OR c.trace_id = ANY($4))
                 GROUP BY c.trace_id, c.parent_span_id) agg
           WHERE t.trace_id = agg.trace_id AND t.span_id = agg.parent_span_id
             AND t.session_id = ANY($1) AND t.tool_calls IS DISTINCT FROM agg.calls"#,
        sessions,
        &changed.trace_ids,
        &changed.span_ids,
        &changed.attached_traces,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `tool_calls` of the turns that tool calls without a parent span belong to.
async fn rebuild_unparented_tool_calls(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    // Tool calls with no parent span (Claude Code's `claude_code.tool` spans, events of
    // versions before 2.1.3xx) belong to the latest turn of their session that started before
    // the tool did: the call that asked for it. Not "finished before": Claude Code starts a tool
    // while the answer that asked for it is still streaming.
    sqlx::query!(
        r#"UPDATE session_turns t SET tool_calls = agg.calls
           FROM (SELECT p.turn_id,
                        jsonb_agg(jsonb_build_object(
                            'name', c.tool_name, 'file_path', c.file_path,
                            'started_at', c.started_at, 'duration_ms', c.duration_ms,
                            'status', c.status) ORDER BY c.started_at, c.span_id) AS calls
                 FROM session_tool_calls c
                 CROSS JOIN LATERAL (
                     SELECT t2.id AS turn_id FROM session_turns t2
                     WHERE t2.session_id = c.session_id AND t2.call_kind = 'main'
                       AND t2.started_at <= c.started_at
                     ORDER BY t2.started_at DESC, t2.span_id DESC LIMIT 1) p
                 WHERE c.session_id = ANY($1) AND c.parent_span_id IS NULL
                 GROUP BY p.turn_id) agg
           WHERE t.id = agg.turn_id AND t.tool_calls IS DISTINCT FROM agg.calls"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Session totals and timing, unless the source's own totals stand (`totals_source = 'result'`).
async fn recompute_session_totals(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    // Session totals. A session whose span has not arrived yet (span_id IS NULL) takes its
    // start and wall clock from its turns.
    sqlx::query!(
        r#"UPDATE harness_sessions s SET
               turn_count = CASE WHEN s.totals_source = 'result' THEN s.turn_count ELSE a.turns END,
               input_tokens = CASE WHEN s.totals_source = 'result' THEN s.input_tokens
                                   ELSE a.input_tokens END,
               output_tokens = CASE WHEN s.totals_source = 'result' THEN s.output_tokens
                                    ELSE a.output_tokens END,
               cache_read_tokens = CASE WHEN s.totals_source = 'result' THEN s.cache_read_tokens
                                        ELSE a.cache_read_tokens END,
               cache_write_tokens = CASE WHEN s.totals_source = 'result' THEN s.cache_write_tokens
                                         ELSE a.cache_write_tokens END,
               cache_write_1h_tokens = CASE WHEN s.totals_source = 'result'
                                            THEN s.cache_write_1h_tokens
                                            ELSE a.cache_write_1h_tokens END,
               cost_usd = CASE WHEN s.totals_source = 'result' THEN s.cost_usd ELSE a.cost_usd END,
               reported_cost_usd = COALESCE(s.reported_session_cost_usd, a.reported_cost_usd),
               -- LEAST ignores NULLs, so the NULL case is spelt out.
               api_latency_ms = CASE WHEN s.reported_api_ms IS NULL THEN a.api_ms
                                     ELSE LEAST(s.reported_api_ms, 2147483647)::int END,
               time_to_first_token_ms = a.ttft_p50,
               started_at = CASE WHEN s.span_id IS NULL
                                 THEN LEAST(s.started_at, a.first_activity)
                                 ELSE s.started_at END,
               wall_clock_ms = CASE WHEN s.span_id IS NULL
                   THEN (EXTRACT(EPOCH FROM (a.last_activity
                                             - LEAST(s.started_at, a.first_activity)))
                         * 1000)::int
                   ELSE s.wall_clock_ms END,
               -- A span-less session closed as idle that hears more is running again: the idle
               -- job closes it anew, with the status its new last call decides.
               status = CASE WHEN s.span_id IS NULL AND s.status IN ('completed', 'abandoned')
                             THEN 'running' ELSE s.status END,
               ended_at = CASE WHEN s.span_id IS NULL AND s.status IN ('completed', 'abandoned')
                               THEN NULL ELSE s.ended_at END,
               updated_at = NOW()
           FROM (SELECT session_id,
                        LEAST(sum(turns), 2147483647)::int AS turns,
                        sum(input_tokens)::bigint AS input_tokens,
                        sum(output_tokens)::bigint AS output_tokens,
                        sum(cache_read_tokens)::bigint AS cache_read_tokens,
                        sum(cache_write_tokens)::bigint AS cache_write_tokens,
                        sum(cache_write_1h_tokens)::bigint AS cache_write_1h_tokens,
                        sum(cost_usd) AS cost_usd,
                        sum(reported_cost_usd) AS reported_cost_usd,
                        LEAST(sum(duration_ms), 2147483647)::int AS api_ms,
                        (percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_first_token_ms)
                             FILTER (WHERE turns = 1))::int AS ttft_p50,
                        min(started_at) AS first_activity,
                        max(finished_at) AS last_activity
                 -- turns: 1 for a main call; side and subagent calls count in tokens and cost.
                 FROM (SELECT session_id, (call_kind = 'main')::int::bigint AS turns,
                              input_tokens::bigint,
                              output_tokens::bigint, cache_read_tokens::bigint,
                              cache_write_tokens::bigint, cache_write_1h_tokens::bigint,
                              cost_usd::numeric, reported_cost_usd::numeric,
                              duration_ms::bigint, time_to_first_token_ms, started_at,
                              finished_at
                       FROM session_turns WHERE session_id = ANY($1)
                       -- What retention deleted still counts (the timing columns are NULL,
                       -- so the activity span and the median come from surviving rows).
                       UNION ALL
                       SELECT session_id, turns, input_tokens, output_tokens,
                              cache_read_tokens, cache_write_tokens, cache_write_1h_tokens,
                              cost_usd, reported_cost_usd, duration_ms, NULL, NULL, NULL
                       FROM purged_turn_totals WHERE session_id = ANY($1)
                       -- A session without a span of its own lasts from its first activity to
                       -- its last: besides model calls, tool runs and failed attempts before a
                       -- retry (times only: they add no tokens, cost or API time).
                       UNION ALL
                       SELECT session_id, 0, 0, 0, 0, 0, 0, 0, NULL, 0, NULL, started_at,
                              started_at + duration_ms * interval '1 ms'
                       FROM session_tool_calls WHERE session_id = ANY($1)
                       UNION ALL
                       SELECT session_id, 0, 0, 0, 0, 0, 0, 0, NULL, 0, NULL, occurred_at, NULL
                       FROM session_retries
                       WHERE session_id = ANY($1) AND occurred_at IS NOT NULL) u
                 GROUP BY session_id) a
           WHERE s.id = a.session_id"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `token_usage_details`: one row per session and model.
async fn recompute_token_usage(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    // DECIMAL(5,4) holds at most 9.9999: ratios are capped there rather than failing the batch.
    sqlx::query!(
        r#"INSERT INTO token_usage_details (id, session_id, model, input_tokens, output_tokens,
               cache_read_tokens, cache_write_tokens, cache_hit_rate, context_utilization,
               cost_usd, request_count)
           SELECT gen_random_uuid(), session_id, model,
                  LEAST(sum(input_tokens), 2147483647)::int,
                  LEAST(sum(output_tokens), 2147483647)::int,
                  LEAST(sum(cache_read_tokens), 2147483647)::int,
                  LEAST(sum(cache_write_tokens), 2147483647)::int,
                  CASE WHEN sum(cache_read_tokens) + sum(input_tokens) > 0
                       THEN round(sum(cache_read_tokens)::numeric
                                  / (sum(cache_read_tokens) + sum(input_tokens)), 4) END,
                  LEAST(round(avg(utilization), 4), 9.9999),
                  LEAST(sum(cost_usd), 9999.999999),
                  LEAST(sum(calls), 2147483647)::int
           FROM (SELECT session_id, model, input_tokens::bigint, output_tokens::bigint,
                        cache_read_tokens::bigint, cache_write_tokens::bigint,
                        cost_usd::numeric, 1::bigint AS calls,
                        (input_tokens + cache_read_tokens + cache_write_tokens)::numeric
                            / NULLIF(context_window, 0) AS utilization
                 FROM session_turns WHERE session_id = ANY($1)
                 -- Turns deleted by retention keep counting (utilization: survivors only).
                 UNION ALL
                 SELECT session_id, model, input_tokens, output_tokens, cache_read_tokens,
                        cache_write_tokens, cost_usd, model_calls, NULL
                 FROM purged_turn_totals WHERE session_id = ANY($1)) u
           GROUP BY session_id, model
           ON CONFLICT (session_id, model) DO UPDATE SET
               input_tokens = EXCLUDED.input_tokens,
               output_tokens = EXCLUDED.output_tokens,
               cache_read_tokens = EXCLUDED.cache_read_tokens,
               cache_write_tokens = EXCLUDED.cache_write_tokens,
               cache_hit_rate = EXCLUDED.cache_hit_rate,
               context_utilization = EXCLUDED.context_utilization,
               cost_usd = EXCLUDED.cost_usd,
               request_count = EXCLUDED.request_count"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every main turn's `tool_calls` in `sessions`, from scratch: for the rare sessions whose tool
/// calls moved from one turn to another (a tool first placed by time, then named by the call
/// that asked for it), where the incremental rebuilds would leave the old turn's entry behind.
pub async fn rebuild_all_tool_calls(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    if sessions.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"UPDATE session_turns t SET tool_calls = COALESCE(agg.calls, '[]'::jsonb)
           FROM session_turns t0
           LEFT JOIN (
               SELECT turn_id, jsonb_agg(jsonb_build_object(
                          'name', tool_name, 'file_path', file_path,
                          'started_at', started_at, 'duration_ms', duration_ms,
                          'status', status) ORDER BY started_at, span_id) AS calls
               FROM (SELECT c.*, COALESCE(
                         (SELECT t2.id FROM session_turns t2
                          WHERE t2.session_id = c.session_id AND t2.trace_id = c.trace_id
                            AND t2.span_id = c.parent_span_id),
                         (SELECT t2.id FROM session_turns t2
                          WHERE c.parent_span_id IS NULL AND t2.session_id = c.session_id
                            AND t2.call_kind = 'main' AND t2.started_at <= c.started_at
                          ORDER BY t2.started_at DESC, t2.span_id DESC LIMIT 1)) AS turn_id
                     FROM session_tool_calls c WHERE c.session_id = ANY($1)) placed
               GROUP BY turn_id) agg ON agg.turn_id = t0.id
           WHERE t.id = t0.id AND t0.session_id = ANY($1) AND t0.call_kind = 'main'
             AND t.tool_calls IS DISTINCT FROM COALESCE(agg.calls, '[]'::jsonb)"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
