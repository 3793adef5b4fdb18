//! `POST /api/db/ingest/claude-run`: a parsed Claude CLI run (the JSON of
//! [`crate::claude::ParsedRun`], as `acd-collector ingest --endpoint` and the `run` wrapper send
//! it) is mapped and stored exactly as `ingest` does against the database, and counted in
//! /metrics. Re-sending the same run changes nothing.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::extract::{Json, Query};
use super::{ApiState, Error};
use crate::claude::ParsedRun;
use crate::claude::ingest::{IngestSummary, store_run};
use crate::claude::to_batch::MapOptions;

#[derive(Debug, Deserialize, IntoParams)]
pub struct IngestQuery {
    /// The target (repository) the session belongs to.
    pub target_id: Option<Uuid>,
    /// End time of a run whose lines carry no times (RFC 3339); default: now.
    pub ended_at: Option<DateTime<Utc>>,
}

#[utoipa::path(post, path = "/api/db/ingest/claude-run", tag = "ingest", params(IngestQuery),
    request_body(content = ParsedRun, content_type = "application/json",
                 description = "A parsed stream-json run or transcript"),
    responses((status = 200, body = IngestSummary, description = "Stored (or already stored)"),
              (status = 400, body = super::ErrorBody), (status = 413, body = super::ErrorBody),
              (status = 415, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn claude_run(
    State(state): State<ApiState>,
    Query(query): Query<IngestQuery>,
    Json(run): Json<ParsedRun>,
) -> Result<axum::Json<IngestSummary>, Error> {
    run.validate().map_err(Error::BadRequest)?;
    let options = MapOptions {
        target_id: query.target_id,
        fallback_time: query.ended_at.unwrap_or_else(Utc::now),
    };
    let (batch, report, summary) = store_run(&state.store, &state.prices, &run, &options).await?;
    crate::app::after_commit(
        &state.store,
        &state.metrics,
        &state.test_analysis,
        &batch,
        &report,
    )
    .await;
    Ok(axum::Json(summary))
}
