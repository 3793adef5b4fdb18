//! `/api/db/context/...`: a session's per-turn context usage (peak, overflow turns), a target's
//! hot files with the LRU flag, and the context plan for a feature (which also refreshes the
//! target's LRU set). The plan is made by [`crate::context::plan`] over the target's index,
//! reading file contents from its registered root.

use std::collections::HashMap;
use std::path::Path as FsPath;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json as JsonBody, Path, Query, parse_id};
use super::responses::HotFile;
use super::responses::TurnContextRow;
use super::{ApiState, Error};
use crate::context::plan::{DEFAULT_LRU_SIZE, LAYOUT_WINDOW, default_budget};
use crate::context::{Candidate, Plan, PlanInput, history};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(hot_files))
        .routes(routes!(optimize))
        .routes(routes!(session))
}

/// Files above this size are left out of a plan (generated or data files).
const MAX_PLAN_FILE_BYTES: u64 = 1 << 20;
const MAX_FEATURE_BYTES: usize = 200_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionContext {
    pub session_id: Uuid,
    pub turns: Vec<TurnContextRow>,
    /// The turn with the most prompt tokens.
    pub peak: Option<TurnContextRow>,
    pub mean_utilization: Option<f64>,
    /// Turn numbers whose context overflowed (over the limit, too long, or compacted after).
    pub overflow_turns: Vec<Option<i32>>,
    /// Compaction boundaries in the Claude stream of this session.
    pub compactions: i64,
}

#[utoipa::path(get, path = "/api/db/context/{session_id}", tag = "context",
    params(("session_id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionContext), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn session(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<SessionContext>, Error> {
    let id = parse_id("session", &id)?;
    let (turns, compactions) = crate::store::context::session_context(&state.reads, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("session {id} not found")))?;
    let peak = turns.iter().max_by_key(|t| t.total_tokens).cloned();
    let ratios: Vec<f64> = turns.iter().filter_map(|t| t.utilization).collect();
    Ok(Json(SessionContext {
        session_id: id,
        peak: peak.map(Into::into),
        mean_utilization: (!ratios.is_empty())
            .then(|| ratios.iter().sum::<f64>() / ratios.len() as f64),
        overflow_turns: turns
            .iter()
            .filter(|t| t.overflow)
            .map(|t| t.turn_number)
            .collect(),
        compactions,
        turns: super::responses::all(turns),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HotFilesQuery {
    /// How many files (1–500, default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HotFiles {
    pub target_id: Uuid,
    /// Most accessed first.
    pub files: Vec<HotFile>,
}

#[utoipa::path(get, path = "/api/db/context/hot-files/{target_id}", tag = "context",
    params(("target_id" = Uuid, Path, description = "Target id"), HotFilesQuery),
    responses((status = 200, body = HotFiles), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn hot_files(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<HotFilesQuery>,
) -> Result<Json<HotFiles>, Error> {
    let id = parse_id("target", &id)?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=500).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and 500, got {limit}"
        )));
    }
    state
        .reads
        .target(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("target {id} not found")))?;
    Ok(Json(HotFiles {
        target_id: id,
        files: super::responses::all(state.reads.hot_files(id, limit).await?),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    /// What the session is about to do (free text).
    pub feature: String,
    /// Tokens the plan may use for system + feature + files (default: the PRD's layout, 77K
    /// of a 200K window, scaled to the model's window).
    pub budget_tokens: Option<u64>,
    /// Model whose context window applies (default 200K).
    pub model: Option<String>,
    /// Files already open (paths relative to the root, or absolute under it).
    #[serde(default)]
    pub open_files: Vec<String>,
    /// Size of the LRU set of most accessed files (1–500, default 20).
    pub lru_size: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptimizeResponse {
    pub target_id: Uuid,
    pub model: Option<String>,
    /// Where recency came from: `git` (commit times) or `mtime` (the index).
    pub recency_source: String,
    #[serde(flatten)]
    pub plan: Plan,
}

#[utoipa::path(post, path = "/api/db/context/optimize/{target_id}", tag = "context",
    params(("target_id" = Uuid, Path, description = "Target id")),
    request_body = OptimizeRequest,
    responses((status = 200, body = OptimizeResponse), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody),
              (status = 415, body = super::ErrorBody, description = "The body is not JSON")))]
