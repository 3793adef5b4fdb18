//! Retries (`session_retries`): the session's retry columns kept current at ingest, one
//! session's retry history, and the summary over the last N days. A retry row is one failed
//! attempt of a model call; `succeeded` says whether the attempt after it completed, so a call
//! that succeeded after N retries has exactly one succeeded row, numbered N.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};
use crate::domain::RetryReason;

use super::Tx;

/// Recomputes `retry_count`, `max_retries_hit` and `model_fallbacks` of `sessions` from their
/// retry rows. Returns how many of them hit the retry limit for the first time, which the
/// `acd_max_retries_hit_total` counter adds (the ledger makes a resent batch touch nothing).
pub(super) async fn recompute(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<usize, Error> {
    if sessions.is_empty() {
        return Ok(0);
    }
    // `before` is read from the snapshot the statement started with: the value prior to SET.
    let newly_hit = sqlx::query_scalar!(
        r#"UPDATE harness_sessions s SET
               retry_count = r.retries,
               max_retries_hit = r.exhausted,
               model_fallbacks = r.fallbacks,
               updated_at = NOW()
           FROM (SELECT session_id,
                        count(*)::int AS retries,
                        bool_or(exhausted) AS exhausted,
                        (count(*) FILTER (WHERE fallback_model IS NOT NULL
                             AND fallback_model IS DISTINCT FROM original_model))::int AS fallbacks
                 FROM session_retries WHERE session_id = ANY($1)
                 GROUP BY session_id) r,
                (SELECT id, COALESCE(max_retries_hit, FALSE) AS hit
                 FROM harness_sessions WHERE id = ANY($1)) before
           WHERE s.id = r.session_id AND before.id = s.id
           RETURNING (r.exhausted AND NOT before.hit) AS "newly_hit!""#,
        sessions
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(newly_hit.into_iter().filter(|hit| *hit).count())
}

/// One retry of a session's history.
#[derive(Debug)]
pub struct RetryRow {
    pub retry_number: i32,
    pub reason: RetryReason,
    pub original_model: Option<String>,
    pub fallback_model: Option<String>,
    /// The fallback model differs from the original one.
    pub model_fallback: bool,
    pub wait_duration_ms: Option<i32>,
    /// The attempt after this failure completed (null: not known).
    pub succeeded: Option<bool>,
    /// The retry budget ran out with this failure.
    pub exhausted: bool,
    pub error_message: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// Milliseconds since the session's previous retry (null for the first).
    pub ms_since_previous: Option<i64>,
}

#[derive(Debug)]
pub struct ReasonRate {
    pub reason: RetryReason,
    pub retries: i64,
    /// This reason's part of all retries.
    pub share: f64,
    /// Retries per model call (turn) in the window.
    pub retries_per_call: Option<f64>,
}

#[derive(Debug)]
pub struct ModelRate {
    /// The model that failed (`original_model`; `unknown` when not reported).
    pub model: String,
    pub retries: i64,
    /// Model calls (turns) of this model in the window.
    pub calls: i64,
    /// retries / calls (null without calls).
    pub retries_per_call: Option<f64>,
}

/// Calls that succeeded after exactly `retries` retries.
#[derive(Debug)]
pub struct SuccessAfter {
    pub retries: i32,
    pub calls: i64,
}

#[derive(Debug)]
pub struct FallbackPair {
    /// `unknown` when the original model was not reported.
    pub from_model: String,
    pub to_model: String,
    pub count: i64,
}

/// The figures of the retry summary, over retries that occurred since a time.
#[derive(Debug)]
pub struct RetryFigures {
    pub retries: i64,
    pub model_calls: i64,
    pub succeeded: i64,
    pub exhausted: i64,
    pub by_reason: Vec<ReasonRate>,
    pub by_model: Vec<ModelRate>,
    pub success_after: Vec<SuccessAfter>,
    pub fallback_pairs: Vec<FallbackPair>,
    /// Sessions that started in the window, and how many of them hit the retry limit.
    pub sessions: i64,
    pub sessions_hit_max_retries: i64,
}

impl Store {
    /// A session's retries in the order they happened; None when the session does not exist.
    pub async fn session_retries(&self, id: Uuid) -> Result<Option<Vec<RetryRow>>, Error> {
        let exists = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM harness_sessions WHERE id = $1) AS "exists!""#,
            id
        )
        .fetch_one(&self.pool)
        .await?;
        if !exists {
            return Ok(None);
        }
        let rows = sqlx::query_as!(
            RetryRow,
            r#"SELECT retry_number, reason AS "reason: RetryReason", original_model, fallback_model,
                      (fallback_model IS NOT NULL
                       AND fallback_model IS DISTINCT FROM original_model) AS "model_fallback!",
                      wait_duration_ms, succeeded, exhausted, error_message,
                      at AS "occurred_at!",
                      (EXTRACT(EPOCH FROM at - lag(at) OVER w) * 1000)::bigint
                          AS ms_since_previous
               FROM (SELECT *, COALESCE(occurred_at, created_at) AS at
                     FROM session_retries WHERE session_id = $1) r
               WINDOW w AS (ORDER BY at, retry_number, span_id)
               ORDER BY at, retry_number, span_id"#,
            id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(rows))
    }

    pub async fn retry_figures(&self, since: DateTime<Utc>) -> Result<RetryFigures, Error> {
        let (midnight, day) = super::usage_daily::first_full_day(since);
        let totals = sqlx::query!(
            r#"SELECT count(*) AS "retries!",
                      count(*) FILTER (WHERE succeeded) AS "succeeded!",
                      count(*) FILTER (WHERE exhausted) AS "exhausted!",
                      -- Model calls: whole days from the daily rollup, the first from turns.
                      ((SELECT count(*) FROM session_turns
                        WHERE started_at >= $1 AND started_at < $2)
                       + (SELECT COALESCE(sum(requests), 0) FROM turn_usage_daily
                          WHERE day >= $3))::bigint AS "calls!",
                      (SELECT count(*) FROM harness_sessions WHERE started_at >= $1)
                          AS "sessions!",
                      (SELECT count(*) FROM harness_sessions
                       WHERE started_at >= $1 AND max_retries_hit) AS "sessions_hit!"
               FROM session_retries WHERE COALESCE(occurred_at, created_at) >= $1"#,
            since,
            midnight,
            day
        )
        .fetch_one(&self.pool)
        .await?;
        let per_call = |n: i64| (totals.calls > 0).then(|| n as f64 / totals.calls as f64);
        let by_reason = sqlx::query!(
            r#"SELECT reason AS "reason: RetryReason", count(*) AS "retries!"
               FROM session_retries WHERE COALESCE(occurred_at, created_at) >= $1
               GROUP BY reason ORDER BY 2 DESC, reason"#,
            since
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| ReasonRate {
            share: r.retries as f64 / totals.retries.max(1) as f64,
            retries_per_call: per_call(r.retries),
            reason: r.reason,
            retries: r.retries,
        })
        .collect();
        let by_model = sqlx::query_as!(
            ModelRate,
            r#"SELECT r.model AS "model!", r.retries AS "retries!",
                      COALESCE(t.calls, 0) AS "calls!",
                      r.retries::float8 / NULLIF(t.calls, 0) AS retries_per_call
               FROM (SELECT COALESCE(original_model, 'unknown') AS model, count(*) AS retries
                     FROM session_retries WHERE COALESCE(occurred_at, created_at) >= $1
                     GROUP BY 1) r
               LEFT JOIN (SELECT model, sum(calls)::bigint AS calls
                          FROM (SELECT model, count(*) AS calls FROM session_turns
                                WHERE started_at >= $1 AND started_at < $2 GROUP BY model
                                UNION ALL
                                SELECT model, sum(requests) FROM turn_usage_daily
                                WHERE day >= $3 GROUP BY model) c
                          GROUP BY model) t ON t.model = r.model
               ORDER BY 2 DESC, 1"#,
            since,
            midnight,
            day
        )
        .fetch_all(&self.pool)
        .await?;
        let success_after = sqlx::query_as!(
            SuccessAfter,
            r#"SELECT retry_number AS retries, count(*) AS "calls!"
               FROM session_retries
               WHERE COALESCE(occurred_at, created_at) >= $1 AND succeeded
               GROUP BY retry_number ORDER BY retry_number"#,
            since
        )
        .fetch_all(&self.pool)
        .await?;
        let fallback_pairs = sqlx::query_as!(
            FallbackPair,
            r#"SELECT COALESCE(original_model, 'unknown') AS "from_model!",
                      fallback_model AS "to_model!", count(*) AS "count!"
               FROM session_retries
               WHERE COALESCE(occurred_at, created_at) >= $1 AND fallback_model IS NOT NULL
                 AND fallback_model IS DISTINCT FROM original_model
               GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"#,
            since
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(RetryFigures {
            retries: totals.retries,
            model_calls: totals.calls,
            succeeded: totals.succeeded,
            exhausted: totals.exhausted,
            by_reason,
            by_model,
            success_after,
            fallback_pairs,
            sessions: totals.sessions,
            sessions_hit_max_retries: totals.sessions_hit,
        })
    }
}
