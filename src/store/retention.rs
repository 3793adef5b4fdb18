//! Retention of turn-level detail: rows older than the window are deleted in small batches, so
//! no long transaction holds locks against ingest. What deleted turns contributed to their
//! session's totals is kept in `purged_turn_totals`, which recomputation adds to the surviving
//! turns. Sessions, their totals, `token_usage_details`,
//! `file_access_log` and the daily rollup `turn_usage_daily` are kept: the aggregate endpoints go
//! on answering from them. One replica at a time does it, under a session advisory lock; the
//! others find it taken and skip. See docs/scaling.md. The schedule is `crate::jobs::retention`.

use chrono::{DateTime, Utc};

use super::{Error, Store};

/// Advisory lock key of the retention job (two-int form, apart from ingest's bigint keys).
const LOCK_CLASS: i32 = 0x0acd;
const LOCK_RETENTION: i32 = 9;

/// Rows deleted by one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub turns: u64,
    pub tool_calls: u64,
    pub retries: u64,
    pub ledger: u64,
}

impl Store {
    /// Deletes detail older than `before`, `batch` rows per statement. `None` when another
    /// replica holds the job's lock.
    pub async fn purge_detail(
        &self,
        before: DateTime<Utc>,
        batch: i64,
    ) -> Result<Option<Purged>, Error> {
        let mut conn = self.pool.acquire().await?;
        let locked = sqlx::query_scalar!(
            r#"SELECT pg_try_advisory_lock($1, $2) AS "locked!""#,
            LOCK_CLASS,
            LOCK_RETENTION
        )
        .fetch_one(&mut *conn)
        .await?;
        if !locked {
            return Ok(None);
        }
        let result = async {
            let mut purged = Purged::default();
            loop {
                // What the deleted turns contributed is added to purged_turn_totals in the
                // same statement, so recomputed totals keep counting them (issue 19, item 5).
                let turns = sqlx::query_scalar!(
                    r#"WITH gone AS (
                           DELETE FROM session_turns WHERE ctid = ANY(ARRAY(
                               SELECT ctid FROM session_turns WHERE started_at < $1 LIMIT $2))
                           RETURNING session_id, model, input_tokens, output_tokens,
                                     cache_read_tokens, cache_write_tokens,
                                     cache_write_1h_tokens, cost_usd, reported_cost_usd,
                                     duration_ms, call_kind),
                       kept AS (
                           INSERT INTO purged_turn_totals AS p (session_id, model, turns,
                               model_calls, input_tokens, output_tokens, cache_read_tokens,
                               cache_write_tokens, cache_write_1h_tokens, cost_usd,
                               reported_cost_usd, duration_ms)
                           SELECT session_id, model,
                                  count(*) FILTER (WHERE call_kind = 'main'), count(*),
                                  COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0),
                                  sum(cache_read_tokens), sum(cache_write_tokens),
                                  sum(cache_write_1h_tokens), sum(cost_usd),
                                  sum(reported_cost_usd), COALESCE(sum(duration_ms), 0)
                           FROM gone WHERE session_id IS NOT NULL
                           GROUP BY session_id, model
                           ON CONFLICT (session_id, model) DO UPDATE SET
                               turns = p.turns + EXCLUDED.turns,
                               model_calls = p.model_calls + EXCLUDED.model_calls,
                               input_tokens = p.input_tokens + EXCLUDED.input_tokens,
                               output_tokens = p.output_tokens + EXCLUDED.output_tokens,
                               cache_read_tokens = p.cache_read_tokens + EXCLUDED.cache_read_tokens,
                               cache_write_tokens =
                                   p.cache_write_tokens + EXCLUDED.cache_write_tokens,
                               cache_write_1h_tokens =
                                   p.cache_write_1h_tokens + EXCLUDED.cache_write_1h_tokens,
                               cost_usd = p.cost_usd + EXCLUDED.cost_usd,
                               reported_cost_usd = CASE
                                   WHEN p.reported_cost_usd IS NULL
                                        AND EXCLUDED.reported_cost_usd IS NULL THEN NULL
                                   ELSE COALESCE(p.reported_cost_usd, 0)
                                        + COALESCE(EXCLUDED.reported_cost_usd, 0) END,
                               duration_ms = p.duration_ms + EXCLUDED.duration_ms
                           RETURNING 1)
                       SELECT count(*) AS "deleted!" FROM gone"#,
                    before,
                    batch
                )
                .fetch_one(&mut *conn)
                .await? as u64;
                let tools = sqlx::query!(
                    r#"DELETE FROM session_tool_calls WHERE ctid = ANY(ARRAY(
                           SELECT ctid FROM session_tool_calls WHERE started_at < $1 LIMIT $2))"#,
                    before,
                    batch
                )
                .execute(&mut *conn)
                .await?
                .rows_affected();
                let retries = sqlx::query!(
                    r#"DELETE FROM session_retries WHERE ctid = ANY(ARRAY(
                           SELECT ctid FROM session_retries
                           WHERE COALESCE(occurred_at, created_at) < $1 LIMIT $2))"#,
                    before,
                    batch
                )
                .execute(&mut *conn)
                .await?
                .rows_affected();
                // Ledger rows of session and test-run spans stay: they are few, and they link
                // a trace to its session.
                let ledger = sqlx::query!(
                    r#"DELETE FROM otlp_spans WHERE ctid = ANY(ARRAY(
                           SELECT ctid FROM otlp_spans
                           WHERE received_at < $1 AND kind IN ('turn', 'tool', 'retry')
                           LIMIT $2))"#,
                    before,
                    batch
                )
                .execute(&mut *conn)
                .await?
                .rows_affected();
                purged.turns += turns;
                purged.tool_calls += tools;
                purged.retries += retries;
                purged.ledger += ledger;
                if turns.max(tools).max(retries).max(ledger) < batch as u64 {
                    return Ok::<_, Error>(purged);
                }
            }
        }
        .await;
        sqlx::query_scalar!(
            r#"SELECT pg_advisory_unlock($1, $2) AS "unlocked!""#,
            LOCK_CLASS,
            LOCK_RETENTION
        )
        .fetch_one(&mut *conn)
        .await?;
        result.map(Some)
    }
}
