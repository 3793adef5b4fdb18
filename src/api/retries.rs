//! `/api/db/retries`: one session's retry history with the time between retries, and the
//! summary over the last N days (rates by reason and model, success after N retries, model
//! fallbacks, sessions that hit the retry limit). docs/tests-and-retries.md ("Retries").

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{DaysQuery, Path, Query, parse_id};
use super::responses::{FallbackPair, ModelRate, ReasonRate, RetryRow, SuccessAfter};
use super::{ApiState, Error};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(history))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetryHistory {
    pub session_id: Uuid,
    pub retries: Vec<RetryRow>,
}

#[utoipa::path(get, path = "/api/db/retries/{session_id}", tag = "retries",
    params(("session_id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = RetryHistory), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn history(
    State(state): State<ApiState>,
    Path(raw): Path<String>,
) -> Result<Json<RetryHistory>, Error> {
    let id = parse_id("session", &raw)?;
    let retries = state
        .reads
        .session_retries(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("session {id} not found")))?;
    Ok(Json(RetryHistory {
        session_id: id,
        retries: super::responses::all(retries),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MaxRetries {
    /// Sessions that started in the window.
    pub sessions: i64,
    /// Of those, sessions where a call ran out of retries (`max_retries_hit`).
    pub sessions_hit: i64,
    /// sessions_hit / sessions (null without sessions).
    pub share: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetrySummary {
    pub days: u32,
    /// Retries (failed attempts) that occurred in the window.
    pub total_retries: i64,
    /// Model calls (turns) that started in the window: the denominator of the rates.
    pub model_calls: i64,
    /// Retries whose next attempt completed.
    pub succeeded: i64,
    /// Retries after which the retry budget ran out.
    pub exhausted: i64,
    /// succeeded / (succeeded + exhausted): how often retrying got the call through.
    pub success_rate: Option<f64>,
    pub by_reason: Vec<ReasonRate>,
    pub by_model: Vec<ModelRate>,
    /// Calls that succeeded after N retries, by N.
    pub success_after: Vec<SuccessAfter>,
    pub fallback_pairs: Vec<FallbackPair>,
    pub max_retries: MaxRetries,
}

#[utoipa::path(get, path = "/api/db/retries/summary", params(DaysQuery), tag = "retries",
    responses((status = 200, body = RetrySummary), (status = 400, body = super::ErrorBody)))]
pub async fn summary(
    State(state): State<ApiState>,
    Query(q): Query<DaysQuery>,
) -> Result<Json<RetrySummary>, Error> {
    let (days, since) = q.since()?;
    let f = state.reads.retry_figures(since).await?;
    let ratio = |n: i64, d: i64| (d > 0).then(|| n as f64 / d as f64);
    Ok(Json(RetrySummary {
        days,
        total_retries: f.retries,
        model_calls: f.model_calls,
        succeeded: f.succeeded,
        exhausted: f.exhausted,
        success_rate: ratio(f.succeeded, f.succeeded + f.exhausted),
        by_reason: super::responses::all(f.by_reason),
        by_model: super::responses::all(f.by_model),
        success_after: super::responses::all(f.success_after),
        fallback_pairs: super::responses::all(f.fallback_pairs),
        max_retries: MaxRetries {
            sessions: f.sessions,
            sessions_hit: f.sessions_hit_max_retries,
            share: ratio(f.sessions_hit_max_retries, f.sessions),
        },
    }))
}
