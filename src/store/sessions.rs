//! Session queries for the REST API: list, one session, its turns and its timing.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};
use crate::domain::{CallKind, CallStatus, SessionState, TotalsSource};

#[derive(Debug)]
pub struct SessionSummary {
    pub id: Uuid,
    /// The id as the producer sent it (`gen_ai.conversation.id`).
    pub external_id: String,
    pub target_id: Option<Uuid>,
    pub target_name: Option<String>,
    pub feature_id: Option<String>,
    /// running (turns seen, session span not yet) | completed | failed
    pub status: SessionState,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub wall_clock_ms: Option<i32>,
    /// Sum of the turns' durations.
    pub api_latency_ms: Option<i32>,
    /// Median time to first token over the turns.
    pub time_to_first_token_ms: Option<i32>,
    pub turn_count: i32,
    /// Uncached input tokens.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// Part of `cache_write_tokens` written with the 1-hour TTL.
    pub cache_write_1h_tokens: i64,
    /// Our cost: tokens × the price table.
    pub cost_usd: f64,
    /// The source's own cost figure (Claude Code's `cost_usd` per call, or a stream-json
    /// `total_cost_usd`), when it gave one.
    pub reported_cost_usd: Option<f64>,
    /// `cost_usd − reported_cost_usd`.
    pub cost_difference_usd: Option<f64>,
    /// turns: totals are sums of the turns; result: per-turn parsing was incomplete and the
    /// totals are the source's session-level figures.
    pub totals_source: TotalsSource,
    /// `num_turns`, `duration_ms` and `duration_api_ms` as the source reported them.
    pub reported_num_turns: Option<i32>,
    pub reported_duration_ms: Option<i64>,
    pub reported_api_ms: Option<i64>,
    pub retry_count: i32,
    pub max_retries_hit: bool,
    pub model_fallbacks: i32,
    pub features_completed: Option<i32>,
    /// Tests over all test runs of the session (`tests_failed` includes errors).
    pub tests_run: i32,
    pub tests_passed: i32,
    pub tests_failed: i32,
    /// passed / (run − skipped) over the session's test runs; null when no test ran.
    pub test_pass_rate: Option<f64>,
}

/// One model's usage in a session; served as `api::sessions::SessionModelUsage`.
#[derive(Debug)]
pub struct ModelUsage {
    pub model: String,
    pub input_tokens: i32,
    pub output_tokens: i32,
    pub cache_read_tokens: i32,
    pub cache_write_tokens: i32,
    pub cache_hit_rate: Option<f64>,
    pub context_utilization: Option<f64>,
    pub cost_usd: f64,
    pub request_count: i32,
}

/// One model call of a session (`session_turns`); served as `api::sessions::Turn` or
/// `api::sessions::SideCall` by its kind.
#[derive(Debug)]
pub struct TurnRow {
    pub call_kind: CallKind,
    pub query_source: Option<String>,
    pub turn_number: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i32>,
    pub time_to_first_token_ms: Option<i32>,
    pub provider: Option<String>,
    pub model: String,
    pub response_model: Option<String>,
    /// Uncached input tokens.
    pub input_tokens: i32,
    pub output_tokens: i32,
    pub cache_read_tokens: i32,
    pub cache_write_tokens: i32,
    /// `gen_ai.usage.input_tokens` exactly as received.
    pub reported_input_tokens: Option<i32>,
    pub cache_write_1h_tokens: i32,
    pub cost_usd: f64,
    /// The source's own cost for this call (Claude Code's `cost_usd`).
    pub reported_cost_usd: Option<f64>,
    pub status: CallStatus,
    pub tool_calls: serde_json::Value,
}

/// A session's model calls of one kind and source, summed.
#[derive(Debug)]
pub struct CallSourceRow {
    pub call_kind: CallKind,
    pub query_source: Option<String>,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Default)]
