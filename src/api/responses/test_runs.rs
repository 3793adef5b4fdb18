//! Response bodies of the test runs endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::TestRunSource;
use crate::store::test_runs as store_test_runs;

/// A stored test run, as the REST API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredTestRun {
    pub id: Uuid,
    pub session_id: Option<Uuid>,
    pub suite: Option<String>,
    pub source: TestRunSource,
    pub total: i32,
    pub passed: i32,
    /// Failed tests, not counting `errors`.
    pub failed: i32,
    pub errors: i32,
    pub skipped: i32,
    pub duration_ms: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    pub vcs_revision: Option<String>,
    /// SHA-256 of the uploaded report (hex); none for spans.
    pub content_sha256: Option<String>,
    /// Failed and errored cases: classname, name, status, type, message.
    #[schema(value_type = Object)]
    pub failure_reasons: Option<serde_json::Value>,
    /// Problems in the input that did not stop it from being stored.
    #[schema(value_type = Vec<String>)]
    pub warnings: serde_json::Value,
    /// Test-case rows stored for the run.
    pub cases: i64,
}

impl From<store_test_runs::StoredTestRun> for StoredTestRun {
    fn from(r: store_test_runs::StoredTestRun) -> Self {
        Self {
            id: r.id,
            session_id: r.session_id,
            suite: r.suite,
            source: r.source,
            total: r.total,
            passed: r.passed,
            failed: r.failed,
            errors: r.errors,
            skipped: r.skipped,
            duration_ms: r.duration_ms,
            started_at: r.started_at,
            vcs_revision: r.vcs_revision,
            content_sha256: r.content_sha256,
            failure_reasons: r.failure_reasons,
            warnings: r.warnings,
            cases: r.cases,
        }
    }
}