pub async fn optimize(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<OptimizeRequest>,
) -> Result<Json<OptimizeResponse>, Error> {
    let id = parse_id("target", &id)?;
    if req.feature.trim().is_empty() {
        return Err(Error::BadRequest("feature must not be empty".into()));
    }
    if req.feature.len() > MAX_FEATURE_BYTES {
        return Err(Error::BadRequest(format!(
            "feature is longer than {MAX_FEATURE_BYTES} bytes"
        )));
    }
    let lru_size = req.lru_size.unwrap_or(DEFAULT_LRU_SIZE);
    if !(1..=500).contains(&lru_size) {
        return Err(Error::BadRequest(format!(
            "lru_size must be between 1 and 500, got {lru_size}"
        )));
    }
    let window = req.model.as_deref().map_or(LAYOUT_WINDOW, |m| {
        u64::try_from(state.ingest.prices.context_window(m)).unwrap_or(LAYOUT_WINDOW)
    });
    let budget = req.budget_tokens.unwrap_or(default_budget(window));
    if budget == 0 || budget > window {
        return Err(Error::BadRequest(format!(
            "budget_tokens must be between 1 and the context window ({window}), got {budget}"
        )));
    }
    let target = state
        .primary
        .target(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("target {id} not found")))?;
    let root = target.root_path.ok_or_else(|| {
        Error::Conflict(format!(
            "target {id} has no registered root: register it with POST /api/db/targets"
        ))
    })?;
    let index = state.primary.previous_files(id).await?;
    if index.is_empty() {
        return Err(Error::Conflict(format!(
            "target {id} has no codebase index yet: POST /api/db/codebase/{id}/reindex"
        )));
    }
    let access: HashMap<String, i64> = state.primary.access_counts(id).await?.into_iter().collect();
    let open_files: Vec<String> = req.open_files.iter().map(|p| relative(&root, p)).collect();
    let feature = req.feature.clone();
    let (plan, recency_source) = tokio::task::spawn_blocking(move || {
        let (files, source, log) = candidates(FsPath::new(&root), &index, &access);
        // The calibration reads files as they were before each replayed commit.
        let blobs = (!log.is_empty())
            .then(|| history::Blobs::open(FsPath::new(&root)).ok())
            .flatten()
            .map(std::cell::RefCell::new);
        let past_doc = |rev: &str, path: &str| {
            let mut blobs = blobs.as_ref()?.borrow_mut();
            Some(blobs.get(&format!("{rev}:{path}"), path).ok()??.2)
        };
        let input = PlanInput {
            feature: &feature,
            budget_tokens: budget,
            context_window: window,
            open_files: &open_files,
            lru_size,
            max_file_tokens: None,
            mix: None,
            history: &log,
            past_doc: Some(&past_doc),
        };
        (crate::context::plan(&input, &files), source)
    })
    .await
    .map_err(|e| Error::Internal(format!("planner failed: {e}")))?;
    state.primary.update_lru(id, lru_size as i64).await?;
    Ok(Json(OptimizeResponse {
        target_id: id,
        model: req.model,
        recency_source: recency_source.into(),
        plan,
    }))
}

/// A path relative to the root: the root prefix and leading "./" dropped.
fn relative(root: &str, path: &str) -> String {
    let root = root.trim_end_matches('/');
    let p = path
        .strip_prefix(root)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path);
    p.trim_start_matches("./").to_string()
}

/// The index's text files, read from the root; recency and the history (co-changes and
/// calibration) from `git log` when the root is a git work tree, else recency from the index's
/// mtimes and no history.
fn candidates(
    root: &FsPath,
    index: &HashMap<String, crate::indexer::FileRecord>,
    access: &HashMap<String, i64>,
) -> (Vec<Candidate>, &'static str, Vec<history::Commit>) {
    // Every file is opened through the root's descriptor: a root or a directory inside it
    // swapped for a symlink (to /etc, say) is never read (issue 19.2), and reads are capped
    // again since a file may have grown since it was indexed.
    let Ok(opened) = crate::indexer::Root::open(root) else {
        return (Vec::new(), "mtime", Vec::new());
    };
    let log = root
        .join(".git")
        .exists()
        .then(|| history::log(root, "HEAD", 2000).ok())
        .flatten();
    let git = log.as_ref().map(|l| history::last_modified(l));
    let cap = MAX_PLAN_FILE_BYTES.min(crate::indexer::beneath::max_file_bytes());
    let mut files = Vec::new();
    let mut paths: Vec<&String> = index.keys().collect();
    paths.sort();
    for path in paths {
        let rec = &index[path];
        if rec.is_binary || rec.size_bytes > cap {
            continue;
        }
        let Ok(bytes) = opened.read(&crate::indexer::decode_path(path), cap) else {
            continue;
        };
        let Ok(content) = String::from_utf8(bytes) else {
            continue;
        };
        let last_modified = match &git {
            Some(times) => times.get(path).copied(),
            None => Some(rec.mtime_ns / 1_000_000_000),
        };
        files.push(Candidate::new(
            path,
            &content,
            rec.counts.tokens,
            last_modified,
            access.get(path).copied().unwrap_or(0).max(0) as u64,
        ));
    }
    let source = if git.is_some() { "git" } else { "mtime" };
    (files, source, log.unwrap_or_default())
}
