//! `/api/db/sessions`: the session list, one session, its turns, and its timing analysis.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Path, Query, parse_id};
use super::{ApiState, Error};
use crate::store::sessions::{ModelUsage, SessionFilter, SessionSummary, TurnRow};

/// The session list, one session, its turns and its timing.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(turns))
        .routes(routes!(timing))
}

const MAX_PAGE: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only sessions of this target.
    pub target_id: Option<Uuid>,
    /// Sessions that started at or after this time (RFC 3339, years 1–9999).
    #[serde(default, deserialize_with = "super::extract::time")]
    pub from: Option<DateTime<Utc>>,
    /// Sessions that started before this time (RFC 3339, years 1–9999).
    #[serde(default, deserialize_with = "super::extract::time")]
    pub to: Option<DateTime<Utc>>,
    /// Only sessions in this status: running, completed or failed.
    pub status: Option<String>,
    /// Sort key: started_at (default), cost_usd, turn_count or wall_clock_ms.
    pub sort: Option<String>,
    /// asc or desc (default desc).
    pub order: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    pub sessions: Vec<SessionSummary>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[utoipa::path(get, path = "/api/db/sessions", params(ListQuery), tag = "sessions",
    responses((status = 200, body = SessionPage), (status = 400, body = super::ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<SessionPage>, Error> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        )));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::BadRequest(format!(
            "offset must not be negative, got {offset}"
        )));
    }
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(Error::BadRequest("from must not be after to".into()));
    }
    if let Some(status) = q.status.as_deref()
        && !["running", "completed", "failed"].contains(&status)
    {
        return Err(Error::BadRequest(format!(
            "status must be running, completed or failed, got {status:?}"
        )));
    }
    if let Some(sort) = q.sort.as_deref()
        && !["started_at", "cost_usd", "turn_count", "wall_clock_ms"].contains(&sort)
    {
        return Err(Error::BadRequest(format!(
            "sort must be started_at, cost_usd, turn_count or wall_clock_ms, got {sort:?}"
        )));
    }
    let ascending = match q.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "order must be asc or desc, got {other:?}"
            )));
        }
    };
    let filter = SessionFilter {
        target_id: q.target_id,
        from: q.from,
        to: q.to,
        status: q.status,
        sort: q.sort,
        ascending,
        limit,
        offset,
    };
    let (sessions, total) = state.store.list_sessions(&filter).await?;
    Ok(Json(SessionPage {
        sessions,
        total,
        limit,
        offset,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionSummary,
    pub status_message: Option<String>,
    /// Per-model token usage (token_usage_details).
    pub models: Vec<SessionModelUsage>,
    /// The session span's attributes, including ones this service does not interpret.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
}

// Not the store row itself: the row's schema name, `ModelUsage`, is also the Claude CLI's
// `modelUsage` entry in the ingest body, and sharing it made the document describe this list
// with that shape.
/// One model's usage in a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionModelUsage {
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

impl From<ModelUsage> for SessionModelUsage {
    fn from(row: ModelUsage) -> Self {
        Self {
            model: row.model,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            cache_read_tokens: row.cache_read_tokens,
            cache_write_tokens: row.cache_write_tokens,
            cache_hit_rate: row.cache_hit_rate,
            context_utilization: row.context_utilization,
            cost_usd: row.cost_usd,
            request_count: row.request_count,
        }
    }
}

async fn find(
    state: &ApiState,
    raw_id: &str,
) -> Result<(SessionSummary, Option<String>, serde_json::Value), Error> {
    let id = parse_id("session", raw_id)?;
    state
        .store
        .session(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("session {id} not found")))
}

#[utoipa::path(get, path = "/api/db/sessions/{session_id}", tag = "sessions",
    params(("session_id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionDetail), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn show(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, Error> {
    let (session, status_message, attributes) = find(&state, &id).await?;
    let models = state.store.session_models(session.id).await?;
    let models = models.into_iter().map(SessionModelUsage::from).collect();
    Ok(Json(SessionDetail {
        session,
        status_message,
        models,
        attributes,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TurnList {
    pub session_id: Uuid,
    pub turns: Vec<TurnRow>,
}

#[utoipa::path(get, path = "/api/db/sessions/{session_id}/turns", tag = "sessions",
    params(("session_id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = TurnList), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn turns(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<TurnList>, Error> {
    let (session, ..) = find(&state, &id).await?;
    let turns = state.store.session_turns(session.id).await?;
    Ok(Json(TurnList {
        session_id: session.id,
        turns,
    }))
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct Percentiles {
    pub samples: usize,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl Percentiles {
    /// Linear interpolation between closest ranks (PostgreSQL's percentile_cont).
    pub fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| -> Option<f64> {
            let last = values.len().checked_sub(1)?;
            let pos = q * last as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            Some(values[lo] + (values[hi] - values[lo]) * (pos - lo as f64))
        };
        Self {
            samples: values.len(),
            p50_ms: at(0.5),
            p95_ms: at(0.95),
            max_ms: values.last().copied(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TurnTiming {
    pub turn_number: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: Option<i32>,
    pub time_to_first_token_ms: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionTiming {
    pub session_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub wall_clock_ms: Option<i32>,
    /// Sum of the turns' durations: time spent waiting on the model.
    pub api_time_ms: i64,
    /// api_time_ms / wall_clock_ms.
    pub api_time_ratio: Option<f64>,
    /// Wall clock not spent in model calls (tools, tests, the harness itself).
    pub non_api_time_ms: Option<i64>,
    pub turn_latency: Percentiles,
    pub time_to_first_token: Percentiles,
    pub turns: Vec<TurnTiming>,
}

#[utoipa::path(get, path = "/api/db/sessions/{session_id}/timing", tag = "sessions",
    params(("session_id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionTiming), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn timing(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<SessionTiming>, Error> {
    let (session, ..) = find(&state, &id).await?;
    let turns = state.store.session_turns(session.id).await?;
    let api_time_ms: i64 = turns
        .iter()
        .filter_map(|t| t.duration_ms)
        .map(i64::from)
        .sum();
    let wall = session.wall_clock_ms.map(i64::from);
    Ok(Json(SessionTiming {
        session_id: session.id,
        started_at: session.started_at,
        ended_at: session.ended_at,
        wall_clock_ms: session.wall_clock_ms,
        api_time_ms,
        api_time_ratio: wall
            .filter(|w| *w > 0)
            .map(|w| api_time_ms as f64 / w as f64),
        non_api_time_ms: wall.map(|w| (w - api_time_ms).max(0)),
        turn_latency: Percentiles::of(
            turns
                .iter()
                .filter_map(|t| t.duration_ms)
                .map(f64::from)
                .collect(),
        ),
        time_to_first_token: Percentiles::of(
            turns
                .iter()
                .filter_map(|t| t.time_to_first_token_ms)
                .map(f64::from)
                .collect(),
        ),
        turns: turns
            .into_iter()
            .map(|t| TurnTiming {
                turn_number: t.turn_number,
                started_at: t.started_at,
                duration_ms: t.duration_ms,
                time_to_first_token_ms: t.time_to_first_token_ms,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::Percentiles;

    #[test]
    fn percentiles_interpolate_like_percentile_cont() {
        let p = Percentiles::of(vec![400.0, 100.0, 300.0, 200.0]);
        assert_eq!(p.samples, 4);
        assert_eq!(p.p50_ms, Some(250.0));
        assert!((p.p95_ms.unwrap() - 385.0).abs() < 1e-9);
        assert_eq!(p.max_ms, Some(400.0));
        assert_eq!(Percentiles::of(vec![]).p50_ms, None);
    }
}
