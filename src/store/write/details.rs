//! Inserts the detail rows of a batch's new records: tool calls and retries (turns: see
//! [`super::turns`]), and what sources report about whole sessions. Called by the write pipeline
//! with only the records the ledger found new, and the session each resolved to.

use uuid::Uuid;

use crate::domain::{CallStatus, IngestReport, SessionRecord, SessionTarget, SpanBatch};
use crate::store::{Error, Tx};

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
        // crate::store::file_access).
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
            .map(|(t, _)| t.key.local_row_id())
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
            .map(|(t, _)| CallStatus::of(t.failed).as_str().to_string())
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
            .map(|(r, _)| r.reason.as_str().to_string())
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
