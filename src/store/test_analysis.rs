//! Reads test results back for analysis: a target's pass-rate history with its trend, flaky tests
//! (two rules), pass-rate regressions with the tests that newly fail, and the per-target state
//! behind the test gauges. Only reads: test runs are written by the ingest path.
//!
//! Definitions (docs/tests-and-retries.md): a session's pass rate is
//! `harness_sessions.test_pass_rate`, kept by ingest; a target's test series is its sessions with
//! at least one stored test run, ordered by `started_at` (then id); "the previous session" is the
//! previous one in that series that has a pass rate. A test is identified by classname + name; in
//! one session it *failed* when any of its cases failed or errored, else it *passed* if a case
//! passed (skipped cases do not count as running it).

mod flaky;
mod regressions;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};
use crate::config::TestAnalysis;
use crate::domain::SessionState;

pub use flaky::{FlakyRule, FlakyTest, SessionOutcome, SessionTestOutcome, outcome_changes};
pub use regressions::{Regression, TestId};

/// How many of a target's latest regressions [`TargetTestState`] carries: enough to tell new
/// regressions from ones already counted, and bounded.
pub const RECENT_REGRESSIONS: i64 = 50;

#[derive(Debug)]
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

/// What the test gauges of one target show, read from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetTestState {
    pub target_id: Uuid,
    pub target_name: Option<String>,
    /// Pass rate of the latest session with one (0–1).
    pub latest_pass_rate: Option<f64>,
    /// Latest minus previous pass rate.
    pub pass_rate_delta: Option<f64>,
    /// Distinct flaky tests, by either rule.
    pub flaky_tests: usize,
    /// Session ids of the latest [`RECENT_REGRESSIONS`] regressions.
    pub recent_regressions: Vec<Uuid>,
}

impl Store {
    /// The target's name: `None` for an unknown target, `Some(None)` for one without a name.
    pub async fn target_name(&self, target_id: Uuid) -> Result<Option<Option<String>>, Error> {
        Ok(
            sqlx::query_scalar!("SELECT name FROM targets WHERE id = $1", target_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The target's sessions that ran tests, newest first, and how many there are.
    pub async fn test_history(
        &self,
        target_id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<TestHistoryRow>, i64), Error> {
        let rows = sqlx::query_as!(
            TestHistoryRow,
            r#"WITH tested AS (
                   SELECT s.id, s.external_id, s.status, s.started_at, s.ended_at,
                          COALESCE(s.vcs_revision, (
                              SELECT r.vcs_revision FROM session_test_runs r
                              WHERE r.session_id = s.id AND r.vcs_revision IS NOT NULL
                              ORDER BY r.started_at DESC NULLS LAST, r.id LIMIT 1
                          )) AS vcs_revision, s.tests_run, s.tests_passed, s.tests_failed,
                          s.test_pass_rate
                   FROM harness_sessions s
                   WHERE s.target_id = $1
                     AND EXISTS (SELECT 1 FROM session_test_runs r WHERE r.session_id = s.id)
               ), rated AS (
                   SELECT id, LAG(id) OVER w AS prev_id, LAG(test_pass_rate) OVER w AS prev_rate
                   FROM tested WHERE test_pass_rate IS NOT NULL
                   WINDOW w AS (ORDER BY started_at, id)
               )
               SELECT t.id AS "session_id!", t.external_id AS "external_id!",
                      t.status AS "status!: SessionState", t.started_at AS "started_at!", t.ended_at,
                      t.vcs_revision,
                      (SELECT count(*) FROM session_test_runs r WHERE r.session_id = t.id)
                          AS "test_runs!",
                      COALESCE(t.tests_run, 0) AS "tests_run!",
                      COALESCE(t.tests_passed, 0) AS "tests_passed!",
                      COALESCE(t.tests_failed, 0) AS "tests_failed!",
                      t.test_pass_rate::float8 AS pass_rate,
                      r.prev_id AS "previous_session_id?",
                      r.prev_rate::float8 AS "previous_pass_rate?",
                      (t.test_pass_rate - r.prev_rate)::float8 AS "pass_rate_delta?"
               FROM tested t LEFT JOIN rated r ON r.id = t.id
               ORDER BY t.started_at DESC, t.id DESC
               LIMIT $2 OFFSET $3"#,
            target_id,
            limit,
            offset,
        )
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM harness_sessions s
               WHERE s.target_id = $1
                 AND EXISTS (SELECT 1 FROM session_test_runs r WHERE r.session_id = s.id)"#,
            target_id
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((rows, total))
    }

    /// The gauges' view of one target: latest pass rate and its delta, flaky test count, and
    /// its latest regressions.
    pub async fn target_test_state(
        &self,
        target_id: Uuid,
        config: &TestAnalysis,
    ) -> Result<TargetTestState, Error> {
        let target_name = self.target_name(target_id).await?.flatten();
        // The delta is computed in NUMERIC: 0.9 − 1.0 is exactly −0.1.
        let latest = sqlx::query!(
            r#"SELECT s.test_pass_rate::float8 AS "rate!",
                      (s.test_pass_rate - LEAD(s.test_pass_rate) OVER w)::float8 AS "delta?"
               FROM harness_sessions s
               WHERE s.target_id = $1 AND s.test_pass_rate IS NOT NULL
                 AND EXISTS (SELECT 1 FROM session_test_runs r WHERE r.session_id = s.id)
               WINDOW w AS (ORDER BY s.started_at DESC, s.id DESC)
               ORDER BY s.started_at DESC, s.id DESC
               LIMIT 1"#,
            target_id
        )
        .fetch_optional(&self.pool)
        .await?;
        let flaky_tests = self
            .flaky_tests(Some(target_id), config.flaky_window)
            .await?
            .len();
        let recent_regressions = self
            .regressions(
                Some(target_id),
                config.regression_threshold_points,
                RECENT_REGRESSIONS,
            )
            .await?
            .into_iter()
            .map(|r| r.session_id)
            .collect();
        Ok(TargetTestState {
            target_id,
            target_name,
            latest_pass_rate: latest.as_ref().map(|l| l.rate),
            pass_rate_delta: latest.and_then(|l| l.delta),
            flaky_tests,
            recent_regressions,
        })
    }

    /// [`Store::target_test_state`] of every target that has sessions with test runs (for the
    /// gauges at start-up).
    pub async fn all_target_test_states(
        &self,
        config: &TestAnalysis,
    ) -> Result<Vec<TargetTestState>, Error> {
        let targets = sqlx::query_scalar!(
            r#"SELECT DISTINCT s.target_id AS "target_id!" FROM harness_sessions s
               WHERE s.target_id IS NOT NULL
                 AND EXISTS (SELECT 1 FROM session_test_runs r WHERE r.session_id = s.id)
               ORDER BY 1"#
        )
        .fetch_all(&self.pool)
        .await?;
        let mut states = Vec::with_capacity(targets.len());
        for target_id in targets {
            states.push(self.target_test_state(target_id, config).await?);
        }
        Ok(states)
    }
}
