//! `/api/db/sessions/{session_id}/turns` and `/timing`: a session's turns (the main
//! conversation's model calls) with their side and subagent calls listed apart, and the timing
//! analysis of the turns.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::Path;
use super::sessions::find;
use super::{ApiState, Error};
use crate::domain::{CallKind, CallStatus};
use crate::store::sessions::TurnRow;

/// A session's turns and its timing.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(turns))
        .routes(routes!(timing))
}

/// One turn: a model call of the main conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Turn {
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
    /// Part of `cache_write_tokens` written with the 1-hour TTL.
    pub cache_write_1h_tokens: i32,
    pub cost_usd: f64,
    /// The source's own cost for this call (Claude Code's `cost_usd`).
    pub reported_cost_usd: Option<f64>,
    pub status: CallStatus,
    /// The tool calls this call asked for.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: serde_json::Value,
}

/// A model call that is not a turn: a side call (made for a tool such as WebFetch, for
/// compaction or a title) or a subagent's call. Billed, so in the session's tokens and cost;
/// not numbered, and not in `turn_count` or the turn timing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SideCall {
    /// side or subagent.
    pub kind: CallKind,
    /// What the producer called the source (Claude Code's `query_source`).
    pub source: Option<String>,
    /// The turn it happened in: the latest turn started before it.
    pub during_turn: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: Option<i32>,
    pub time_to_first_token_ms: Option<i32>,
    pub model: String,
    pub input_tokens: i32,
    pub output_tokens: i32,
    pub cache_read_tokens: i32,
    pub cache_write_tokens: i32,
    pub cache_write_1h_tokens: i32,
    pub cost_usd: f64,
    pub reported_cost_usd: Option<f64>,
    pub status: CallStatus,
}

impl From<TurnRow> for Turn {
    fn from(r: TurnRow) -> Self {
        Self {
            turn_number: r.turn_number,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms,
            time_to_first_token_ms: r.time_to_first_token_ms,
            provider: r.provider,
            model: r.model,
            response_model: r.response_model,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            reported_input_tokens: r.reported_input_tokens,
            cache_write_1h_tokens: r.cache_write_1h_tokens,
            cost_usd: r.cost_usd,
            reported_cost_usd: r.reported_cost_usd,
            status: r.status,
            tool_calls: r.tool_calls,
        }
    }
}

impl From<TurnRow> for SideCall {
    fn from(r: TurnRow) -> Self {
        Self {
            kind: r.call_kind,
            source: r.query_source,
            during_turn: r.turn_number,
            started_at: r.started_at,
            duration_ms: r.duration_ms,
            time_to_first_token_ms: r.time_to_first_token_ms,
            model: r.model,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cache_write_1h_tokens: r.cache_write_1h_tokens,
            cost_usd: r.cost_usd,
            reported_cost_usd: r.reported_cost_usd,
            status: r.status,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TurnList {
    pub session_id: Uuid,
    /// The main conversation's model calls, in order.
    pub turns: Vec<Turn>,
    /// Side and subagent calls, in order.
    pub side_calls: Vec<SideCall>,
}

/// The session's calls, split into turns and the rest.
async fn calls(state: &ApiState, id: Uuid) -> Result<(Vec<TurnRow>, Vec<TurnRow>), Error> {
    let rows = state.reads.session_turns(id).await?;
    Ok(rows
        .into_iter()
        .partition(|r| r.call_kind == CallKind::Main))
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
    let (turns, side) = calls(&state, session.id).await?;
    Ok(Json(TurnList {
        session_id: session.id,
        turns: turns.into_iter().map(Turn::from).collect(),
        side_calls: side.into_iter().map(SideCall::from).collect(),
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
    /// Sum of the durations of every model call (turns, side and subagent calls): time spent
    /// waiting on the model.
    pub api_time_ms: i64,
    /// api_time_ms / wall_clock_ms.
    pub api_time_ratio: Option<f64>,
    /// Wall clock not spent in model calls (tools, tests, the harness itself).
    pub non_api_time_ms: Option<i64>,
    /// Over the turns only, as is `time_to_first_token`.
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
    let (turns, side) = calls(&state, session.id).await?;
    let api_time_ms: i64 = turns
        .iter()
        .chain(&side)
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
