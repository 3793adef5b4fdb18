//! The acknowledgement rule, for both transports: a request is answered with success only once
//! it is durable, in PostgreSQL or in the local [`crate::spool`]. The database is tried first;
//! if it is unreachable the request is spooled (fsync'd) and acknowledged. While older requests
//! wait in the spool, newer ones queue behind them so that replay keeps the arrival order. The
//! replay task feeds spooled requests through the same map → store → count path, oldest first,
//! and deletes each only after its commit.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::sync::watch;

use super::logs::LogsSignal;
use super::metrics::MetricsSignal;
use super::signal::Signal;
use super::traces::TracesSignal;
use super::{Accepted, Error, Ingest};
use crate::spool::{self, Kind, Spool};

/// How often replay retries a database that was down, without being woken.
const REPLAY_POLL: Duration = Duration::from_secs(2);

impl Ingest {
    /// Sanitise, then store or spool; see the module documentation.
    pub(super) async fn accept<S: Signal>(
        &self,
        mut request: S::Request,
    ) -> Result<Accepted, Error> {
        S::sanitize(&mut request);
        let Some(spool) = self.spool.as_deref() else {
            return S::export(self, &request).await;
        };
        if !spool.is_empty() {
            return self.spool_request::<S>(spool, &request).await;
        }
        match S::export(self, &request).await {
            Err(Error::Unavailable(reason)) => {
                tracing::warn!(%reason, "database unavailable; spooling the request");
                self.spool_request::<S>(spool, &request).await
            }
            other => other,
        }
    }

    async fn spool_request<S: Signal>(
        &self,
        spool: &Spool,
        request: &S::Request,
    ) -> Result<Accepted, Error> {
        match spool.append(S::SPOOL_KIND, request.encode_to_vec()).await {
            Ok(()) => {
                self.metrics.record_spooled(spool.len(), spool.used_bytes());
                self.replay_wake.notify_one();
                // Rejected records are counted when the request is replayed.
                Ok(Accepted::default())
            }
            Err(err @ spool::Error::Full { .. }) => {
                Err(self.failed(Error::Overloaded(err.to_string())))
            }
            Err(err) => Err(self.failed(Error::Unavailable(err.to_string()))),
        }
    }

    async fn replay_one<S: Signal>(&self, bytes: &[u8]) -> Result<Accepted, Error> {
        let request = S::Request::decode(bytes).map_err(|e| Error::Decode {
            format: "spooled protobuf",
            message: e.to_string(),
        })?;
        S::export(self, &request).await
    }

    /// Replays until the spool is empty, the database is down again, or shutdown is asked for
    /// (checked between requests, so the one in flight finishes).
    async fn replay_pending(&self, spool: &Spool, stop: &watch::Receiver<bool>) {
        loop {
            let pending = match spool.pending() {
                Ok(pending) => pending,
                Err(err) => {
                    tracing::error!(error = %err, "cannot list the spool");
                    return;
                }
            };
            if pending.is_empty() {
                return;
            }
            for entry in pending {
                if *stop.borrow() {
                    return;
                }
                let result = match spool.read(&entry) {
                    Ok((Kind::Traces, bytes)) => self.replay_one::<TracesSignal>(&bytes).await,
                    Ok((Kind::Logs, bytes)) => self.replay_one::<LogsSignal>(&bytes).await,
                    Ok((Kind::Metrics, bytes)) => self.replay_one::<MetricsSignal>(&bytes).await,
                    Err(err) => Err(Error::Internal(err.to_string())),
                };
                let done = match result {
                    Ok(_) => spool.remove(&entry),
                    Err(Error::Unavailable(_)) => return,
                    Err(err) => {
                        tracing::error!(error = %err, file = %entry.path.display(),
                            "spooled request cannot be stored; moved to failed/");
                        spool.quarantine(&entry).map(|_| ())
                    }
                };
                if let Err(err) = done {
                    tracing::error!(error = %err, "spool bookkeeping failed");
                    return;
                }
                self.metrics.record_spooled(spool.len(), spool.used_bytes());
            }
        }
    }
}

/// The replay task, run inside `serve` until shutdown.
pub async fn replay(
    ingest: Ingest,
    spool: Arc<Spool>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    if !spool.is_empty() {
        tracing::info!(
            requests = spool.len(),
            bytes = spool.used_bytes(),
            "replaying the spool"
        );
    }
    loop {
        ingest.replay_pending(&spool, &stop).await;
        let woken = ingest.replay_wake.notified();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(()),
            _ = woken => {}
            _ = tokio::time::sleep(REPLAY_POLL) => {}
        }
    }
}
