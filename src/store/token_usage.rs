//! Token usage queries: daily series, per-model breakdown and the PRD's efficiency figures, over
//! the turns that started in the last N days.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Error, Store};

#[derive(Debug, Serialize, ToSchema)]
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

#[derive(Debug, Serialize, ToSchema)]
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
        Ok(sqlx::query_as!(
            DailyUsage,
            r#"SELECT date_trunc('day', started_at, 'UTC') AS "day!",
                      COALESCE(sum(input_tokens), 0)::bigint AS "input_tokens!",
                      COALESCE(sum(output_tokens), 0)::bigint AS "output_tokens!",
                      COALESCE(sum(cache_read_tokens), 0)::bigint AS "cache_read_tokens!",
                      COALESCE(sum(cache_write_tokens), 0)::bigint AS "cache_write_tokens!",
                      count(*) AS "requests!",
                      COALESCE(sum(cost_usd), 0)::float8 AS "cost_usd!"
               FROM session_turns WHERE started_at >= $1
               GROUP BY 1 ORDER BY 1"#,
            since
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn usage_by_model(&self, since: DateTime<Utc>) -> Result<Vec<ModelTotals>, Error> {
        Ok(sqlx::query_as!(
            ModelTotals,
            r#"SELECT model,
                      COALESCE(sum(input_tokens), 0)::bigint AS "input_tokens!",
                      COALESCE(sum(output_tokens), 0)::bigint AS "output_tokens!",
                      COALESCE(sum(cache_read_tokens), 0)::bigint AS "cache_read_tokens!",
                      COALESCE(sum(cache_write_tokens), 0)::bigint AS "cache_write_tokens!",
                      count(*) AS "requests!",
                      COALESCE(sum(cost_usd), 0)::float8 AS "cost_usd!",
                      avg((input_tokens + cache_read_tokens + cache_write_tokens)::float8
                          / NULLIF(context_window, 0)) AS context_utilization
               FROM session_turns WHERE started_at >= $1
               GROUP BY model ORDER BY 7 DESC, model"#,
            since
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn efficiency_totals(&self, since: DateTime<Utc>) -> Result<EfficiencyTotals, Error> {
        let turns = sqlx::query!(
            r#"SELECT COALESCE(sum(input_tokens), 0)::bigint AS "input!",
                      COALESCE(sum(output_tokens), 0)::bigint AS "output!",
                      COALESCE(sum(cache_read_tokens), 0)::bigint AS "cache_read!",
                      avg((input_tokens + cache_read_tokens + cache_write_tokens)::float8
                          / NULLIF(context_window, 0)) AS utilization
               FROM session_turns WHERE started_at >= $1"#,
            since
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
