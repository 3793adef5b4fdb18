//! Series the dashboards and alert rules need beyond the per-record counters: whether the
//! database answers (probed at each scrape, so "database unavailable" can page even when no
//! harness is sending), and completed features (the denominator of cost per feature).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::domain::{IngestReport, SpanBatch};

pub struct OpsMetrics {
    database_up: Gauge,
    features_completed: Counter,
}

impl OpsMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let database_up = Gauge::default();
        registry.register(
            "acd_database_up",
            "1 if PostgreSQL answered the probe made at the last scrape of /metrics, else 0",
            database_up.clone(),
        );
        let features_completed = Counter::default();
        registry.register(
            "acd_features_completed",
            "Features completed by finished sessions (acd.session.features_completed)",
            features_completed.clone(),
        );
        Self {
            database_up,
            features_completed,
        }
    }

    pub fn set_database_up(&self, up: bool) {
        self.database_up.set(i64::from(up));
    }

    pub fn record(&self, batch: &SpanBatch, report: &IngestReport) {
        let features: i64 = report
            .new_sessions
            .iter()
            .filter_map(|&i| batch.sessions[i].features_completed)
            .map(|n| i64::from(n.max(0)))
            .sum();
        self.features_completed.inc_by(features as u64);
    }
}