pub struct SessionFilter {
    pub target_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// running | completed | failed
    pub status: Option<String>,
    /// Sort key: started_at (default), cost_usd, turn_count, wall_clock_ms.
    pub sort: Option<String>,
    /// Ascending instead of the default descending order.
    pub ascending: bool,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    pub async fn list_sessions(
        &self,
        f: &SessionFilter,
    ) -> Result<(Vec<SessionSummary>, i64), Error> {
        // The default order (newest first) is read from the started_at index, page first: the
        // sort key below serves every order with one plan, but sorts every matching session
        // (100 ms at 100,000 sessions).
        let newest_first = matches!(f.sort.as_deref(), None | Some("started_at")) && !f.ascending;
        let page: Option<Vec<Uuid>> = if newest_first {
            Some(
                sqlx::query_scalar!(
                    r#"SELECT s.id FROM harness_sessions s
                       WHERE ($1::uuid IS NULL OR s.target_id = $1)
                         AND ($2::timestamptz IS NULL OR s.started_at >= $2)
                         AND ($3::timestamptz IS NULL OR s.started_at < $3)
                         AND ($4::text IS NULL OR s.status = $4)
                       ORDER BY s.started_at DESC, s.id
                       LIMIT $5 OFFSET $6"#,
                    f.target_id,
                    f.from,
                    f.to,
                    f.status,
                    f.limit,
                    f.offset,
                )
                .fetch_all(&self.pool)
                .await?,
            )
        } else {
            None
        };
        let (limit, offset) = match &page {
            Some(ids) => (ids.len() as i64, 0),
            None => (f.limit, f.offset),
        };
        let rows = sqlx::query_as!(
            SessionSummary,
            r#"SELECT s.id, s.external_id, s.target_id, t.name AS "target_name?", s.feature_id,
                      s.status AS "status: SessionState", s.started_at, s.ended_at, s.wall_clock_ms, s.api_latency_ms,
                      s.time_to_first_token_ms, COALESCE(s.turn_count, 0) AS "turn_count!",
                      s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens,
                      s.cache_write_1h_tokens, s.cost_usd::float8 AS "cost_usd!",
                      s.reported_cost_usd::float8 AS reported_cost_usd,
                      (s.cost_usd - s.reported_cost_usd)::float8 AS cost_difference_usd,
                      s.totals_source AS "totals_source: TotalsSource", s.reported_num_turns, s.reported_duration_ms,
                      s.reported_api_ms, COALESCE(s.retry_count, 0) AS "retry_count!",
                      COALESCE(s.max_retries_hit, false) AS "max_retries_hit!",
                      COALESCE(s.model_fallbacks, 0) AS "model_fallbacks!", s.features_completed,
                      COALESCE(s.tests_run, 0) AS "tests_run!",
                      COALESCE(s.tests_passed, 0) AS "tests_passed!",
                      COALESCE(s.tests_failed, 0) AS "tests_failed!",
                      s.test_pass_rate::float8 AS test_pass_rate
               FROM harness_sessions s LEFT JOIN targets t ON t.id = s.target_id
               WHERE ($1::uuid IS NULL OR s.target_id = $1)
                 AND ($2::timestamptz IS NULL OR s.started_at >= $2)
                 AND ($3::timestamptz IS NULL OR s.started_at < $3)
                 AND ($6::text IS NULL OR s.status = $6)
                 AND ($9::uuid[] IS NULL OR s.id = ANY($9))
               -- One numeric sort key, signed by the direction: a single plan for every order.
               ORDER BY (CASE $7::text
                           WHEN 'cost_usd' THEN s.cost_usd::float8
                           WHEN 'turn_count' THEN COALESCE(s.turn_count, 0)::float8
                           WHEN 'wall_clock_ms' THEN s.wall_clock_ms::float8
                           ELSE extract(epoch FROM s.started_at)::float8
                         END) * $8::float8 ASC NULLS LAST,
                        s.started_at DESC, s.id
               LIMIT $4 OFFSET $5"#,
            f.target_id,
            f.from,
            f.to,
            limit,
            offset,
            f.status,
            f.sort.as_deref().unwrap_or("started_at"),
            if f.ascending { 1.0_f64 } else { -1.0_f64 },
            page.as_deref(),
        )
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM harness_sessions s
               WHERE ($1::uuid IS NULL OR s.target_id = $1)
                 AND ($2::timestamptz IS NULL OR s.started_at >= $2)
                 AND ($3::timestamptz IS NULL OR s.started_at < $3)
                 AND ($4::text IS NULL OR s.status = $4)"#,
            f.target_id,
            f.from,
            f.to,
            f.status,
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((rows, total))
    }

