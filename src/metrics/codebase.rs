//! Codebase index metrics: per-target size gauges of the latest index this collector wrote, the
//! index duration histogram and the time of the last index. The `target` label is bounded by
//! [`TargetGuard`].

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{TargetGuard, TargetLabels};
use uuid::Uuid;

use crate::domain::RunTarget;
use crate::indexer::Summary;

pub struct CodebaseMetrics {
    targets: TargetGuard,
    files: Family<TargetLabels, Gauge>,
    lines: Family<TargetLabels, Gauge>,
    bytes: Family<TargetLabels, Gauge>,
    tokens: Family<TargetLabels, Gauge>,
    duration: Histogram,
    last_indexed: Gauge<f64, AtomicU64>,
}

impl CodebaseMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let files = Family::default();
        registry.register(
            "acd_codebase_files",
            "Text files in the target's latest index",
            files.clone(),
        );
        let lines = Family::default();
        registry.register(
            "acd_codebase_lines",
            "Lines of the text files in the target's latest index",
            lines.clone(),
        );
        let bytes = Family::default();
        registry.register(
            "acd_codebase_bytes",
            "Bytes of the text files in the target's latest index",
            bytes.clone(),
        );
        let tokens = Family::default();
        registry.register(
            "acd_codebase_index_tokens",
            "Estimated tokens (ceil(chars/4) per file) of the target's latest index",
            tokens.clone(),
        );
        // From a few files (milliseconds) to very large trees (minutes).
        let duration = Histogram::new([
            0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
        ]);
        registry.register(
            "acd_codebase_index_duration_seconds",
            "Time one codebase index took (walk, count and store)",
            duration.clone(),
        );
        let last_indexed = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "acd_codebase_last_indexed_timestamp_seconds",
            "Unix time the last codebase index finished",
            last_indexed.clone(),
        );
        Self {
            targets: TargetGuard::default(),
            files,
            lines,
            bytes,
            tokens,
            duration,
            last_indexed,
        }
    }

    /// Records a stored index of a target (named, else by id).
    pub fn record(&self, name: Option<&str>, id: Uuid, summary: &Summary, seconds: f64) {
        let target = RunTarget {
            id,
            name: name.map(str::to_string),
        };
        let labels = TargetLabels {
            target: self.targets.label(Some(&target)),
        };
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.files.get_or_create(&labels).set(gauge(summary.files));
        self.lines.get_or_create(&labels).set(gauge(summary.lines));
        self.bytes.get_or_create(&labels).set(gauge(summary.bytes));
        self.tokens
            .get_or_create(&labels)
            .set(gauge(summary.tokens));
        self.duration.observe(seconds);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.last_indexed.set(now);
    }
}
