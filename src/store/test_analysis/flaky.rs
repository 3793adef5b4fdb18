//! Flaky tests. Rule `same_revision`: the same test both passed and failed for the same target at
//! the same code revision (the case's, else its run's, else its session's revision). Rule `flip`:
//! across the target's last N sessions that ran the test, its outcome changed at least twice
//! (pass→fail→pass or fail→pass→fail).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::{Error, Store};

/// How a test ended in one session: failed when any of its runs there failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTestOutcome {
    Passed,
    Failed,
}

/// Which rule caught a flaky test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlakyRule {
    /// Passed and failed for the same target at the same code revision.
    SameRevision,
    /// pass→fail→pass or fail→pass→fail across the target's last N sessions that ran it.
    Flip,
}

#[derive(Debug)]
pub struct SessionOutcome {
    pub session_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub outcome: SessionTestOutcome,
}

#[derive(Debug)]
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

/// Counts outcome changes in a sequence of failed flags (oldest first); two or more is a flip
/// (pass→fail→pass or fail→pass→fail somewhere in the sequence).
pub fn outcome_changes(failed: &[bool]) -> usize {
    failed.windows(2).filter(|w| w[0] != w[1]).count()
}

impl Store {
    /// Flaky tests of one target (or all), each with the rules that caught it, ordered by
    /// target, classname and name.
    pub async fn flaky_tests(
        &self,
        target_id: Option<Uuid>,
        window: u32,
    ) -> Result<Vec<FlakyTest>, Error> {
        let same_revision = sqlx::query!(
            r#"WITH per_revision AS (
                   SELECT s.target_id AS target_id, c.classname, c.name,
                          COALESCE(c.vcs_revision, r.vcs_revision, s.vcs_revision) AS revision
                   FROM session_test_cases c
                   JOIN session_test_runs r ON r.id = c.test_run_id
                   JOIN harness_sessions s ON s.id = c.session_id
                   WHERE s.target_id IS NOT NULL AND ($1::uuid IS NULL OR s.target_id = $1)
                     AND COALESCE(c.vcs_revision, r.vcs_revision, s.vcs_revision) IS NOT NULL
                   GROUP BY 1, 2, 3, 4
                   HAVING bool_or(c.status = 'passed') AND bool_or(c.status IN ('failed', 'error'))
               )
               SELECT p.target_id AS "target_id!", t.name AS "target_name?",
                      p.classname AS "classname!", p.name AS "name!",
                      array_agg(p.revision ORDER BY p.revision) AS "revisions!: Vec<String>"
               FROM per_revision p JOIN targets t ON t.id = p.target_id
               GROUP BY p.target_id, t.name, p.classname, p.name"#,
            target_id
        )
        .fetch_all(&self.pool)
        .await?;
        // Only tests with both outcomes in their window can have flipped; the window itself is
        // checked for two changes below.
        let windows = sqlx::query!(
            r#"WITH outcomes AS (
                   SELECT s.target_id AS target_id, c.classname, c.name, s.id AS session_id,
                          s.started_at, bool_or(c.status IN ('failed', 'error')) AS failed
                   FROM session_test_cases c JOIN harness_sessions s ON s.id = c.session_id
                   WHERE s.target_id IS NOT NULL AND ($1::uuid IS NULL OR s.target_id = $1)
                     AND c.status <> 'skipped'
                   GROUP BY 1, 2, 3, 4, 5
               ), windowed AS (
                   SELECT * FROM (
                       SELECT o.*, row_number() OVER (PARTITION BY target_id, classname, name
                                   ORDER BY started_at DESC, session_id DESC) AS rn
                       FROM outcomes o) ranked
                   WHERE rn <= $2
               ), mixed AS (
                   SELECT target_id, classname, name FROM windowed
                   GROUP BY 1, 2, 3 HAVING bool_or(failed) AND bool_or(NOT failed)
               )
               SELECT w.target_id AS "target_id!", t.name AS "target_name?",
                      w.classname AS "classname!", w.name AS "name!",
                      w.session_id AS "session_id!", w.started_at AS "started_at!",
                      w.failed AS "failed!"
               FROM windowed w JOIN mixed m USING (target_id, classname, name)
               JOIN targets t ON t.id = w.target_id
               ORDER BY w.target_id, w.classname, w.name, w.started_at, w.session_id"#,
            target_id,
            i64::from(window),
        )
        .fetch_all(&self.pool)
        .await?;

        let mut found = BTreeMap::new();
        for row in same_revision {
            let test = slot(
                &mut found,
                row.target_id,
                row.target_name,
                row.classname,
                row.name,
            );
            test.rules.push(FlakyRule::SameRevision);
            test.revisions = row.revisions;
        }
        // Rows come grouped per test, oldest first.
        let mut runs: BTreeMap<FlakyKey, Window> = BTreeMap::new();
        for row in windows {
            let (_, outcomes, failed) = runs
                .entry((row.target_id, row.classname, row.name))
                .or_insert_with(|| (row.target_name, vec![], vec![]));
            outcomes.push(SessionOutcome {
                session_id: row.session_id,
                started_at: row.started_at,
                outcome: if row.failed {
                    SessionTestOutcome::Failed
                } else {
                    SessionTestOutcome::Passed
                },
            });
            failed.push(row.failed);
        }
        for ((target_id, classname, name), (target_name, outcomes, failed)) in runs {
            if outcome_changes(&failed) >= 2 {
                let test = slot(&mut found, target_id, target_name, classname, name);
                test.rules.push(FlakyRule::Flip);
                test.recent_outcomes = outcomes;
            }
        }
        Ok(found.into_values().collect())
    }
}

type FlakyKey = (Uuid, String, String);
/// A test's window: target name, outcomes (oldest first), and whether each failed.
type Window = (Option<String>, Vec<SessionOutcome>, Vec<bool>);

fn slot(
    found: &mut BTreeMap<FlakyKey, FlakyTest>,
    target_id: Uuid,
    target_name: Option<String>,
    classname: String,
    name: String,
) -> &mut FlakyTest {
    found
        .entry((target_id, classname.clone(), name.clone()))
        .or_insert_with(|| FlakyTest {
            target_id,
            target_name,
            classname,
            name,
            rules: vec![],
            revisions: vec![],
            recent_outcomes: vec![],
        })
}

#[cfg(test)]
mod tests {
    use super::outcome_changes;

    #[test]
    fn two_changes_make_a_flip() {
        let (p, f) = (false, true);
        assert_eq!(outcome_changes(&[p, f, p]), 2);
        assert_eq!(outcome_changes(&[f, p, f]), 2);
        assert_eq!(outcome_changes(&[p, p, f, f, p]), 2);
        // One change is a break or a fix, not a flip.
        assert_eq!(outcome_changes(&[p, p, f, f]), 1);
        assert_eq!(outcome_changes(&[f, f, p]), 1);
        assert_eq!(outcome_changes(&[p]), 0);
        assert_eq!(outcome_changes(&[]), 0);
    }
}
