//! `file_access_log`: how often each file of a target was touched by a tool call. Recomputed per
//! (target, path) from `session_tool_calls` for the paths a batch touched, so a retried batch or
//! a session whose target becomes known late gives the same counts.

use uuid::Uuid;

use super::Error;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

pub async fn recompute(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    if sessions.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO file_access_log (id, target_id, file_path, access_count, last_accessed_at)
           SELECT gen_random_uuid(), s.target_id, c.file_path, count(*)::int, max(c.started_at)
           FROM session_tool_calls c JOIN harness_sessions s ON s.id = c.session_id
           WHERE (s.target_id, c.file_path) IN (
                     SELECT s2.target_id, c2.file_path
                     FROM session_tool_calls c2 JOIN harness_sessions s2 ON s2.id = c2.session_id
                     WHERE c2.session_id = ANY($1) AND c2.file_path IS NOT NULL
                       AND s2.target_id IS NOT NULL)
           GROUP BY s.target_id, c.file_path
           ON CONFLICT (target_id, file_path) DO UPDATE SET
               access_count = EXCLUDED.access_count,
               last_accessed_at = GREATEST(file_access_log.last_accessed_at,
                                           EXCLUDED.last_accessed_at)"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
