//! The idle-session job inside `serve`: closes span-less sessions that went quiet
//! ([`Store::close_idle_sessions`]), every quarter of the idle time (at most a minute), until
//! shutdown. Failures are logged and retried at the next pass.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::Store;

/// Runs the passes until `stop` turns true.
pub async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let every = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(every) => {}
        }
        match store.close_idle_sessions(idle).await {
            Ok(closed) => {
                metrics.record_closed_sessions(closed.completed, closed.abandoned);
                if closed.completed + closed.abandoned > 0 {
                    tracing::info!(?closed, "idle sessions closed");
                }
            }
            Err(err) => tracing::warn!(error = %err, "idle-session pass failed"),
        }
    }
}
