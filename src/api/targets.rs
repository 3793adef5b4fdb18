//! `/api/db/targets`: register a repository (its absolute path on the collector's host) and list
//! targets. A reindex only ever reads a registered root, so this is where paths are checked:
//! absolute, no `..`, an existing directory; stored canonical (symlinks resolved).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{self, parse_id};
use super::responses::Target;
use super::{ApiState, Error};
use crate::indexer::validate_root_within;
use crate::store::codebase::Registered;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list, register))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterTarget {
    /// Display name (also the metrics' `target` label).
    pub name: Option<String>,
    /// Absolute path of the repository on the collector's host.
    pub path: String,
    /// Optional: the id of a target sessions already name (`acd.target.id`), to give it a root.
    pub id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetList {
    pub targets: Vec<Target>,
}

#[utoipa::path(post, path = "/api/db/targets", tag = "codebase", request_body = RegisterTarget,
    responses((status = 201, body = Target, description = "registered"),
              (status = 200, body = Target, description = "this root was already registered"),
              (status = 400, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn register(
    State(state): State<ApiState>,
    extract::Json(body): extract::Json<RegisterTarget>,
) -> Result<(StatusCode, Json<Target>), Error> {
    // PostgreSQL refuses NUL in text: a 400 here, not a 500 from the insert.
    extract::no_nul("path", &body.path)?;
    if let Some(name) = &body.name {
        extract::no_nul("name", name)?;
    }
    let id = body
        .id
        .as_deref()
        .map(|id| parse_id("target", id))
        .transpose()?;
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.len() > 200) {
        return Err(Error::BadRequest("name is longer than 200 bytes".into()));
    }
    let root = validate_root_within(&body.path, &state.target_roots)
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    let root = root
        .to_str()
        .ok_or_else(|| Error::BadRequest("path is not valid UTF-8".into()))?;
    match state.primary.register_target(id, name, root).await? {
        Registered::Created(target) => Ok((StatusCode::CREATED, Json(target.into()))),
        Registered::Existing(target) => Ok((StatusCode::OK, Json(target.into()))),
        Registered::RootTaken(owner) => Err(Error::Conflict(format!(
            "{root} is already registered as target {owner}"
        ))),
    }
}

#[utoipa::path(get, path = "/api/db/targets", tag = "codebase",
    responses((status = 200, body = TargetList)))]
pub async fn list(State(state): State<ApiState>) -> Result<Json<TargetList>, Error> {
    Ok(Json(TargetList {
        targets: super::responses::all(state.reads.targets().await?),
    }))
}
