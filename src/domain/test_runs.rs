//! Test-run records: an `acd.test_run` span or an uploaded report (JUnit XML, libtest/nextest
//! JSON), with its cases, counts and the checks that turn inconsistent counts into warnings.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::SpanKey;

/// A target as the test metrics label it: its name, else its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTarget {
    pub id: Uuid,
    pub name: Option<String>,
}

/// Where a test run came from (`session_test_runs.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, sqlx::Type)]
#[serde(rename_all = "kebab-case")]
#[sqlx(type_name = "text", rename_all = "kebab-case")]
pub enum TestRunSource {
    Span,
    Junit,
    LibtestJson,
    NextestJson,
}

impl TestRunSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TestRunSource::Span => "span",
            TestRunSource::Junit => "junit",
            TestRunSource::LibtestJson => "libtest-json",
            TestRunSource::NextestJson => "nextest-json",
        }
    }
}

/// The outcome of one test case (`session_test_cases.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestStatus {
    Passed,
    Failed,
    /// The test could not run to a verdict (JUnit `<error>`: a crash, a broken fixture).
    Error,
    Skipped,
}

impl TestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Error => "error",
            TestStatus::Skipped => "skipped",
        }
    }

    /// Lenient: the spellings harnesses and report formats use (ok, pass, fail, ignored, …).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "passed" | "pass" | "ok" | "success" => Some(TestStatus::Passed),
            "failed" | "fail" | "failure" => Some(TestStatus::Failed),
            "error" | "errored" => Some(TestStatus::Error),
            "skipped" | "skip" | "ignored" | "pending" | "disabled" => Some(TestStatus::Skipped),
            _ => None,
        }
    }
}

/// One test case of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCaseRecord {
    pub classname: String,
    pub name: String,
    pub status: TestStatus,
    pub duration_ms: Option<i64>,
    pub failure_type: Option<String>,
    pub failure_message: Option<String>,
}

/// Counts of a test run. `failed` excludes `errors`; `total` should be the sum of all four.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestCounts {
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub skipped: i64,
    pub errors: i64,
}

impl TestCounts {
    pub fn of_cases(cases: &[TestCaseRecord]) -> Self {
        let count = |s| cases.iter().filter(|c| c.status == s).count() as i64;
        TestCounts {
            total: cases.len() as i64,
            passed: count(TestStatus::Passed),
            failed: count(TestStatus::Failed),
            skipped: count(TestStatus::Skipped),
            errors: count(TestStatus::Error),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "total {}, passed {}, failed {}, errors {}, skipped {}",
            self.total, self.passed, self.failed, self.errors, self.skipped
        )
    }

    /// Problems with the counts themselves, and with the cases they summarise.
    pub fn warnings(&self, cases: &[TestCaseRecord]) -> Vec<String> {
        let mut warnings = Vec::new();
        let sum = self.passed + self.failed + self.skipped + self.errors;
        if sum != self.total {
            warnings.push(format!(
                "counts do not add up: passed + failed + errors + skipped = {sum}, total = {}",
                self.total
            ));
        }
        let tally = TestCounts::of_cases(cases);
        if !cases.is_empty() && tally != *self {
            warnings.push(format!(
                "the {} test cases ({}) disagree with the run's counts ({})",
                cases.len(),
                tally.describe(),
                self.describe()
            ));
        }
        warnings
    }
}

/// One test run: an `acd.test_run` span, or an uploaded report. Uploads are keyed by
/// `synthetic_key(session, "test_run:<sha256 hex of the report>")`, so the same report sent
/// again is a duplicate.
#[derive(Debug, Clone)]
pub struct TestRunRecord {
    pub key: SpanKey,
    pub session_id: Option<Uuid>,
    pub session_external_id: Option<String>,
    pub suite: Option<String>,
    pub counts: TestCounts,
    pub duration_ms: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub vcs_revision: Option<String>,
    pub source: TestRunSource,
    pub content_sha256: Option<Vec<u8>>,
    /// Failed and errored cases (name, type, message), capped: the PRD's `failure_reasons`.
    pub failure_reasons: Value,
    /// What was wrong with the input but did not stop it from being stored.
    pub warnings: Vec<String>,
    pub cases: Vec<TestCaseRecord>,
}

/// How many failures `failure_reasons` lists, and how long each message may be there.
const MAX_FAILURE_REASONS: usize = 50;
const MAX_REASON_CHARS: usize = 500;

/// The `failure_reasons` JSON of a run's cases.
pub fn failure_reasons(cases: &[TestCaseRecord]) -> Value {
    let reasons: Vec<Value> = cases
        .iter()
        .filter(|c| matches!(c.status, TestStatus::Failed | TestStatus::Error))
        .take(MAX_FAILURE_REASONS)
        .map(|c| {
            serde_json::json!({
                "classname": c.classname,
                "name": c.name,
                "status": c.status.as_str(),
                "type": c.failure_type,
                "message": c.failure_message.as_ref()
                    .map(|m| m.chars().take(MAX_REASON_CHARS).collect::<String>()),
            })
        })
        .collect();
    Value::Array(reasons)
}
