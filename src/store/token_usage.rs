//! Token usage queries: daily series, per-model breakdown and the PRD's efficiency figures, over
//! the turns that started in the last N days.

use chrono::{DateTime, Utc};

use super::usage_daily::first_full_day;
use super::{Error, Store};

#[derive(Debug)]
pub struct DailyUsage {
    pub day: DateTime<Utc>,
    /// Uncached input tokens.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub requests: i64,
    pub cost_usd: f64,
}

#[derive(Debug)]
pub struct ModelTotals {
    pub model: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub requests: i64,
    pub cost_usd: f64,
    /// Mean over turns of (input + cache read + cache write) / context window.
    pub context_utilization: Option<f64>,
}

/// Raw totals the efficiency ratios are computed from.
#[derive(Debug)]
pub struct EfficiencyTotals {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub context_utilization: Option<f64>,
    pub sessions: i64,
    pub session_cost_usd: f64,
    pub features_completed: i64,
}

impl Store {
    pub async fn daily_usage(&self, since: DateTime<Utc>) -> Result<Vec<DailyUsage>, Error> {
        // Whole days from the daily rollup, the partial first day from the turns.
        let (midnight, day) = first_full_day(since);
        Ok(sqlx::query_as!(
            DailyUsage,
            r#"SELECT day AS "day!",
                      COALESCE(sum(input_tokens), 0)::bigint AS "input_tokens!",
                      COALESCE(sum(output_tokens), 0)::bigint AS "output_tokens!",
                      COALESCE(sum(cache_read_tokens), 0)::bigint AS "cache_read_tokens!",
                      COALESCE(sum(cache_write_tokens), 0)::bigint AS "cache_write_tokens!",
                      COALESCE(sum(requests), 0)::bigint AS "requests!",
                      COALESCE(sum(cost_usd), 0)::float8 AS "cost_usd!"
               FROM (SELECT date_trunc('day', started_at, 'UTC') AS day,
                            input_tokens::bigint, output_tokens::bigint,
                            cache_read_tokens::bigint, cache_write_tokens::bigint,
                            1::bigint AS requests, cost_usd::numeric
                      FROM session_turns WHERE started_at >= $1 AND started_at < $2
                      UNION ALL
                     SELECT day::timestamp AT TIME ZONE 'UTC', input_tokens, output_tokens,
                            cache_read_tokens, cache_write_tokens, requests, cost_usd
                     FROM turn_usage_daily WHERE day >= $3) u
               GROUP BY 1 ORDER BY 1"#,
            since,
            midnight,
            day
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn usage_by_model(&self, since: DateTime<Utc>) -> Result<Vec<ModelTotals>, Error> {
        let (midnight, day) = first_full_day(since);
        Ok(sqlx::query_as!(
            ModelTotals,
            r#"SELECT model AS "model!",
                      COALESCE(sum(input_tokens), 0)::bigint AS "input_tokens!",
                      COALESCE(sum(output_tokens), 0)::bigint AS "output_tokens!",
                      COALESCE(sum(cache_read_tokens), 0)::bigint AS "cache_read_tokens!",
                      COALESCE(sum(cache_write_tokens), 0)::bigint AS "cache_write_tokens!",
                      COALESCE(sum(requests), 0)::bigint AS "requests!",
                      COALESCE(sum(cost_usd), 0)::float8 AS "cost_usd!",
                      sum(utilization_sum) / NULLIF(sum(utilization_n), 0) AS context_utilization
               FROM (SELECT model, input_tokens::bigint, output_tokens::bigint,
                            cache_read_tokens::bigint, cache_write_tokens::bigint,
                            1::bigint AS requests, cost_usd::numeric,
                            COALESCE((input_tokens + cache_read_tokens + cache_write_tokens)::float8
                                     / NULLIF(context_window, 0), 0) AS utilization_sum,
                            (context_window <> 0)::int::bigint AS utilization_n
                      FROM session_turns WHERE started_at >= $1 AND started_at < $2
                      UNION ALL
                     SELECT model, input_tokens, output_tokens, cache_read_tokens,
                            cache_write_tokens, requests, cost_usd, utilization_sum, utilization_n
                     FROM turn_usage_daily WHERE day >= $3) u
               GROUP BY model ORDER BY 7 DESC, model"#,
            since,
            midnight,
            day
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn efficiency_totals(&self, since: DateTime<Utc>) -> Result<EfficiencyTotals, Error> {
        let (midnight, day) = first_full_day(since);
        let turns = sqlx::query!(
            r#"SELECT COALESCE(sum(input_tokens), 0)::bigint AS "input!",
                      COALESCE(sum(output_tokens), 0)::bigint AS "output!",
                      COALESCE(sum(cache_read_tokens), 0)::bigint AS "cache_read!",
                      sum(utilization_sum) / NULLIF(sum(utilization_n), 0) AS utilization
               FROM (SELECT input_tokens::bigint, output_tokens::bigint,
                            cache_read_tokens::bigint,
                            COALESCE((input_tokens + cache_read_tokens + cache_write_tokens)::float8
                                     / NULLIF(context_window, 0), 0) AS utilization_sum,
                            (context_window <> 0)::int::bigint AS utilization_n
                      FROM session_turns WHERE started_at >= $1 AND started_at < $2
                      UNION ALL
                     SELECT input_tokens, output_tokens, cache_read_tokens, utilization_sum,
                            utilization_n
                     FROM turn_usage_daily WHERE day >= $3) u"#,
            since,
            midnight,
            day
        )
        .fetch_one(&self.pool)
        .await?;
        let sessions = sqlx::query!(
            r#"SELECT count(*) AS "sessions!",
                      COALESCE(sum(cost_usd), 0)::float8 AS "cost!",
                      COALESCE(sum(features_completed), 0)::bigint AS "features!"
               FROM harness_sessions WHERE started_at >= $1"#,
            since
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(EfficiencyTotals {
            input_tokens: turns.input,
            output_tokens: turns.output,
            cache_read_tokens: turns.cache_read,
            context_utilization: turns.utilization,
            sessions: sessions.sessions,
            session_cost_usd: sessions.cost,
            features_completed: sessions.features,
        })
    }
}
