//! `file_access_log`: how often each file of a target was touched by a tool call. Each tool call
//! is added once, when its session has a target, and marked `access_counted`: at insert
//! ([`super::details::insert_tools`]) when the target is known then, else here once it is (a
//! partial index finds the calls not counted yet). Increments
//! rather than a recount: the cost stays proportional to the batch as history grows, and two
//! replicas adding to one path at once both land (the row lock orders them).
//! A session whose target later changes keeps its earlier counts under the first target.

use uuid::Uuid;

use super::Error;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

pub async fn recompute(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    if sessions.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"WITH newly AS (
               UPDATE session_tool_calls c SET access_counted = TRUE
               FROM harness_sessions s
               WHERE c.session_id = ANY($1) AND s.id = c.session_id
                 AND s.target_id IS NOT NULL AND c.file_path IS NOT NULL
                 AND NOT c.access_counted
               RETURNING s.target_id, c.file_path, c.started_at)
           INSERT INTO file_access_log (id, target_id, file_path, access_count, last_accessed_at)
           SELECT gen_random_uuid(), target_id, file_path, count(*)::int, max(started_at)
           FROM newly
           GROUP BY target_id, file_path
           -- Sorted, so that two batches adding to the same paths lock them in one order.
           ORDER BY target_id, file_path
           ON CONFLICT (target_id, file_path) DO UPDATE SET
               access_count = file_access_log.access_count + EXCLUDED.access_count,
               last_accessed_at = GREATEST(file_access_log.last_accessed_at,
                                           EXCLUDED.last_accessed_at)"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
