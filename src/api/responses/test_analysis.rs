//! Response bodies of the test analysis endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::SessionState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TestHistoryRow {
    pub session_id: Uuid,
    /// The session id as the producer sent it.
    pub external_id: String,
    pub status: SessionState,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The session's code revision, else its latest test run's.
    pub vcs_revision: Option<String>,
    /// Test runs stored for the session.
    pub test_runs: i64,
    pub tests_run: i32,
    pub tests_passed: i32,
    pub tests_failed: i32,
    /// passed / (total − skipped), 0–1; absent when no test ran (all skipped).
    pub pass_rate: Option<f64>,
    pub previous_session_id: Option<Uuid>,
    pub previous_pass_rate: Option<f64>,
    /// pass_rate − previous_pass_rate (a fraction: −0.1 is 10 points down).
    pub pass_rate_delta: Option<f64>,
}

impl From<crate::store::test_analysis::TestHistoryRow> for TestHistoryRow {
    fn from(r: crate::store::test_analysis::TestHistoryRow) -> Self {
        Self {
            session_id: r.session_id,
            external_id: r.external_id,
            status: r.status,
            started_at: r.started_at,
            ended_at: r.ended_at,
            vcs_revision: r.vcs_revision,
            test_runs: r.test_runs,
            tests_run: r.tests_run,
            tests_passed: r.tests_passed,
            tests_failed: r.tests_failed,
            pass_rate: r.pass_rate,
            previous_session_id: r.previous_session_id,
            previous_pass_rate: r.previous_pass_rate,
            pass_rate_delta: r.pass_rate_delta,
        }
    }
}

/// How a test ended in one session: failed when any of its runs there failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionTestOutcome {
    Passed,
    Failed,
}

impl From<crate::store::test_analysis::SessionTestOutcome> for SessionTestOutcome {
    fn from(r: crate::store::test_analysis::SessionTestOutcome) -> Self {
        match r {
            crate::store::test_analysis::SessionTestOutcome::Passed => Self::Passed,
            crate::store::test_analysis::SessionTestOutcome::Failed => Self::Failed,
        }
    }
}

/// Which rule caught a flaky test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlakyRule {
    /// Passed and failed for the same target at the same code revision.
    SameRevision,
    /// pass→fail→pass or fail→pass→fail across the target's last N sessions that ran it.
    Flip,
}

impl From<crate::store::test_analysis::FlakyRule> for FlakyRule {
    fn from(r: crate::store::test_analysis::FlakyRule) -> Self {
        match r {
            crate::store::test_analysis::FlakyRule::SameRevision => Self::SameRevision,
            crate::store::test_analysis::FlakyRule::Flip => Self::Flip,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOutcome {
    pub session_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub outcome: SessionTestOutcome,
}

impl From<crate::store::test_analysis::SessionOutcome> for SessionOutcome {
    fn from(r: crate::store::test_analysis::SessionOutcome) -> Self {
        Self {
            session_id: r.session_id,
            started_at: r.started_at,
            outcome: r.outcome.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlakyTest {
    pub target_id: Uuid,
    pub target_name: Option<String>,
    pub classname: String,
    pub name: String,
    /// Every rule that caught it, `same_revision` first.
    pub rules: Vec<FlakyRule>,
    /// same_revision: the revisions at which it both passed and failed.
    pub revisions: Vec<String>,
    /// flip: its outcome in the target's last N sessions that ran it, oldest first.
    pub recent_outcomes: Vec<SessionOutcome>,
}

impl From<crate::store::test_analysis::FlakyTest> for FlakyTest {
    fn from(r: crate::store::test_analysis::FlakyTest) -> Self {
        Self {
            target_id: r.target_id,
            target_name: r.target_name,
            classname: r.classname,
            name: r.name,
            rules: r.rules.into_iter().map(Into::into).collect(),
            revisions: r.revisions,
            recent_outcomes: r.recent_outcomes.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct TestId {
    pub classname: String,
    pub name: String,
}

impl From<crate::store::test_analysis::TestId> for TestId {
    fn from(r: crate::store::test_analysis::TestId) -> Self {
        Self {
            classname: r.classname,
            name: r.name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Regression {
    pub target_id: Uuid,
    pub target_name: Option<String>,
    pub session_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub pass_rate: f64,
    pub previous_session_id: Uuid,
    pub previous_pass_rate: f64,
    /// (previous_pass_rate − pass_rate) × 100.
    pub drop_points: f64,
    /// Failed in this session, passed in the previous one.
    pub newly_failing: Vec<TestId>,
}

impl From<crate::store::test_analysis::Regression> for Regression {
    fn from(r: crate::store::test_analysis::Regression) -> Self {
        Self {
            target_id: r.target_id,
            target_name: r.target_name,
            session_id: r.session_id,
            started_at: r.started_at,
            pass_rate: r.pass_rate,
            previous_session_id: r.previous_session_id,
            previous_pass_rate: r.previous_pass_rate,
            drop_points: r.drop_points,
            newly_failing: r.newly_failing.into_iter().map(Into::into).collect(),
        }
    }
}
