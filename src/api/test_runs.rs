//! `POST /api/db/sessions/{session_id}/test-runs`: a test report (JUnit XML, or a libtest / cargo-nextest
//! JSON stream) stored as a run of a known session, through the same ingest path as
//! `acd.test_run` spans, and counted in /metrics. The format comes from `?format=`, else the
//! Content-Type (XML → JUnit; JSON / NDJSON → event stream), else the body's first character.
//! The same report sent again answers 200 with `"duplicate": true` and changes nothing.

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::{Path, Query, parse_id};
use super::responses::StoredTestRun;
use super::{ApiState, Error};
use crate::testreports::{ReportError, ReportFormat, Upload};

/// Uploads are as large as `max_body_bytes` allows, not axum's 2 MB default.
pub fn router(max_body_bytes: usize) -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(create).layer(DefaultBodyLimit::max(max_body_bytes)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TestRunQuery {
    /// junit | json | libtest-json | nextest-json (default: from the Content-Type).
    pub format: Option<String>,
    /// Suite name, replacing the report's own (no NUL characters).
    #[serde(default, deserialize_with = "super::extract::text")]
    pub suite: Option<String>,
    /// The code revision the tests ran against (default: the session's, if known; no NUL).
    #[serde(default, deserialize_with = "super::extract::text")]
    pub revision: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestRunResponse {
    #[serde(flatten)]
    pub run: StoredTestRun,
    /// True when this report had been stored before (nothing changed).
    pub duplicate: bool,
}

#[utoipa::path(post, path = "/api/db/sessions/{session_id}/test-runs", tag = "tests",
    params(("session_id" = Uuid, Path, description = "Session id"), TestRunQuery),
    request_body(content = String, content_type = "application/xml",
                 description = "A JUnit XML report (application/xml, text/xml), or a libtest / \
                                nextest JSON stream (application/json, application/x-ndjson)"),
    responses((status = 201, body = TestRunResponse, description = "Stored"),
              (status = 200, body = TestRunResponse, description = "Already stored"),
              (status = 400, body = super::ErrorBody, description = "Malformed report or query"),
              (status = 404, body = super::ErrorBody, description = "Unknown session"),
              (status = 413, body = super::ErrorBody), (status = 415, body = super::ErrorBody),
              (status = 503, body = super::ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<TestRunQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, axum::Json<TestRunResponse>), Error> {
    let session = parse_id("session", &id)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge(format!(
            "the report is larger than {} bytes",
            state.max_body_bytes
        )),
        _ => Error::BadRequest(rejection.body_text()),
    })?;
    let format = format(&query, &headers, &body)?;
    let upload = Upload {
        session,
        suite: query.suite.filter(|s| !s.trim().is_empty()),
        revision: query.revision.filter(|r| !r.trim().is_empty()),
        received_at: Utc::now(),
    };
    let stored = state
        .ingest
        .commit_report(&body, format, &upload)
        .await
        .map_err(|e| match e {
            ReportError::UnknownSession(_) => Error::NotFound(e.to_string()),
            ReportError::Malformed(_) => Error::BadRequest(e.to_string()),
            ReportError::NotStored(_) => Error::Internal(e.to_string()),
            ReportError::Store(e) => e.into(),
        })?;
    let status = if stored.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(TestRunResponse {
            run: stored.run.into(),
            duplicate: stored.duplicate,
        }),
    ))
}

fn format(query: &TestRunQuery, headers: &HeaderMap, body: &[u8]) -> Result<ReportFormat, Error> {
    if let Some(name) = &query.format {
        return ReportFormat::parse(name).ok_or_else(|| {
            Error::BadRequest(format!(
                "unknown format {name:?}: expected junit, json, libtest-json or nextest-json"
            ))
        });
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(format) = ReportFormat::from_content_type(content_type) {
        return Ok(format);
    }
    // No type, or a generic one (curl's default, text/plain): the body tells.
    let generic = content_type.is_empty()
        || content_type.starts_with("text/plain")
        || content_type.starts_with("application/octet-stream")
        || content_type.starts_with("application/x-www-form-urlencoded");
    match ReportFormat::sniff(body) {
        Some(format) if generic => Ok(format),
        _ => Err(Error::UnsupportedMediaType(format!(
            "cannot tell the report format from Content-Type {content_type:?}: send \
             application/xml (JUnit) or application/x-ndjson (libtest/nextest JSON), \
             or say ?format="
        ))),
    }
}
