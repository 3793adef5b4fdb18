//! `/api/db/tests`: a target's test-run history with its pass-rate trend, flaky tests and
//! pass-rate regressions. Definitions in docs/tests-and-retries.md.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Path, Query, parse_id};
use super::responses::{FlakyTest, Regression, TestHistoryRow};
use super::{ApiState, Error};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(flaky))
        .routes(routes!(regressions))
        .routes(routes!(history))
}

const MAX_PAGE: i64 = 500;
const MAX_WINDOW: u32 = 100;

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// Sessions to skip (default 0).
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestHistory {
    pub target_id: Uuid,
    pub target_name: Option<String>,
    /// Sessions of the target with at least one test run, newest first.
    pub sessions: Vec<TestHistoryRow>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

fn page_size(limit: Option<i64>, default: i64) -> Result<i64, Error> {
    let limit = limit.unwrap_or(default);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        )))
    }
}

#[utoipa::path(get, path = "/api/db/tests/{target_id}", tag = "tests", params(
        ("target_id" = Uuid, Path, description = "Target (repository) id"), HistoryQuery),
    responses((status = 200, body = TestHistory), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)))]
pub async fn history(
    State(state): State<ApiState>,
    Path(repo_id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<TestHistory>, Error> {
    let target_id = parse_id("target", &repo_id)?;
    let limit = page_size(q.limit, 50)?;
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::BadRequest(format!(
            "offset must not be negative, got {offset}"
        )));
    }
    let Some(target_name) = state.reads.target_name(target_id).await? else {
        return Err(Error::NotFound(format!("target {target_id} not found")));
    };
    let (sessions, total) = state.reads.test_history(target_id, limit, offset).await?;
    Ok(Json(TestHistory {
        target_id,
        target_name,
        sessions: super::responses::all(sessions),
        total,
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FlakyQuery {
    /// Only this target's tests.
    pub target_id: Option<Uuid>,
    /// Flip rule window: the last N sessions that ran the test, 3–100 (default: the serve
    /// flag `--flaky-window`, 5).
    pub window: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlakyTests {
    pub target_id: Option<Uuid>,
    pub window: u32,
    /// Ordered by target, classname and name.
    pub flaky: Vec<FlakyTest>,
}

#[utoipa::path(get, path = "/api/db/tests/flaky", tag = "tests", params(FlakyQuery),
    responses((status = 200, body = FlakyTests), (status = 400, body = super::ErrorBody)))]
pub async fn flaky(
    State(state): State<ApiState>,
    Query(q): Query<FlakyQuery>,
) -> Result<Json<FlakyTests>, Error> {
    let window = q.window.unwrap_or(state.test_analysis.flaky_window);
    if !(3..=MAX_WINDOW).contains(&window) {
        return Err(Error::BadRequest(format!(
            "window must be between 3 and {MAX_WINDOW} sessions, got {window}"
        )));
    }
    let flaky = state.reads.flaky_tests(q.target_id, window).await?;
    Ok(Json(FlakyTests {
        target_id: q.target_id,
        window,
        flaky: super::responses::all(flaky),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RegressionQuery {
    /// Only this target's sessions.
    pub target_id: Option<Uuid>,
    /// Percentage points, 0–100 (default: the serve flag `--regression-threshold-points`, 10).
    pub threshold: Option<f64>,
    /// At most this many regressions, newest first, 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Regressions {
    pub target_id: Option<Uuid>,
    pub threshold_points: f64,
    /// Newest first.
    pub regressions: Vec<Regression>,
}

#[utoipa::path(get, path = "/api/db/tests/regressions", tag = "tests", params(RegressionQuery),
    responses((status = 200, body = Regressions), (status = 400, body = super::ErrorBody)))]
pub async fn regressions(
    State(state): State<ApiState>,
    Query(q): Query<RegressionQuery>,
) -> Result<Json<Regressions>, Error> {
    let threshold = q
        .threshold
        .unwrap_or(state.test_analysis.regression_threshold_points);
    if !threshold.is_finite() || !(0.0..=100.0).contains(&threshold) {
        return Err(Error::BadRequest(format!(
            "threshold must be between 0 and 100 percentage points, got {threshold}"
        )));
    }
    let limit = page_size(q.limit, 100)?;
    let regressions = state
        .reads
        .regressions(q.target_id, threshold, limit)
        .await?;
    Ok(Json(Regressions {
        target_id: q.target_id,
        threshold_points: threshold,
        regressions: super::responses::all(regressions),
    }))
}
