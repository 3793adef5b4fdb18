//! Pass-rate regressions: a session whose pass rate is more than T percentage points below the
//! previous session's for the same target, with the tests that newly fail (failed in the session,
//! passed in the previous one). The drop is computed in NUMERIC so that exactly T points is not
//! a regression.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::{Error, Store};

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TestId {
    pub classname: String,
    pub name: String,
}

#[derive(Debug)]
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

impl Store {
    /// Regressions of one target (or all), newest first, at most `limit`.
    pub async fn regressions(
        &self,
        target_id: Option<Uuid>,
        threshold_points: f64,
        limit: i64,
    ) -> Result<Vec<Regression>, Error> {
        let rows = sqlx::query!(
            r#"WITH rated AS (
                   SELECT s.id, s.target_id, s.started_at, s.test_pass_rate,
                          LAG(s.id) OVER w AS prev_id, LAG(s.test_pass_rate) OVER w AS prev_rate
                   FROM harness_sessions s
                   WHERE s.target_id IS NOT NULL AND ($1::uuid IS NULL OR s.target_id = $1)
                     AND s.test_pass_rate IS NOT NULL
                     AND EXISTS (SELECT 1 FROM session_test_runs r WHERE r.session_id = s.id)
                   WINDOW w AS (PARTITION BY s.target_id ORDER BY s.started_at, s.id)
               )
               SELECT r.target_id AS "target_id!", t.name AS "target_name?",
                      r.id AS "session_id!", r.started_at AS "started_at!",
                      r.test_pass_rate::float8 AS "pass_rate!",
                      r.prev_id AS "previous_session_id!",
                      r.prev_rate::float8 AS "previous_pass_rate!",
                      ((r.prev_rate - r.test_pass_rate) * 100)::float8 AS "drop_points!"
               FROM rated r JOIN targets t ON t.id = r.target_id
               WHERE r.prev_rate IS NOT NULL
                 AND ((r.prev_rate - r.test_pass_rate) * 100)::float8 > $2
               ORDER BY r.started_at DESC, r.id DESC
               LIMIT $3"#,
            target_id,
            threshold_points,
            limit,
        )
        .fetch_all(&self.pool)
        .await?;
        let sessions: Vec<Uuid> = rows.iter().map(|r| r.session_id).collect();
        let previous: Vec<Uuid> = rows.iter().map(|r| r.previous_session_id).collect();
        let mut newly_failing = self.newly_failing(&sessions, &previous).await?;
        Ok(rows
            .into_iter()
            .map(|r| Regression {
                newly_failing: newly_failing.remove(&r.session_id).unwrap_or_default(),
                target_id: r.target_id,
                target_name: r.target_name,
                session_id: r.session_id,
                started_at: r.started_at,
                pass_rate: r.pass_rate,
                previous_session_id: r.previous_session_id,
                previous_pass_rate: r.previous_pass_rate,
                drop_points: r.drop_points,
            })
            .collect())
    }

    /// For each (session, previous session) pair: tests that failed in the session and passed in
    /// the previous one, sorted.
    async fn newly_failing(
        &self,
        sessions: &[Uuid],
        previous: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Vec<TestId>>, Error> {
        let mut out = std::collections::HashMap::<Uuid, Vec<TestId>>::new();
        if sessions.is_empty() {
            return Ok(out);
        }
        let rows = sqlx::query!(
            r#"WITH pairs AS (
                   SELECT * FROM UNNEST($1::uuid[], $2::uuid[]) AS p(session_id, prev_id)
               ), outcomes AS (
                   SELECT session_id, classname, name,
                          bool_or(status IN ('failed', 'error')) AS failed
                   FROM session_test_cases
                   WHERE (session_id = ANY($1) OR session_id = ANY($2)) AND status <> 'skipped'
                   GROUP BY 1, 2, 3
               )
               SELECT p.session_id AS "session_id!", cur.classname AS "classname!",
                      cur.name AS "name!"
               FROM pairs p
               JOIN outcomes cur ON cur.session_id = p.session_id AND cur.failed
               JOIN outcomes prev ON prev.session_id = p.prev_id
                    AND prev.classname = cur.classname AND prev.name = cur.name
                    AND NOT prev.failed
               ORDER BY 1, 2, 3"#,
            sessions,
            previous,
        )
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            out.entry(row.session_id).or_default().push(TestId {
                classname: row.classname,
                name: row.name,
            });
        }
        Ok(out)
    }
}
