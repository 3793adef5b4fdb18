//! A turn's context: its figures are computed by [`crate::context::usage`] and stored on the
//! turn's row when the turn is first stored (`write::turns`; the `context_usage` view reads them,
//! migration 0024), and marked as overflowed here where a Claude compaction boundary followed
//! it. Reads for the context API.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};

use super::Tx;

/// Marks the last turn of the conversation before each of these sessions' compaction boundaries
/// as overflowed (a turn that overflowed for another reason keeps that reason).
pub async fn recompute(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    if sessions.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"UPDATE session_turns c SET context_overflow_reason = 'compaction'
           FROM (SELECT (SELECT t.id FROM session_turns t
                         WHERE t.session_id = s.id AND t.context_total_tokens IS NOT NULL
                           AND t.started_at < (comp->>'at')::timestamptz
                         ORDER BY t.started_at DESC, t.turn_number DESC LIMIT 1) AS turn_id
                 FROM harness_sessions s,
                      jsonb_array_elements(CASE WHEN jsonb_typeof(s.attributes->'claude.compactions')
                                                     = 'array'
                                                THEN s.attributes->'claude.compactions'
                                                ELSE '[]'::jsonb END) AS comp
                 WHERE s.id = ANY($1) AND jsonb_typeof(comp->'at') = 'string') m
           WHERE c.id = m.turn_id AND c.context_overflow_reason IS NULL"#,
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
        r#"SELECT t.turn_number AS "turn_number?", t.model AS "model?",
                  COALESCE(t.context_system_tokens, 0) AS "system_tokens!",
                  COALESCE(t.context_feature_tokens, 0) AS "feature_tokens!",
                  COALESCE(t.context_file_tokens, 0) AS "file_tokens!",
                  COALESCE(t.context_conversation_tokens, 0) AS "conversation_tokens!",
                  t.context_total_tokens AS "total_tokens!",
                  COALESCE(t.context_limit, 0) AS "context_limit!",
                  t.context_utilization_ratio AS utilization,
                  COALESCE(t.context_segments_reported, FALSE) AS "segments_reported!",
                  t.context_overflow_reason IS NOT NULL AS "overflow!",
                  t.context_overflow_reason AS overflow_reason,
                  t.started_at AS "started_at?"
           FROM session_turns t
           WHERE t.session_id = $1 AND t.context_total_tokens IS NOT NULL
           ORDER BY t.turn_number, t.started_at"#,
        session
    )
    .fetch_all(store.pool())
    .await?;
    Ok(Some((rows, compactions)))
}
