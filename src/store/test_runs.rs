//! Test runs and their cases (`session_test_runs`, `session_test_cases`), written by the one
//! ingest path (`super::write`) for spans and uploaded reports alike, and the session figures
//! derived from them. The rule for `harness_sessions`: `tests_run`, `tests_passed` and
//! `tests_failed` (failed + errors) are sums over all runs of the session, and
//! `test_pass_rate = passed / (total − skipped)`, NULL when nothing ran, clamped to [0, 1] when a
//! producer's counts do not add up.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store, Tx};
use crate::domain::{
    ID_NAMESPACE, IngestReport, RunTarget, SpanBatch, TestRunRecord, TestRunSource,
};

/// `session_test_runs.test_suite` is VARCHAR(255).
const MAX_SUITE_CHARS: usize = 255;

fn int(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

/// Inserts the new runs (with the session each resolved to) and their cases.
pub async fn insert(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
    sessions: &[Option<Uuid>],
) -> Result<(), Error> {
    let runs: Vec<(&TestRunRecord, Option<Uuid>)> = report
        .new_test_runs
        .iter()
        .map(|&i| (&batch.test_runs[i], sessions[i]))
        .collect();
    if runs.is_empty() {
        return Ok(());
    }
    let col = |f: &dyn Fn(&TestRunRecord) -> i64| -> Vec<i32> {
        runs.iter().map(|(r, _)| int(f(r))).collect()
    };
    let totals = col(&|r| r.counts.total);
    let passed = col(&|r| r.counts.passed);
    let failed = col(&|r| r.counts.failed);
    let skipped = col(&|r| r.counts.skipped);
    let errors = col(&|r| r.counts.errors);
    sqlx::query!(
        r#"INSERT INTO session_test_runs (id, session_id, test_suite, total_tests, passed, failed,
               skipped, errors, duration_ms, failure_reasons, trace_id, span_id, content_sha256,
               source, vcs_revision, started_at, warnings)
           SELECT r.id, r.session_id, r.suite, r.total, r.passed, r.failed, r.skipped, r.errors,
                  r.duration_ms, r.reasons, r.trace_id, r.span_id, r.sha, r.source,
                  COALESCE(r.revision, s.vcs_revision), r.started_at, r.warnings
           FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::int[], $6::int[],
               $7::int[], $8::int[], $9::int[], $10::jsonb[], $11::bytea[], $12::bytea[],
               $13::bytea[], $14::text[], $15::text[], $16::timestamptz[], $17::jsonb[])
             AS r(id, session_id, suite, total, passed, failed, skipped, errors, duration_ms,
                  reasons, trace_id, span_id, sha, source, revision, started_at, warnings)
           LEFT JOIN harness_sessions s ON s.id = r.session_id"#,
        &runs.iter().map(|(r, _)| r.key.row_id()).collect::<Vec<_>>(),
        &runs.iter().map(|(_, s)| *s).collect::<Vec<_>>() as &[Option<Uuid>],
        &runs
            .iter()
            .map(|(r, _)| r
                .suite
                .as_ref()
                .map(|s| s.chars().take(MAX_SUITE_CHARS).collect::<String>()))
            .collect::<Vec<_>>() as &[Option<String>],
        &totals,
        &passed,
        &failed,
        &skipped,
        &errors,
        &runs
            .iter()
            .map(|(r, _)| r.duration_ms.map(int))
            .collect::<Vec<_>>() as &[Option<i32>],
        &runs
            .iter()
            .map(|(r, _)| r.failure_reasons.clone())
            .collect::<Vec<_>>(),
        &runs
            .iter()
            .map(|(r, _)| r.key.trace_id.clone())
            .collect::<Vec<_>>(),
        &runs
            .iter()
            .map(|(r, _)| r.key.span_id.clone())
            .collect::<Vec<_>>(),
        &runs
            .iter()
            .map(|(r, _)| r.content_sha256.clone())
            .collect::<Vec<_>>() as &[Option<Vec<u8>>],
        &runs
            .iter()
            .map(|(r, _)| r.source.as_str().to_string())
            .collect::<Vec<_>>(),
        &runs
            .iter()
            .map(|(r, _)| r.vcs_revision.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &runs.iter().map(|(r, _)| r.started_at).collect::<Vec<_>>(),
        &runs
            .iter()
            .map(|(r, _)| serde_json::json!(r.warnings))
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    insert_cases(tx, &runs).await
}

async fn insert_cases(
    tx: &mut Tx<'_>,
    runs: &[(&TestRunRecord, Option<Uuid>)],
) -> Result<(), Error> {
    let (mut ids, mut run_ids, mut sessions, mut ordinals) = (vec![], vec![], vec![], vec![]);
    let (mut classnames, mut names, mut statuses, mut durations) = (vec![], vec![], vec![], vec![]);
    let (mut types, mut messages, mut ran_at) = (vec![], vec![], vec![]);
    for (run, session) in runs {
        let run_id = run.key.row_id();
        for (ordinal, case) in run.cases.iter().enumerate() {
            let mut name = run_id.as_bytes().to_vec();
            name.extend_from_slice(format!("case:{ordinal}").as_bytes());
            ids.push(Uuid::new_v5(&ID_NAMESPACE, &name));
            run_ids.push(run_id);
            sessions.push(*session);
            ordinals.push(int(ordinal as i64));
            classnames.push(case.classname.clone());
            names.push(case.name.clone());
            statuses.push(case.status.as_str().to_string());
            durations.push(case.duration_ms.map(int));
            types.push(case.failure_type.clone());
            messages.push(case.failure_message.clone());
            ran_at.push(run.started_at);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    // The revision is the run's as stored (its own, else its session's).
    sqlx::query!(
        r#"INSERT INTO session_test_cases (id, test_run_id, session_id, ordinal, classname, name,
               status, duration_ms, failure_type, failure_message, vcs_revision, ran_at)
           SELECT c.id, c.run_id, c.session_id, c.ordinal, c.classname, c.name, c.status,
                  c.duration_ms, c.failure_type, c.failure_message, r.vcs_revision, c.ran_at
           FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[],
               $7::text[], $8::int[], $9::text[], $10::text[], $11::timestamptz[])
             AS c(id, run_id, session_id, ordinal, classname, name, status, duration_ms,
                  failure_type, failure_message, ran_at)
           JOIN session_test_runs r ON r.id = c.run_id"#,
        &ids,
        &run_ids,
        &sessions as &[Option<Uuid>],
        &ordinals,
        &classnames,
        &names,
        &statuses,
        &durations as &[Option<i32>],
        &types as &[Option<String>],
        &messages as &[Option<String>],
        &ran_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives stored runs (and their cases) of these traces that had no session their session now;
/// returns the sessions that gained runs.
pub async fn attach_orphans(
    tx: &mut Tx<'_>,
    traces: &HashMap<Vec<u8>, Uuid>,
) -> Result<Vec<Uuid>, Error> {
    let (trace_ids, session_ids): (Vec<Vec<u8>>, Vec<Uuid>) =
        traces.iter().map(|(t, s)| (t.clone(), *s)).unzip();
    let attached = sqlx::query!(
        r#"UPDATE session_test_runs r SET session_id = m.session_id
           FROM UNNEST($1::bytea[], $2::uuid[]) AS m(trace_id, session_id)
           WHERE r.trace_id = m.trace_id AND r.session_id IS NULL
             -- Only the session owner's runs (see store/write/ownership.rs).
             AND NOT EXISTS (SELECT 1 FROM otlp_spans o JOIN harness_sessions h ON h.id = m.session_id
                             WHERE o.trace_id = r.trace_id AND o.span_id = r.span_id
                               AND o.producer <> h.producer)
           RETURNING r.id, r.session_id AS "session_id!""#,
        &trace_ids,
        &session_ids,
    )
    .fetch_all(&mut **tx)
    .await?;
    if attached.is_empty() {
        return Ok(vec![]);
    }
    let (run_ids, sessions): (Vec<Uuid>, Vec<Uuid>) =
        attached.iter().map(|r| (r.id, r.session_id)).unzip();
    sqlx::query!(
        r#"UPDATE session_test_cases c SET session_id = m.session_id
           FROM UNNEST($1::uuid[], $2::uuid[]) AS m(run_id, session_id)
           WHERE c.test_run_id = m.run_id"#,
        &run_ids,
        &sessions,
    )
    .execute(&mut **tx)
    .await?;
    Ok(sessions)
}

/// Recomputes the sessions' test columns from all their runs (see the module doc for the rule).
pub async fn recompute(tx: &mut Tx<'_>, sessions: &[Uuid]) -> Result<(), Error> {
    if sessions.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"UPDATE harness_sessions s SET
               tests_run = LEAST(a.total, 2147483647)::int,
               tests_passed = LEAST(a.passed, 2147483647)::int,
               tests_failed = LEAST(a.failed, 2147483647)::int,
               test_pass_rate = CASE WHEN a.total - a.skipped > 0
                   THEN GREATEST(0, LEAST(1, round(a.passed::numeric / (a.total - a.skipped), 4)))
                   END,
               updated_at = NOW()
           FROM (SELECT session_id,
                        sum(COALESCE(total_tests, 0))::bigint AS total,
                        sum(COALESCE(passed, 0))::bigint AS passed,
                        sum(COALESCE(failed, 0) + errors)::bigint AS failed,
                        sum(COALESCE(skipped, 0))::bigint AS skipped
                 FROM session_test_runs WHERE session_id = ANY($1)
                 GROUP BY session_id) a
           WHERE s.id = a.session_id"#,
        sessions
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The target of each session (sessions without one are left out).
pub async fn targets(
    tx: &mut Tx<'_>,
    sessions: &[Uuid],
) -> Result<HashMap<Uuid, RunTarget>, Error> {
    let unique: Vec<Uuid> = sessions
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if unique.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"SELECT s.id, s.target_id AS "target_id!", t.name AS "name?"
           FROM harness_sessions s JOIN targets t ON t.id = s.target_id
           WHERE s.id = ANY($1)"#,
        &unique
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                RunTarget {
                    id: r.target_id,
                    name: r.name,
                },
            )
        })
        .collect())
}

