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
use super::{Accepted, Error, Receiver};
use crate::spool::{self, Kind, Spool};

/// How often replay retries a database that was down, without being woken.
const REPLAY_POLL: Duration = Duration::from_secs(2);

impl Receiver {
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
                self.service
                    .metrics
                    .record_spooled(spool.len(), spool.used_bytes());
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
    /// (checked between requests, so the one in flight finishes). What a request holds that the
    /// database refuses stays in `failed/` with the reason, and the rest is stored; a request
    /// that keeps failing as if the database were down while it answers is moved to `failed/`
    /// after [`MAX_STRIKES`] tries, so it never holds up the requests behind it.
    async fn replay_pending(
        &self,
        spool: &Spool,
        stop: &watch::Receiver<bool>,
        strikes: &mut Strikes,
    ) {
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
                    Ok(accepted) if accepted.details.is_empty() => spool.remove(&entry),
                    Ok(accepted) => {
                        tracing::warn!(records = accepted.details.len(), file = %entry.path.display(),
                            "records of a spooled request cannot be stored; kept in failed/");
                        self.service
                            .metrics
                            .reliability
                            .spool_records_failed(accepted.details.len());
                        spool.remove_keeping_refused(&entry, &accepted.details)
                    }
                    Err(Error::Unavailable(reason)) => {
                        if !strikes.tried(&entry, self.service.store.ping().await.is_ok()) {
                            return;
                        }
                        self.quarantine(
                            spool,
                            &entry,
                            &format!(
                                "failed {MAX_STRIKES} times while the database was up: {reason}"
                            ),
                        )
                    }
                    Err(err) => self.quarantine(spool, &entry, &err.to_string()),
                };
                if let Err(err) = done {
                    tracing::error!(error = %err, "spool bookkeeping failed");
                    return;
                }
                self.service
                    .metrics
                    .record_spooled(spool.len(), spool.used_bytes());
            }
        }
    }

    fn quarantine(
        &self,
        spool: &Spool,
        entry: &spool::Entry,
        reason: &str,
    ) -> Result<(), spool::Error> {
        tracing::error!(%reason, file = %entry.path.display(),
            "spooled request cannot be stored; moved to failed/");
        self.service.metrics.reliability.spool_request_failed();
        spool.quarantine(entry, reason).map(|_| ())
    }
}

/// How often a spooled request may fail as if the database were down while the database answers
/// a ping, before it is taken for a request that can never be stored.
const MAX_STRIKES: u32 = 3;

/// Failed tries of the request at the head of the spool, while the database was up.
#[derive(Default)]
struct Strikes {
    sequence: u64,
    count: u32,
}

impl Strikes {
    /// Counts a transient failure of `entry`; true when it has failed too often with the
    /// database up and must be moved aside. A failure while the database is down never counts.
    fn tried(&mut self, entry: &spool::Entry, database_up: bool) -> bool {
        if !database_up {
            return false;
        }
        if self.sequence != entry.sequence {
            *self = Strikes {
                sequence: entry.sequence,
                count: 0,
            };
        }
        self.count += 1;
        self.count >= MAX_STRIKES
    }
}

/// The replay task, run inside `serve` until shutdown.
pub async fn replay(receiver: Receiver, spool: Arc<Spool>, mut stop: watch::Receiver<bool>) {
    if !spool.is_empty() {
        tracing::info!(
            requests = spool.len(),
            bytes = spool.used_bytes(),
            "replaying the spool"
        );
    }
    let mut strikes = Strikes::default();
    loop {
        receiver.replay_pending(&spool, &stop, &mut strikes).await;
        let woken = receiver.replay_wake.notified();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = woken => {}
            _ = tokio::time::sleep(REPLAY_POLL) => {}
        }
    }
}
