//! The reindex queue in PostgreSQL. A job is claimed with `FOR UPDATE SKIP LOCKED`, so replicas
//! polling at once each get a different job; the partial unique index on active jobs keeps one
//! queued-or-running job per target. A running job whose worker stopped sending heartbeats
//! (its replica died) is claimed again after [`STALE_AFTER_SECONDS`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};
use crate::domain::IndexJobState;

pub const STALE_AFTER_SECONDS: f64 = 120.0;

#[derive(Debug)]
pub struct IndexJob {
    pub id: Uuid,
    pub target_id: Uuid,
    pub state: IndexJobState,
    /// Files found so far, and files finished (reused, read or failed).
    pub files_seen: i64,
    pub files_done: i64,
    pub error: Option<String>,
    /// The index this job wrote, once succeeded.
    pub index_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Queues a reindex of `target`, or returns the job already queued or running for it.
    /// The flag says whether a new job was queued.
    pub async fn enqueue_index_job(&self, target: Uuid) -> Result<(Uuid, bool), Error> {
        loop {
            let inserted = sqlx::query_scalar!(
                r#"INSERT INTO codebase_index_jobs (id, target_id) VALUES ($1, $2)
                   ON CONFLICT (target_id) WHERE state IN ('queued', 'running') DO NOTHING
                   RETURNING id"#,
                Uuid::new_v4(),
                target
            )
            .fetch_optional(self.pool())
            .await?;
            if let Some(id) = inserted {
                return Ok((id, true));
            }
            let active = sqlx::query_scalar!(
                r#"SELECT id FROM codebase_index_jobs
                   WHERE target_id = $1 AND state IN ('queued', 'running')"#,
                target
            )
            .fetch_optional(self.pool())
            .await?;
            // None: the active job finished in between; queue a new one.
            if let Some(id) = active {
                return Ok((id, false));
            }
        }
    }

    /// Claims the oldest queued job (or a stale running one) for this worker.
    pub async fn claim_index_job(&self) -> Result<Option<(Uuid, Uuid)>, Error> {
        let row = sqlx::query!(
            r#"UPDATE codebase_index_jobs SET state = 'running', started_at = NOW(),
                   heartbeat_at = NOW(), files_seen = 0, files_done = 0
               WHERE id = (SELECT id FROM codebase_index_jobs
                           WHERE state = 'queued'
                              OR (state = 'running'
                                  AND heartbeat_at < NOW() - make_interval(secs => $1))
                           ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
               RETURNING id, target_id"#,
            STALE_AFTER_SECONDS
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| (r.id, r.target_id)))
    }

    /// Progress and heartbeat of a running job.
    pub async fn index_job_progress(&self, job: Uuid, seen: u64, done: u64) -> Result<(), Error> {
        sqlx::query!(
            r#"UPDATE codebase_index_jobs SET files_seen = $2, files_done = $3,
                   heartbeat_at = NOW()
               WHERE id = $1 AND state = 'running'"#,
            job,
            seen as i64,
            done as i64
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Ends a job: succeeded with its index, or failed with a message.
    pub async fn finish_index_job(
        &self,
        job: Uuid,
        outcome: Result<Uuid, &str>,
        seen: u64,
        done: u64,
    ) -> Result<(), Error> {
        let (state, index, error) = match outcome {
            Ok(index) => (IndexJobState::Succeeded, Some(index), None),
            Err(message) => (IndexJobState::Failed, None, Some(message.to_string())),
        };
        sqlx::query!(
            r#"UPDATE codebase_index_jobs SET state = $2, index_id = $3, error = $4,
                   files_seen = $5, files_done = $6, finished_at = NOW(), heartbeat_at = NOW()
               WHERE id = $1"#,
            job,
            state.as_str(),
            index,
            error,
            seen as i64,
            done as i64
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn index_job(&self, job: Uuid) -> Result<Option<IndexJob>, Error> {
        Ok(sqlx::query_as!(
            IndexJob,
            r#"SELECT id, target_id, state AS "state: IndexJobState", files_seen, files_done, error, index_id, created_at,
                      started_at, finished_at
               FROM codebase_index_jobs WHERE id = $1"#,
            job
        )
        .fetch_optional(self.pool())
        .await?)
    }
}
