//! The ingest service: the one way a batch of records enters the database. It commits a batch
//! (what PostgreSQL refuses is isolated record by record, see [`crate::store::Stored`]), then
//! counts what was new in [`crate::metrics`] and refreshes the test gauges of the targets whose
//! history changed. The OTLP receivers, the REST uploads and the command line all call it, so a
//! span, a stream-json run and a JUnit report are stored and counted alike.

mod claude_run;
mod test_report;

use std::sync::Arc;

pub use claude_run::IngestSummary;
pub use test_report::StoredReport;

use crate::config::TestAnalysis;
use crate::domain::{IngestReport, Rejection, SpanBatch};
use crate::metric_points::{MetricBatch, PointRejection};
use crate::metrics::Metrics;
use crate::pricing::PriceTable;
use crate::store::Store;

/// What every caller of the service shares; cheap to clone.
#[derive(Clone)]
pub struct IngestService {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub prices: Arc<PriceTable>,
    /// Rules of the test gauges refreshed after a batch with test runs commits.
    pub test_analysis: TestAnalysis,
}

/// A committed batch: what was new, and every refused record with its reason and content.
#[derive(Debug)]
pub struct Committed {
    pub report: IngestReport,
    /// One line per refused record (`record` names its kind: "span", "event").
    pub details: Vec<String>,
}

impl IngestService {
    /// Stores `batch` and counts it. Records the database refused are added to
    /// `batch.rejected`, so the caller can answer them (OTLP partial success, REST `rejected`).
    pub async fn commit(
        &self,
        batch: &mut SpanBatch,
        record: &str,
    ) -> Result<Committed, crate::store::Error> {
        batch.channel.get_or_insert_with(|| record.to_string());
        let stored = self.store.write_spans_isolated(batch).await?;
        let mut details: Vec<String> = batch
            .rejected
            .iter()
            .map(|r| format!("{record} {:?}: {}", r.span_name, r.reason))
            .collect();
        for refused in &stored.refused {
            let name = batch.describe(refused.record);
            details.push(format!(
                "{record} ({name}): {}; record: {}",
                refused.reason,
                batch.detail(refused.record)
            ));
            batch.rejected.push(Rejection {
                span_name: name,
                reason: refused.reason.clone(),
            });
        }
        // Conflicts are answered like refusals, naming the record; their content is the
        // sender's, so it is not repeated back.
        for conflict in &stored.report.conflicts {
            let name = batch.describe(conflict.record);
            details.push(format!("{record} ({name}): {}", conflict.reason));
            batch.rejected.push(Rejection {
                span_name: name,
                reason: conflict.reason.clone(),
            });
        }
        self.after_commit(batch, &stored.report).await;
        Ok(Committed {
            report: stored.report,
            details,
        })
    }

    /// Stores Claude Code's metric points and counts them; refused points are added to
    /// `batch.rejected`. Returns one line per refused point.
    pub async fn commit_metric_points(
        &self,
        batch: &mut MetricBatch,
    ) -> Result<Vec<String>, crate::store::Error> {
        let (report, refused) = self.store.write_metric_points_isolated(batch).await?;
        let mut details: Vec<String> = batch.rejected.iter().map(point_message).collect();
        for (i, reason) in refused {
            let point = &batch.points[i];
            details.push(format!(
                "data point of {:?}: {reason}; point: {point:?}",
                point.metric
            ));
            batch.rejected.push(PointRejection {
                metric: point.metric.clone(),
                reason,
            });
        }
        self.metrics.record_metric_points(batch, &report);
        Ok(details)
    }

    /// Sets every target's test gauges from the database (at start-up), without counting past
    /// regressions.
    pub async fn restore_test_gauges(&self) -> Result<(), crate::store::Error> {
        for state in self
            .store
            .all_target_test_states(&self.test_analysis)
            .await?
        {
            self.metrics.restore_test_state(&state);
        }
        Ok(())
    }

    /// Refreshes the test gauges of `targets` from the database and counts their new
    /// regressions (a regression already counted is not counted again).
    pub async fn refresh_test_gauges(
        &self,
        targets: impl IntoIterator<Item = uuid::Uuid>,
    ) -> Result<(), crate::store::Error> {
        for target_id in targets {
            let state = self
                .store
                .target_test_state(target_id, &self.test_analysis)
                .await?;
            self.metrics.record_test_state(&state);
        }
        Ok(())
    }

    /// Counts what was new, then refreshes the test gauges of the targets whose test history
    /// changed. The data is durable already, so a failed refresh is logged, not returned: the
    /// next batch of that target refreshes again.
    async fn after_commit(&self, batch: &SpanBatch, report: &IngestReport) {
        self.metrics.record_spans(batch, report);
        let targets = report.touched_test_targets();
        if targets.is_empty() {
            return;
        }
        if let Err(err) = self.refresh_test_gauges(targets).await {
            tracing::warn!(error = %err, "test gauges not refreshed");
        }
    }
}

/// How a refused metric point is named in answers.
pub fn point_message(r: &PointRejection) -> String {
    format!("data point of {:?}: {}", r.metric, r.reason)
}