/// A stored test run, as the REST API shows it.
#[derive(Debug)]
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
    pub failure_reasons: Option<serde_json::Value>,
    /// Problems in the input that did not stop it from being stored.
    pub warnings: serde_json::Value,
    /// Test-case rows stored for the run.
    pub cases: i64,
}

impl Store {
    pub async fn test_run(&self, id: Uuid) -> Result<Option<StoredTestRun>, Error> {
        Ok(sqlx::query_as!(
            StoredTestRun,
            r#"SELECT r.id, r.session_id, r.test_suite AS suite, r.source AS "source: TestRunSource",
                      COALESCE(r.total_tests, 0) AS "total!", COALESCE(r.passed, 0) AS "passed!",
                      COALESCE(r.failed, 0) AS "failed!", r.errors,
                      COALESCE(r.skipped, 0) AS "skipped!", r.duration_ms, r.started_at,
                      r.vcs_revision, encode(r.content_sha256, 'hex') AS content_sha256,
                      r.failure_reasons, r.warnings,
                      (SELECT count(*) FROM session_test_cases c
                       WHERE c.test_run_id = r.id) AS "cases!"
               FROM session_test_runs r WHERE r.id = $1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Whether a session exists (test reports are only accepted for known sessions).
    pub async fn session_exists(&self, id: Uuid) -> Result<bool, Error> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM harness_sessions WHERE id = $1) AS "e!""#,
            id
        )
        .fetch_one(&self.pool)
        .await?)
    }
}
