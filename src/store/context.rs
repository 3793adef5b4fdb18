//! `context_usage`: one row per turn, computed by [`crate::context::usage`] when the turn is
//! first stored, attached to its session and turn number when those become known, and marked
//! as overflowed where a Claude compaction boundary followed it. Reads for the context API.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};
use crate::context::usage::TurnContext;
use crate::domain::{IngestReport, SpanBatch};

use super::Tx;

/// Rows for the batch's new turns (ON CONFLICT DO NOTHING: a turn's row is written once).
pub async fn insert_turns(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
    sessions: &[Option<Uuid>],
) -> Result<(), Error> {
    if report.new_turns.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::new();
    let (mut session_ids, mut numbers, mut models) = (vec![], vec![], vec![]);
    let (mut system, mut feature, mut files, mut conversation) = (vec![], vec![], vec![], vec![]);
    let (mut totals, mut limits, mut ratios, mut overflows, mut reported) =
        (vec![], vec![], vec![], vec![], vec![]);
    // Side and subagent calls have contexts of their own, not the conversation's.
    for &i in report
        .new_turns
        .iter()
        .filter(|&&i| batch.turns[i].is_turn())
    {
        let t = &batch.turns[i];
        let c = TurnContext::of(t);
        let s = c.segments.unwrap_or([0; 4]);
        ids.push(t.key.row_id());
        session_ids.push(sessions[i]);
        numbers.push(t.turn_number);
        models.push(t.model.clone());
        system.push(clamp(s[0]));
        feature.push(clamp(s[1]));
        files.push(clamp(s[2]));
        conversation.push(clamp(s[3]));
        totals.push(clamp(c.total));
        limits.push(clamp(c.limit));
        ratios.push(c.utilization);
        overflows.push(c.overflow.map(|o| o.as_str().to_string()));
        reported.push(c.segments.is_some());
    }
    sqlx::query!(
        r#"INSERT INTO context_usage (id, turn_id, session_id, turn_number, model, system_tokens,
               feature_tokens, file_tokens, conversation_tokens, total_tokens, context_limit,
               utilization, utilization_ratio, overflow_occurred, overflow_reason, segments_reported)
           SELECT gen_random_uuid(), u.turn_id, u.session_id, u.turn_number, u.model, u.system,
               u.feature, u.files, u.conversation, u.total, u.lim,
               LEAST(round(u.ratio::numeric, 4), 9.9999), u.ratio, u.overflow IS NOT NULL,
               u.overflow, u.reported
           FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::int[],
               $7::int[], $8::int[], $9::int[], $10::int[], $11::float8[], $12::text[],
               $13::bool[])
             AS u(turn_id, session_id, turn_number, model, system, feature, files, conversation,
                  total, lim, ratio, overflow, reported)
           ON CONFLICT (turn_id) DO NOTHING"#,
        &ids,
        &session_ids as &[Option<Uuid>],
        &numbers as &[Option<i32>],
        &models,
        &system,
        &feature,
        &files,
        &conversation,
        &totals,
        &limits,
        &ratios,
        &overflows as &[Option<String>],
        &reported,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn clamp(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

/// Gives the rows of these sessions' turns their session and (possibly inferred) turn number,
/// and marks the turn before each compaction boundary as overflowed.
pub async fn recompute(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    if sessions.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"UPDATE context_usage c SET session_id = t.session_id, turn_number = t.turn_number
           FROM session_turns t
           WHERE c.turn_id = t.id AND t.session_id = ANY($1)
             -- Spelt out so that context_usage is read through its turn_id index, not scanned.
             AND c.turn_id = ANY(ARRAY(SELECT id FROM session_turns WHERE session_id = ANY($1)))
             AND (c.session_id IS DISTINCT FROM t.session_id
                  OR c.turn_number IS DISTINCT FROM t.turn_number)"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        r#"UPDATE context_usage c
           SET overflow_occurred = TRUE, overflow_reason = COALESCE(c.overflow_reason, 'compaction')
           FROM (SELECT (SELECT t.id FROM session_turns t
                         WHERE t.session_id = s.id
                           AND t.started_at < (comp->>'at')::timestamptz
                         ORDER BY t.started_at DESC, t.turn_number DESC LIMIT 1) AS turn_id
                 FROM harness_sessions s,
                      jsonb_array_elements(CASE WHEN jsonb_typeof(s.attributes->'claude.compactions')
                                                     = 'array'
                                                THEN s.attributes->'claude.compactions'
                                                ELSE '[]'::jsonb END) AS comp
                 WHERE s.id = ANY($1) AND jsonb_typeof(comp->'at') = 'string') m
           WHERE c.turn_id = m.turn_id AND c.overflow_reason IS DISTINCT FROM 'compaction'
             AND NOT c.overflow_occurred"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One turn's context, as the API shows it.
#[derive(Debug, Clone)]
pub struct TurnContextRow {
    pub turn_number: Option<i32>,
    pub model: Option<String>,
    pub system_tokens: i32,
    pub feature_tokens: i32,
    pub file_tokens: i32,
    pub conversation_tokens: i32,
    pub total_tokens: i32,
    pub context_limit: i32,
    pub utilization: Option<f64>,
    /// The source broke the prompt into segments (`acd.context.*`); else only the total is known.
    pub segments_reported: bool,
    pub overflow: bool,
    /// over_limit | prompt_too_long | compaction
    pub overflow_reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// A session's context rows in turn order; None when the session does not exist.
pub async fn session_context(
    store: &Store,
    session: Uuid,
) -> Result<Option<(Vec<TurnContextRow>, i64)>, Error> {
    let exists = sqlx::query_scalar!(
        r#"SELECT COALESCE(jsonb_array_length(CASE WHEN jsonb_typeof(attributes->'claude.compactions')
                                                       = 'array'
                                                  THEN attributes->'claude.compactions'
                                                  ELSE '[]'::jsonb END), 0)::bigint AS "n!"
           FROM harness_sessions WHERE id = $1"#,
        session
    )
    .fetch_optional(store.pool())
    .await?;
    let Some(compactions) = exists else {
        return Ok(None);
    };
    let rows = sqlx::query_as!(
        TurnContextRow,
        r#"SELECT c.turn_number, c.model, c.system_tokens AS "system_tokens!",
                  c.feature_tokens AS "feature_tokens!", c.file_tokens AS "file_tokens!",
                  c.conversation_tokens AS "conversation_tokens!",
                  c.total_tokens AS "total_tokens!", c.context_limit AS "context_limit!",
                  COALESCE(c.utilization_ratio, c.utilization::float8) AS utilization,
                  c.segments_reported, c.overflow_occurred AS "overflow!", c.overflow_reason,
                  t.started_at AS "started_at?"
           FROM context_usage c LEFT JOIN session_turns t ON t.id = c.turn_id
           WHERE c.session_id = $1
           ORDER BY c.turn_number NULLS LAST, t.started_at"#,
        session
    )
    .fetch_all(store.pool())
    .await?;
    Ok(Some((rows, compactions)))
}