    pub async fn session(
        &self,
        id: Uuid,
    ) -> Result<Option<(SessionSummary, Option<String>, serde_json::Value)>, Error> {
        let row = sqlx::query!(
            r#"SELECT s.id, s.external_id, s.target_id, t.name AS "target_name?", s.feature_id,
                      s.status AS "status: SessionState", s.started_at, s.ended_at, s.wall_clock_ms, s.api_latency_ms,
                      s.time_to_first_token_ms, COALESCE(s.turn_count, 0) AS "turn_count!",
                      s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens,
                      s.cache_write_1h_tokens, s.cost_usd::float8 AS "cost_usd!",
                      s.reported_cost_usd::float8 AS reported_cost_usd,
                      (s.cost_usd - s.reported_cost_usd)::float8 AS cost_difference_usd,
                      s.totals_source AS "totals_source: TotalsSource", s.reported_num_turns, s.reported_duration_ms,
                      s.reported_api_ms, COALESCE(s.retry_count, 0) AS "retry_count!",
                      COALESCE(s.max_retries_hit, false) AS "max_retries_hit!",
                      COALESCE(s.model_fallbacks, 0) AS "model_fallbacks!", s.features_completed,
                      COALESCE(s.tests_run, 0) AS "tests_run!",
                      COALESCE(s.tests_passed, 0) AS "tests_passed!",
                      COALESCE(s.tests_failed, 0) AS "tests_failed!",
                      s.test_pass_rate::float8 AS test_pass_rate, s.status_message,
                      s.attributes
               FROM harness_sessions s LEFT JOIN targets t ON t.id = s.target_id
               WHERE s.id = $1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            let summary = SessionSummary {
                id: r.id,
                external_id: r.external_id,
                target_id: r.target_id,
                target_name: r.target_name,
                feature_id: r.feature_id,
                status: r.status,
                started_at: r.started_at,
                ended_at: r.ended_at,
                wall_clock_ms: r.wall_clock_ms,
                api_latency_ms: r.api_latency_ms,
                time_to_first_token_ms: r.time_to_first_token_ms,
                turn_count: r.turn_count,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                cache_read_tokens: r.cache_read_tokens,
                cache_write_tokens: r.cache_write_tokens,
                cache_write_1h_tokens: r.cache_write_1h_tokens,
                cost_usd: r.cost_usd,
                reported_cost_usd: r.reported_cost_usd,
                cost_difference_usd: r.cost_difference_usd,
                totals_source: r.totals_source,
                reported_num_turns: r.reported_num_turns,
                reported_duration_ms: r.reported_duration_ms,
                reported_api_ms: r.reported_api_ms,
                retry_count: r.retry_count,
                max_retries_hit: r.max_retries_hit,
                model_fallbacks: r.model_fallbacks,
                features_completed: r.features_completed,
                tests_run: r.tests_run,
                tests_passed: r.tests_passed,
                tests_failed: r.tests_failed,
                test_pass_rate: r.test_pass_rate,
            };
            (summary, r.status_message, r.attributes)
        }))
    }

    pub async fn session_models(&self, id: Uuid) -> Result<Vec<ModelUsage>, Error> {
        Ok(sqlx::query_as!(
            ModelUsage,
            r#"SELECT model, COALESCE(input_tokens, 0) AS "input_tokens!",
                      COALESCE(output_tokens, 0) AS "output_tokens!",
                      COALESCE(cache_read_tokens, 0) AS "cache_read_tokens!",
                      COALESCE(cache_write_tokens, 0) AS "cache_write_tokens!",
                      cache_hit_rate::float8 AS cache_hit_rate,
                      context_utilization::float8 AS context_utilization,
                      COALESCE(cost_usd, 0)::float8 AS "cost_usd!",
                      COALESCE(request_count, 0) AS "request_count!"
               FROM token_usage_details WHERE session_id = $1 ORDER BY model"#,
            id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn session_turns(&self, id: Uuid) -> Result<Vec<TurnRow>, Error> {
        Ok(sqlx::query_as!(
            TurnRow,
            r#"SELECT call_kind AS "call_kind: CallKind", query_source,
                      turn_number, started_at, finished_at, duration_ms, time_to_first_token_ms,
                      provider, model, response_model,
                      COALESCE(input_tokens, 0) AS "input_tokens!",
                      COALESCE(output_tokens, 0) AS "output_tokens!",
                      cache_read_tokens, cache_write_tokens, reported_input_tokens,
                      cache_write_1h_tokens, cost_usd::float8 AS "cost_usd!",
                      reported_cost_usd::float8 AS reported_cost_usd,
                      status AS "status: CallStatus",
                      COALESCE(tool_calls, '[]'::jsonb) AS "tool_calls!"
               FROM session_turns WHERE session_id = $1
               ORDER BY turn_number, started_at, span_id"#,
            id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The session's model calls grouped by kind and source (main turns, side calls,
    /// subagent calls), retention's purged turns not included.
    pub async fn session_call_sources(&self, id: Uuid) -> Result<Vec<CallSourceRow>, Error> {
        Ok(sqlx::query_as!(
            CallSourceRow,
            r#"SELECT call_kind AS "call_kind: CallKind", query_source,
                      count(*) AS "calls!",
                      COALESCE(sum(input_tokens), 0)::bigint AS "input_tokens!",
                      COALESCE(sum(output_tokens), 0)::bigint AS "output_tokens!",
                      COALESCE(sum(cache_read_tokens), 0)::bigint AS "cache_read_tokens!",
                      COALESCE(sum(cache_write_tokens), 0)::bigint AS "cache_write_tokens!",
                      COALESCE(sum(cost_usd), 0)::float8 AS "cost_usd!"
               FROM session_turns WHERE session_id = $1
               GROUP BY call_kind, query_source
               ORDER BY call_kind <> 'main', 3 DESC, query_source"#,
            id
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
