//! Inserts the detail rows of a batch's new records: turns, tool calls and retries. Called by
//! [`super::ingest`] with only the records the ledger found new, and the session each resolved to.

use uuid::Uuid;

use super::Error;
use crate::domain::{IngestReport, SessionRecord, SessionTarget, SpanBatch};

use super::Tx;

pub async fn insert_turns(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
    sessions: &[Option<Uuid>],
) -> Result<(), Error> {
    let turns: Vec<_> = report
        .new_turns
        .iter()
        .map(|&i| (&batch.turns[i], sessions[i]))
        .collect();
    if turns.is_empty() {
        return Ok(());
    }
    let col = |f: &dyn Fn(&crate::domain::TurnRecord) -> i32| {
        turns.iter().map(|(t, _)| f(t)).collect::<Vec<i32>>()
    };
    sqlx::query!(
        // tool_calls from the calls already stored (those of this batch are inserted first), so
        // a turn is written once; later calls are added by super::rollups.
        r#"INSERT INTO session_turns (id, session_id, turn_number, turn_number_inferred, started_at,
               finished_at, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
               reported_input_tokens, trace_id, span_id, parent_span_id, provider, model,
               response_model, duration_ms, time_to_first_token_ms, cost_usd, context_window,
               status, attributes, cache_write_1h_tokens, reported_cost_usd, tool_calls)
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
               $24::int[], $25::float8[])
             AS u(id, session_id, turn_number, turn_number_inferred, started_at, finished_at,
                  input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                  reported_input_tokens, trace_id, span_id, parent_span_id, provider, model,
                  response_model, duration_ms, time_to_first_token_ms, cost_usd, context_window,
                  status, attributes, cache_write_1h_tokens, reported_cost_usd)"#,
        &turns
            .iter()
            .map(|(t, _)| t.key.row_id())
            .collect::<Vec<_>>(),
        &turns.iter().map(|(_, s)| *s).collect::<Vec<_>>() as &[Option<Uuid>],
        &col(&|t| t.turn_number.unwrap_or(0)),
        &turns
            .iter()
            .map(|(t, _)| t.turn_number.is_none())
            .collect::<Vec<_>>(),
        &turns.iter().map(|(t, _)| t.started_at).collect::<Vec<_>>(),
        &turns.iter().map(|(t, _)| t.finished_at).collect::<Vec<_>>(),
        &col(&|t| t.usage.input as i32),
        &col(&|t| t.usage.output as i32),
        &col(&|t| t.usage.cache_read as i32),
        &col(&|t| t.usage.cache_write as i32),
        &turns
            .iter()
            .map(|(t, _)| t.reported_input_tokens.and_then(|n| i32::try_from(n).ok()))
            .collect::<Vec<_>>() as &[Option<i32>],
        &turns
            .iter()
            .map(|(t, _)| t.key.trace_id.clone())
            .collect::<Vec<_>>(),
        &turns
            .iter()
            .map(|(t, _)| t.key.span_id.clone())
            .collect::<Vec<_>>(),
        &turns
            .iter()
            .map(|(t, _)| t.parent_span_id.clone())
            .collect::<Vec<_>>() as &[Option<Vec<u8>>],
        &turns
            .iter()
            .map(|(t, _)| t.provider.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &turns
            .iter()
            .map(|(t, _)| t.model.clone())
            .collect::<Vec<_>>(),
        &turns
            .iter()
            .map(|(t, _)| t.response_model.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &col(&|t| i32::try_from(t.duration_ms()).unwrap_or(i32::MAX)),
        &turns
            .iter()
            .map(|(t, _)| t.time_to_first_token_ms.and_then(|n| i32::try_from(n).ok()))
            .collect::<Vec<_>>() as &[Option<i32>],
        &turns.iter().map(|(t, _)| t.cost_usd).collect::<Vec<_>>(),
        &col(&|t| t.context_window),
        &turns
            .iter()
            .map(|(t, _)| if t.failed { "error" } else { "ok" }.to_string())
            .collect::<Vec<_>>(),
        &turns
            .iter()
            .map(|(t, _)| t.attributes.clone())
            .collect::<Vec<_>>(),
        &col(&|t| t.usage.cache_write_1h as i32),
        &turns
            .iter()
            .map(|(t, _)| t.reported_cost_usd)
            .collect::<Vec<_>>() as &[Option<f64>],
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert_tools(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
    sessions: &[Option<Uuid>],
) -> Result<(), Error> {
    let tools: Vec<_> = report
        .new_tools
        .iter()
        .map(|&i| (&batch.tools[i], sessions[i]))
        .collect();
    if tools.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        // A call whose session was already counted into file_access_log is added here, in the
        // same statement; the others all at once when the session's target becomes known (see
        // super::file_access).
        r#"WITH inserted AS (
               INSERT INTO session_tool_calls (id, session_id, trace_id, span_id, parent_span_id,
                   tool_name, file_path, started_at, duration_ms, status, attributes)
               SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bytea[], $4::bytea[], $5::bytea[],
                   $6::text[], $7::text[], $8::timestamptz[], $9::int[], $10::text[],
                   $11::jsonb[])
               RETURNING session_id, file_path, started_at),
           counted AS (
               SELECT s.target_id, i.started_at,
                      acd_relative_path(i.file_path,
                                        COALESCE(tg.root_path, s.attributes->>'claude.cwd'))
                          AS path
               FROM inserted i
               JOIN harness_sessions s ON s.id = i.session_id
               JOIN targets tg ON tg.id = s.target_id
               WHERE s.file_access_counted AND i.file_path <> '')
           SELECT acd_add_file_accesses(array_agg(c.target_id), array_agg(c.path),
                                        array_agg(c.started_at))
           FROM counted c"#,
        &tools
            .iter()
            .map(|(t, _)| t.key.row_id())
            .collect::<Vec<_>>(),
        &tools.iter().map(|(_, s)| *s).collect::<Vec<_>>() as &[Option<Uuid>],
        &tools
            .iter()
            .map(|(t, _)| t.key.trace_id.clone())
            .collect::<Vec<_>>(),
        &tools
            .iter()
            .map(|(t, _)| t.key.span_id.clone())
            .collect::<Vec<_>>(),
        &tools
            .iter()
            .map(|(t, _)| t.parent_span_id.clone())
            .collect::<Vec<_>>() as &[Option<Vec<u8>>],
        &tools
            .iter()
            .map(|(t, _)| t.tool_name.clone())
            .collect::<Vec<_>>(),
        &tools
            .iter()
            .map(|(t, _)| t.file_path.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &tools.iter().map(|(t, _)| t.started_at).collect::<Vec<_>>(),
        &tools
            .iter()
            .map(
                |(t, _)| i32::try_from((t.finished_at - t.started_at).num_milliseconds())
                    .unwrap_or(i32::MAX)
            )
            .collect::<Vec<_>>(),
        &tools
            .iter()
            .map(|(t, _)| if t.failed { "error" } else { "ok" }.to_string())
            .collect::<Vec<_>>(),
        &tools
            .iter()
            .map(|(t, _)| t.attributes.clone())
            .collect::<Vec<_>>(),
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert_retries(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
    sessions: &[Option<Uuid>],
) -> Result<(), Error> {
    let rows: Vec<_> = report
        .new_retries
        .iter()
        .map(|&i| (&batch.retries[i], sessions[i]))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO session_retries (id, session_id, retry_number, reason, original_model,
               fallback_model, wait_duration_ms, succeeded, error_message, created_at, trace_id,
               span_id, exhausted, occurred_at, attributes)
           SELECT id, session_id, retry_number, reason, original_model, fallback_model, wait_ms,
                  succeeded, error_message, at, trace_id, span_id, exhausted, at, attributes
           FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[],
               $7::int[], $8::bool[], $9::text[], $10::timestamptz[], $11::bytea[], $12::bytea[],
               $13::bool[], $14::jsonb[])
             AS r(id, session_id, retry_number, reason, original_model, fallback_model, wait_ms,
                  succeeded, error_message, at, trace_id, span_id, exhausted, attributes)"#,
        &rows.iter().map(|(r, _)| r.key.row_id()).collect::<Vec<_>>(),
        &rows.iter().map(|(_, s)| *s).collect::<Vec<_>>() as &[Option<Uuid>],
        &rows.iter().map(|(r, _)| r.retry_number).collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|(r, _)| r.reason.clone())
            .collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|(r, _)| r.original_model.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &rows
            .iter()
            .map(|(r, _)| r.fallback_model.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &rows
            .iter()
            .map(|(r, _)| r
                .wait_ms
                .map(|w| i32::try_from(w.max(0)).unwrap_or(i32::MAX)))
            .collect::<Vec<_>>() as &[Option<i32>],
        &rows.iter().map(|(r, _)| r.succeeded).collect::<Vec<_>>() as &[Option<bool>],
        &rows
            .iter()
            .map(|(r, _)| r.error_message.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &rows.iter().map(|(r, _)| r.at).collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|(r, _)| r.key.trace_id.clone())
            .collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|(r, _)| r.key.span_id.clone())
            .collect::<Vec<_>>(),
        &rows.iter().map(|(r, _)| r.exhausted).collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|(r, _)| r.attributes.clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores what sources report about whole sessions. When per-turn parsing was incomplete
/// (`aggregate_only`), the session totals are taken from the report and marked
/// `totals_source = 'result'`, which the rollups then leave alone.
pub async fn apply_reported(tx: &mut Tx<'_>, sessions: &[&SessionRecord]) -> Result<(), Error> {
    for s in sessions {
        let Some(r) = &s.reported else { continue };
        let usage = r.usage.unwrap_or_default();
        sqlx::query!(
            r#"UPDATE harness_sessions SET
                   reported_session_cost_usd = $2::float8,
                   reported_cost_usd = COALESCE($2::float8, reported_cost_usd),
                   reported_duration_ms = $3::bigint,
                   reported_api_ms = $4::bigint,
                   api_latency_ms = CASE WHEN $4 IS NULL THEN api_latency_ms
                                         ELSE LEAST($4, 2147483647)::int END,
                   reported_num_turns = $5,
                   reported = $6,
                   totals_source = CASE WHEN $7::bool THEN 'result' ELSE 'turns' END,
                   turn_count = CASE WHEN $7 THEN COALESCE($5::int, turn_count) ELSE turn_count END,
                   input_tokens = CASE WHEN $7 THEN $8 ELSE input_tokens END,
                   output_tokens = CASE WHEN $7 THEN $9 ELSE output_tokens END,
                   cache_read_tokens = CASE WHEN $7 THEN $10 ELSE cache_read_tokens END,
                   cache_write_tokens = CASE WHEN $7 THEN $11 ELSE cache_write_tokens END,
                   cache_write_1h_tokens = CASE WHEN $7 THEN $12 ELSE cache_write_1h_tokens END,
                   cost_usd = CASE WHEN $7 THEN COALESCE($13::float8, cost_usd) ELSE cost_usd END,
                   updated_at = NOW()
               WHERE id = $1"#,
            s.id,
            r.cost_usd,
            r.duration_ms,
            r.duration_api_ms,
            r.num_turns,
            r.raw,
            r.aggregate_only,
            usage.input,
            usage.output,
            usage.cache_read,
            usage.cache_write,
            usage.cache_write_1h,
            r.computed_cost_usd,
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Gives sessions the target that their records name, unless a session span already set one.
pub async fn apply_session_targets(
    tx: &mut Tx<'_>,
    targets: &[SessionTarget],
) -> Result<(), Error> {
    if targets.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<&SessionTarget> = targets
        .iter()
        .filter(|t| seen.insert(t.session_id))
        .collect();
    sqlx::query!(
        r#"INSERT INTO targets (id, name)
           SELECT DISTINCT ON (id) * FROM UNNEST($1::uuid[], $2::text[]) AS t(id, name)
           ON CONFLICT (id) DO UPDATE
           SET name = COALESCE(EXCLUDED.name, targets.name), updated_at = NOW()"#,
        &rows.iter().map(|t| t.target_id).collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|t| t.target_name.clone())
            .collect::<Vec<_>>() as &[Option<String>],
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        r#"UPDATE harness_sessions s SET target_id = m.target_id, updated_at = NOW()
           FROM UNNEST($1::uuid[], $2::uuid[]) AS m(session_id, target_id)
           WHERE s.id = m.session_id AND s.target_id IS NULL"#,
        &rows.iter().map(|t| t.session_id).collect::<Vec<_>>(),
        &rows.iter().map(|t| t.target_id).collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
