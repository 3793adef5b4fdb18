//! `file_access_log`: how often each file of a target was touched by a tool call. Each tool call
//! is added once, when its session has a target. The flag is per session
//! (`harness_sessions.file_access_counted`, migration 0015): when a session first has a target,
//! every call stored until then is added in one statement and the session is flagged
//! ([`count_new_targets`]); calls of a flagged session are added at their insert
//! (`write::details::insert_tools`) or, for orphans, when attached to it ([`count_attached`]).
//! A call stored before its session's target (the session span comes last) is thus written once.
//! Increments rather than a recount: the cost stays proportional to the batch as history grows,
//! and two replicas adding to one path at once both land (the row lock orders them). A session
//! whose target later changes keeps its earlier counts under the first target. Paths are made
//! relative to the target's root (its registered `root_path`, else the Claude session's working
//! directory) by the SQL function `acd_relative_path` (migration 0014), and `avg_tokens` comes
//! from the target's codebase index.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};

use super::Tx;

/// Adds every stored call of those of `sessions` that have a target and were not counted yet,
/// and flags them. Run after the batch's inserts and attachments, under the batch's locks.
pub async fn count_new_targets(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    if sessions.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"WITH flagged AS (
               UPDATE harness_sessions s SET file_access_counted = TRUE
               FROM targets tg
               WHERE s.id = ANY($1) AND tg.id = s.target_id AND NOT s.file_access_counted
               RETURNING s.id, s.target_id,
                         COALESCE(tg.root_path, s.attributes->>'claude.cwd') AS root),
           calls AS (
               SELECT f.target_id, acd_relative_path(c.file_path, f.root) AS path, c.started_at
               FROM flagged f JOIN session_tool_calls c ON c.session_id = f.id
               WHERE c.session_id = ANY($1) AND c.file_path <> '')
           SELECT acd_add_file_accesses(array_agg(n.target_id), array_agg(n.path),
                                        array_agg(n.started_at))
           FROM calls n"#,
        sessions
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}

/// Adds orphan calls (`tool_calls`) just attached to a session that was already counted; calls
/// attached to a session not counted yet wait for [`count_new_targets`].
pub async fn count_attached(tx: &mut Tx<'_>, tool_calls: &[Uuid]) -> Result<(), Error> {
    if tool_calls.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"WITH calls AS (
               SELECT s.target_id, c.started_at,
                      acd_relative_path(c.file_path,
                                        COALESCE(tg.root_path, s.attributes->>'claude.cwd'))
                          AS path
               FROM session_tool_calls c
               JOIN harness_sessions s ON s.id = c.session_id
               JOIN targets tg ON tg.id = s.target_id
               WHERE c.id = ANY($1) AND s.file_access_counted AND c.file_path <> '')
           SELECT acd_add_file_accesses(array_agg(n.target_id), array_agg(n.path),
                                        array_agg(n.started_at))
           FROM calls n"#,
        tool_calls
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}

/// One row of the hot-files list.
#[derive(Debug, Clone)]
pub struct HotFile {
    pub file_path: String,
    pub access_count: i32,
    pub last_accessed_at: Option<DateTime<Utc>>,
    /// Tokens of the file in the latest index (None: not indexed).
    pub avg_tokens: Option<i32>,
    /// In the LRU set (the most accessed files; set by the last plan or by this request).
    pub is_cached: bool,
}

impl Store {
    /// Marks the `size` most accessed files of the target as the LRU set (`is_cached`), and
    /// every other file as not cached; ties go to the most recently accessed.
    pub async fn update_lru(&self, target: Uuid, size: i64) -> Result<(), Error> {
        sqlx::query!(
            r#"UPDATE file_access_log f SET is_cached = r.rank <= $2
               FROM (SELECT id, row_number() OVER (ORDER BY access_count DESC,
                                 last_accessed_at DESC NULLS LAST, file_path) AS rank
                     FROM file_access_log WHERE target_id = $1) r
               WHERE f.id = r.id AND f.is_cached IS DISTINCT FROM (r.rank <= $2)"#,
            target,
            size
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The target's most accessed files, most first.
    pub async fn hot_files(&self, target: Uuid, limit: i64) -> Result<Vec<HotFile>, Error> {
        Ok(sqlx::query_as!(
            HotFile,
            r#"SELECT f.file_path, COALESCE(f.access_count, 0) AS "access_count!",
                      f.last_accessed_at,
                      COALESCE(LEAST(c.tokens, 2147483647)::int, f.avg_tokens) AS avg_tokens,
                      COALESCE(f.is_cached, FALSE) AS "is_cached!"
               FROM file_access_log f
               LEFT JOIN codebase_files c ON c.target_id = f.target_id AND c.path = f.file_path
               WHERE f.target_id = $1
               ORDER BY f.access_count DESC, f.last_accessed_at DESC NULLS LAST, f.file_path
               LIMIT $2"#,
            target,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Access counts of every logged file of the target (for the planner).
    pub async fn access_counts(&self, target: Uuid) -> Result<Vec<(String, i64)>, Error> {
        Ok(sqlx::query!(
            r#"SELECT file_path, COALESCE(access_count, 0)::bigint AS "n!"
               FROM file_access_log WHERE target_id = $1"#,
            target
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| (r.file_path, r.n))
        .collect())
    }
}
