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
use super::responses::SessionSummary;
use super::{ApiState, Error};
use crate::domain::CallKind;
use crate::store::sessions::{CallSourceRow, ModelUsage, SessionFilter};

/// The session list and one session.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
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
    /// Only sessions in this status: running, completed, failed or abandoned.
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
        && !["running", "completed", "failed", "abandoned"].contains(&status)
    {
        return Err(Error::BadRequest(format!(
            "status must be running, completed, failed or abandoned, got {status:?}"
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
    let (sessions, total) = state.reads.list_sessions(&filter).await?;
    Ok(Json(SessionPage {
        sessions: super::responses::all(sessions),
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
    /// Per-model token usage (token_usage_details); `request_count` counts every model call.
    pub models: Vec<SessionModelUsage>,
    /// The session's model calls by kind and source, main turns first, then by calls: the side calls
    /// (Claude Code's WebFetch summaries, compaction, titles) and subagent calls, which count
    /// in the session's tokens and cost but not in `turn_count` or the turn timing. Over the calls
    /// still in the detail window: retention purges them (the totals keep what they added).
    pub model_calls: Vec<CallSource>,
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

/// A session's model calls of one kind and source, summed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallSource {
    /// main (a turn), side (a helper call made for a tool, compaction, a title) or subagent.
    pub kind: CallKind,
    /// What the producer called the source (Claude Code's `query_source`, e.g. `sdk`,
    /// `web_fetch_apply`, `compact`, `agent:builtin`); null when it named none.
    pub source: Option<String>,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_usd: f64,
}

impl From<CallSourceRow> for CallSource {
    fn from(r: CallSourceRow) -> Self {
        Self {
            kind: r.call_kind,
            source: r.query_source,
            calls: r.calls,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cost_usd: r.cost_usd,
        }
    }
}

pub(super) async fn find(
    state: &ApiState,
    raw_id: &str,
) -> Result<(SessionSummary, Option<String>, serde_json::Value), Error> {
    let id = parse_id("session", raw_id)?;
    state
        .reads
        .session(id)
        .await?
        .map(|(session, message, attributes)| (session.into(), message, attributes))
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
    let models = state.reads.session_models(session.id).await?;
    let models = models.into_iter().map(SessionModelUsage::from).collect();
    let sources = state.reads.session_call_sources(session.id).await?;
    Ok(Json(SessionDetail {
        session,
        status_message,
        models,
        model_calls: sources.into_iter().map(CallSource::from).collect(),
        attributes,
    }))
}
