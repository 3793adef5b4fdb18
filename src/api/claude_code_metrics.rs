//! `/api/db/sessions/{session_id}/claude-code-metrics`: what Claude Code's own OTLP metrics say about a
//! session, one entry per series (metric + attributes) with its total. A cross-check of the
//! session's turns, which come from Claude Code's events (see docs/claude-code-telemetry.md).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Path, parse_id};
use super::responses::SeriesTotal;
use super::{ApiState, Error};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(show))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClaudeCodeMetrics {
    pub session_id: Uuid,
    /// One entry per series, ordered by metric name then attributes.
    pub series: Vec<SeriesTotal>,
}

#[utoipa::path(get, path = "/api/db/sessions/{session_id}/claude-code-metrics", tag = "sessions",
    params(("session_id" = Uuid, Path, description = "Session id (Claude Code's session.id)")),
    responses((status = 200, body = ClaudeCodeMetrics), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn show(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ClaudeCodeMetrics>, Error> {
    let id = parse_id("session", &id)?;
    let series = state.reads.claude_code_metrics(id).await?;
    // Metric points need no session row: a session is known if either exists.
    if series.is_empty() && state.reads.session(id).await?.is_none() {
        return Err(Error::NotFound(format!(
            "session {id} not found and no Claude Code metrics name it"
        )));
    }
    Ok(Json(ClaudeCodeMetrics {
        session_id: id,
        series: super::responses::all(series),
    }))
}
