//! `/api/db/codebase/...`: queue a reindex of a registered target (202 with a job id at once; the
//! worker inside `serve` runs it), follow a job's progress, and read a target's indexes and the
//! largest codebases.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Path, Query, parse_id};
use super::responses::IndexJob;
use super::responses::{CodebaseIndex, CodebaseSize, Target};
use super::{ApiState, Error};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(largest))
        .routes(routes!(job))
        .routes(routes!(show))
        .routes(routes!(reindex))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReindexAccepted {
    pub job_id: Uuid,
    pub target_id: Uuid,
    /// False when a job for this target was already queued or running: that job's id is returned.
    pub queued: bool,
    /// Where to follow the job.
    pub status_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodebaseDetail {
    pub target: Target,
    /// The newest index, or null before the first one.
    pub latest: Option<CodebaseIndex>,
    /// Older indexes, newest first.
    pub history: Vec<CodebaseIndex>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LargestCodebases {
    pub codebases: Vec<CodebaseSize>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LimitQuery {
    /// How many rows (1–100, default 10 for `largest`, 20 for history).
    pub limit: Option<i64>,
}

impl LimitQuery {
    fn get(&self, default: i64) -> Result<i64, Error> {
        let limit = self.limit.unwrap_or(default);
        if !(1..=100).contains(&limit) {
            return Err(Error::BadRequest(format!(
                "limit must be between 1 and 100, got {limit}"
            )));
        }
        Ok(limit)
    }
}

#[utoipa::path(post, path = "/api/db/codebase/{target_id}/reindex", tag = "codebase",
    params(("target_id" = Uuid, Path, description = "Target id")),
    responses((status = 202, body = ReindexAccepted), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn reindex(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ReindexAccepted>), Error> {
    let id = parse_id("target", &id)?;
    let target = state
        .primary
        .target(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("target {id} not found")))?;
    if target.root_path.is_none() {
        return Err(Error::Conflict(format!(
            "target {id} has no registered root; POST /api/db/targets with its path first"
        )));
    }
    let (job_id, queued) = state.primary.enqueue_index_job(id).await?;
    state.index_jobs.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(ReindexAccepted {
            job_id,
            target_id: id,
            queued,
            status_url: format!("/api/db/codebase/jobs/{job_id}"),
        }),
    ))
}

#[utoipa::path(get, path = "/api/db/codebase/jobs/{job_id}", tag = "codebase",
    params(("job_id" = Uuid, Path, description = "Job id from the reindex answer")),
    responses((status = 200, body = IndexJob), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn job(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<IndexJob>, Error> {
    let id = parse_id("job", &id)?;
    // The explorer polls a job right after the POST that queued it on the primary: a replica
    // that has not replayed the insert yet would answer 404, so an unknown job is looked up once
    // more on the primary (read-your-writes for this one indexed row).
    let job = match state.reads.index_job(id).await? {
        Some(job) => Some(job),
        None => state.primary.index_job(id).await?,
    };
    job.map(|job| Json(job.into()))
        .ok_or_else(|| Error::NotFound(format!("index job {id} not found")))
}

#[utoipa::path(get, path = "/api/db/codebase/{target_id}", tag = "codebase",
    params(("target_id" = Uuid, Path, description = "Target id"), LimitQuery),
    responses((status = 200, body = CodebaseDetail), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn show(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<LimitQuery>,
) -> Result<Json<CodebaseDetail>, Error> {
    let id = parse_id("target", &id)?;
    let limit = query.get(20)?;
    let target = state
        .reads
        .target(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("target {id} not found")))?;
    let mut indexes = state
        .reads
        .codebase_indexes(id, limit + 1)
        .await?
        .into_iter();
    Ok(Json(CodebaseDetail {
        target: target.into(),
        latest: indexes.next().map(Into::into),
        history: indexes.map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/api/db/codebase/largest", tag = "codebase", params(LimitQuery),
    responses((status = 200, body = LargestCodebases), (status = 400, body = super::ErrorBody)))]
pub async fn largest(
    State(state): State<ApiState>,
    Query(query): Query<LimitQuery>,
) -> Result<Json<LargestCodebases>, Error> {
    let limit = query.get(10)?;
    Ok(Json(LargestCodebases {
        codebases: super::responses::all(state.reads.largest_codebases(limit).await?),
    }))
}
