//! The retention job inside `serve`: calls [`Store::purge_detail`] a minute after start, then
//! hourly, until shutdown. Failures are logged and retried at the next pass.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::store::Store;
use crate::store::retention::Purged;

/// Runs the passes until `stop` turns true.
pub async fn run(store: Store, days: u32, mut stop: watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = Duration::from_secs(3600);
        let before = Utc::now() - chrono::Duration::days(i64::from(days));
        match store.purge_detail(before, 10_000).await {
            Ok(Some(purged)) if purged != Purged::default() => {
                tracing::info!(?purged, %before, "retention: old turn-level detail deleted");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "retention pass failed"),
        }
    }
}
