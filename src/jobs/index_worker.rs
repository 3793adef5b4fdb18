//! The reindex worker that runs inside `serve`: it claims queued jobs from PostgreSQL (so several
//! replicas share the queue without indexing a target twice), walks the target's registered root
//! on a blocking thread, writes progress and a heartbeat a few times a second, stores the result
//! and updates the metrics. A failed job records its error; the worker goes on with the next.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::indexer::{self, IndexRun, Progress, default_threads, index_tree};
use crate::metrics::Metrics;
use crate::store::Store;

/// How often the queue is polled when nobody rings (other replicas' jobs, stale jobs).
const POLL: Duration = Duration::from_secs(2);
/// How often a running job's progress is written.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What the worker needs; `wake` is rung by the API when it queues a job.
#[derive(Clone)]
pub struct Worker {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub wake: Arc<Notify>,
}

impl Worker {
    /// Runs until `stop` turns true. A job cut off by shutdown stays `running` and is claimed
    /// again once its heartbeat is stale.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            loop {
                if *stop.borrow() {
                    return;
                }
                match self.store.claim_index_job().await {
                    Ok(Some((job, target))) => {
                        tokio::select! {
                            _ = self.run_job(job, target) => {}
                            _ = stop.wait_for(|s| *s) => return,
                        }
                    }
                    Ok(None) => break,
                    Err(err) => {
                        tracing::warn!("claiming an index job failed: {err}");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    async fn run_job(&self, job: Uuid, target: Uuid) {
        let progress = Arc::new(Progress::default());
        let outcome = self.index(job, target, &progress).await;
        let (seen, done) = progress.snapshot();
        if let Err(message) = &outcome {
            tracing::warn!(%job, %target, "index job failed: {message}");
        }
        let message = outcome.as_ref().err().map(ToString::to_string);
        let outcome = outcome
            .as_ref()
            .ok()
            .copied()
            .ok_or(message.as_deref().unwrap_or(""));
        if let Err(err) = self.store.finish_index_job(job, outcome, seen, done).await {
            tracing::warn!(%job, "recording the end of an index job failed: {err}");
        }
    }

    async fn index(
        &self,
        job: Uuid,
        target: Uuid,
        progress: &Arc<Progress>,
    ) -> Result<Uuid, JobError> {
        let started = Instant::now();
        let row = self
            .store
            .target(target)
            .await?
            .ok_or(JobError::TargetDeleted)?;
        let root = row.root_path.clone().ok_or(JobError::NoRoot)?;
        let previous = self.store.previous_files(target).await?;
        let walk = {
            let progress = progress.clone();
            tokio::task::spawn_blocking(move || {
                index_tree(Path::new(&root), &previous, default_threads(), &progress)
            })
        };
        let run = self.with_progress(job, progress, walk).await?;
        let index = self.store.save_index(target, &run).await?;
        self.metrics.codebase.record(
            row.name.as_deref(),
            target,
            &run.summary,
            started.elapsed().as_secs_f64(),
        );
        Ok(index)
    }

    /// Waits for the walk, writing progress meanwhile.
    async fn with_progress(
        &self,
        job: Uuid,
        progress: &Progress,
        mut walk: tokio::task::JoinHandle<Result<IndexRun, indexer::Error>>,
    ) -> Result<IndexRun, JobError> {
        let mut ticks = tokio::time::interval(PROGRESS_EVERY);
        loop {
            tokio::select! {
                result = &mut walk => {
                    return match result {
                        Ok(Ok(run)) => Ok(run),
                        Ok(Err(err)) => Err(JobError::Index(err)),
                        Err(err) => Err(JobError::Stopped(err)),
                    };
                }
                _ = ticks.tick() => {
                    let (seen, done) = progress.snapshot();
                    if let Err(err) = self.store.index_job_progress(job, seen, done).await {
                        tracing::warn!(%job, "writing index progress failed: {err}");
                    }
                }
            }
        }
    }
}

/// Why an index job failed; its text is stored as the job's `error`.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the target was deleted")]
    TargetDeleted,
    #[error("the target has no registered root; register it with POST /api/db/targets")]
    NoRoot,
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Index(indexer::Error),
    #[error("the indexer stopped: {0}")]
    Stopped(tokio::task::JoinError),
}
