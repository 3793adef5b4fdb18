//! Sessions that never send a session span (Claude Code's own telemetry has none) end when
//! they go idle: no record for the idle time. See [`crate::jobs::idle_sessions`].

use std::time::Duration;

use super::{Error, Store};

/// How many sessions one pass closed, by the status they got.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Closed {
    pub completed: u64,
    pub abandoned: u64,
}

impl Store {
    /// Closes the running span-less sessions nothing arrived for in `idle`: `completed` when
    /// their last model call succeeded and no tool started after it ended (the agent answered
    /// and stopped), else `abandoned`. `ended_at` is the last activity (the wall clock's end).
    pub async fn close_idle_sessions(&self, idle: Duration) -> Result<Closed, Error> {
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        let rows = sqlx::query!(
            r#"UPDATE harness_sessions s SET
                   status = CASE WHEN x.finished THEN 'completed' ELSE 'abandoned' END,
                   ended_at = s.started_at + COALESCE(s.wall_clock_ms, 0) * interval '1 ms',
                   updated_at = NOW()
               FROM (SELECT s2.id,
                            COALESCE(last.status = 'ok' AND NOT EXISTS (
                                SELECT 1 FROM session_tool_calls c
                                WHERE c.session_id = s2.id
                                  AND c.started_at > last.finished_at), false) AS finished
                     FROM harness_sessions s2
                     LEFT JOIN LATERAL (
                         SELECT t.status, t.finished_at FROM session_turns t
                         WHERE t.session_id = s2.id AND t.call_kind = 'main'
                         ORDER BY t.finished_at DESC LIMIT 1) last ON true
                     WHERE s2.status = 'running' AND s2.span_id IS NULL
                       AND s2.updated_at < NOW() - $1 * interval '1 ms'
                     FOR UPDATE OF s2 SKIP LOCKED) x
               WHERE s.id = x.id
               RETURNING x.finished AS "finished!""#,
            idle_ms as f64
        )
        .fetch_all(&self.pool)
        .await?;
        let completed = rows.iter().filter(|r| r.finished).count() as u64;
        Ok(Closed {
            completed,
            abandoned: rows.len() as u64 - completed,
        })
    }
}
