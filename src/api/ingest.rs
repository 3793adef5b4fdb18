//! `POST /api/db/ingest/claude-run`: a parsed Claude CLI run (the JSON of
//! [`crate::claude::ParsedRun`], as `acd-collector ingest --endpoint` and the `run` wrapper send
//! it) goes through the ingest service, exactly as `ingest` does against the database, and is
//! counted in /metrics. Re-sending the same run changes nothing.

use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Json, Query};
use super::{ApiState, Error};
use crate::claude::ParsedRun;
use crate::claude::to_batch::MapOptions;
use crate::ingest::IngestSummary;

/// Runs are as large as `max_body_bytes` allows, not axum's 2 MB default.
pub fn router(max_body_bytes: usize) -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(claude_run).layer(DefaultBodyLimit::max(max_body_bytes)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IngestQuery {
    /// The target (repository) the session belongs to.
    pub target_id: Option<Uuid>,
    /// End time of a run whose lines carry no times (RFC 3339); default: now.
    #[serde(default, deserialize_with = "super::extract::time")]
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
    Json(mut body): Json<serde_json::Value>,
) -> Result<axum::Json<IngestSummary>, Error> {
    // PostgreSQL refuses NUL in text and JSONB: replaced here, at the request boundary, as the
    // OTLP receivers do (crate::otlp::sanitize), so no string of the run can fail the insert.
    replace_nul(&mut body);
    let run: ParsedRun = serde_json::from_value(body)
        .map_err(|e| Error::BadRequest(format!("invalid Claude run: {e}")))?;
    run.validate().map_err(|e| Error::BadRequest(e.0))?;
    let options = MapOptions {
        target_id: query.target_id,
        fallback_time: query.ended_at.unwrap_or_else(Utc::now),
    };
    Ok(axum::Json(state.ingest.commit_run(&run, &options).await?))
}

/// Replaces U+0000 by U+FFFD in every string and key of a JSON document.
fn replace_nul(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{fffd}"),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (k.replace('\0', "\u{fffd}"), v))
                    .collect();
            }
            map.values_mut().for_each(replace_nul);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nul_is_replaced_in_strings_and_keys() {
        let mut v = serde_json::json!({"a\u{0}": ["x\u{0}y", {"k": "\u{0}"}], "n": 1});
        super::replace_nul(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"a\u{fffd}": ["x\u{fffd}y", {"k": "\u{fffd}"}], "n": 1})
        );
    }
}
