//! `/api/db/token-usage`: usage over time, by model, and the PRD's efficiency figures.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{DaysQuery, Query};
use super::responses::{DailyUsage, ModelTotals};
use super::{ApiState, Error};
use crate::store::token_usage::ModelTotals as ModelTotalsRow;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(over_time))
        .routes(routes!(by_model))
        .routes(routes!(efficiency))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageOverTime {
    pub days: u32,
    pub daily: Vec<DailyUsage>,
}

#[utoipa::path(get, path = "/api/db/token-usage", params(DaysQuery), tag = "token-usage",
    responses((status = 200, body = UsageOverTime), (status = 400, body = super::ErrorBody)))]
pub async fn over_time(
    State(state): State<ApiState>,
    Query(q): Query<DaysQuery>,
) -> Result<Json<UsageOverTime>, Error> {
    let (days, since) = q.since()?;
    Ok(Json(UsageOverTime {
        days,
        daily: super::responses::all(state.reads.daily_usage(since).await?),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelBreakdown {
    #[serde(flatten)]
    pub totals: ModelTotals,
    /// cost_usd per 1K tokens of all types.
    pub cost_per_1k_tokens: Option<f64>,
    /// cache_read / (cache_read + input).
    pub cache_hit_rate: Option<f64>,
    /// output / input.
    pub token_efficiency: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageByModel {
    pub days: u32,
    pub models: Vec<ModelBreakdown>,
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

impl From<ModelTotalsRow> for ModelBreakdown {
    fn from(m: ModelTotalsRow) -> Self {
        let all = m.input_tokens + m.output_tokens + m.cache_read_tokens + m.cache_write_tokens;
        Self {
            cost_per_1k_tokens: (all > 0).then(|| m.cost_usd * 1000.0 / all as f64),
            cache_hit_rate: ratio(m.cache_read_tokens, m.cache_read_tokens + m.input_tokens),
            token_efficiency: ratio(m.output_tokens, m.input_tokens),
            totals: m.into(),
        }
    }
}

#[utoipa::path(get, path = "/api/db/token-usage/by-model", params(DaysQuery), tag = "token-usage",
    responses((status = 200, body = UsageByModel), (status = 400, body = super::ErrorBody)))]
pub async fn by_model(
    State(state): State<ApiState>,
    Query(q): Query<DaysQuery>,
) -> Result<Json<UsageByModel>, Error> {
    let (days, since) = q.since()?;
    let models = state.reads.usage_by_model(since).await?;
    Ok(Json(UsageByModel {
        days,
        models: models.into_iter().map(ModelBreakdown::from).collect(),
    }))
}

/// The PRD's success-metric targets, returned beside the measured values.
#[derive(Debug, Serialize, ToSchema)]
pub struct EfficiencyTargets {
    pub token_efficiency_min: f64,
    pub cache_hit_rate_min: f64,
    pub context_utilization_min: f64,
    pub context_utilization_max: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Efficiency {
    pub days: u32,
    /// output_tokens / input_tokens (uncached input).
    pub token_efficiency: Option<f64>,
    /// cache_read / (cache_read + input).
    pub cache_hit_rate: Option<f64>,
    /// Mean over turns of prompt tokens / context window.
    pub context_utilization: Option<f64>,
    /// total session cost / features completed.
    pub cost_per_feature_usd: Option<f64>,
    pub total_cost_usd: f64,
    pub features_completed: i64,
    pub sessions: i64,
    pub targets: EfficiencyTargets,
}

#[utoipa::path(get, path = "/api/db/token-usage/efficiency", params(DaysQuery), tag = "token-usage",
    responses((status = 200, body = Efficiency), (status = 400, body = super::ErrorBody)))]
pub async fn efficiency(
    State(state): State<ApiState>,
    Query(q): Query<DaysQuery>,
) -> Result<Json<Efficiency>, Error> {
    let (days, since) = q.since()?;
    let t = state.reads.efficiency_totals(since).await?;
    Ok(Json(Efficiency {
        days,
        token_efficiency: ratio(t.output_tokens, t.input_tokens),
        cache_hit_rate: ratio(t.cache_read_tokens, t.cache_read_tokens + t.input_tokens),
        context_utilization: t.context_utilization,
        cost_per_feature_usd: (t.features_completed > 0)
            .then(|| t.session_cost_usd / t.features_completed as f64),
        total_cost_usd: t.session_cost_usd,
        features_completed: t.features_completed,
        sessions: t.sessions,
        targets: EfficiencyTargets {
            token_efficiency_min: 0.15,
            cache_hit_rate_min: 0.60,
            context_utilization_min: 0.70,
            context_utilization_max: 0.90,
        },
    }))
}
