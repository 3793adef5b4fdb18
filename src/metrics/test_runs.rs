//! Test-run metrics: `acd_tests_total{target,result}` (tests of new runs by result, from the
//! runs' counts) and `acd_test_run_duration_seconds`. Only runs new to the store are counted,
//! so a re-sent span or report adds nothing. The `target` label is bounded by [`TargetGuard`];
//! a run whose session has no target yet is counted under `none`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::labels::{TargetGuard, TestLabels, TestResult};
use crate::domain::{IngestReport, SpanBatch};

pub struct TestRunMetrics {
    /// Shared with the test gauges ([`super::test_state`]), so both agree on labels.
    pub(super) targets: TargetGuard,
    tests: Family<TestLabels, Counter>,
    duration: Histogram,
}

impl TestRunMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let tests = Family::default();
        registry.register(
            "acd_tests",
            "Tests of stored test runs by target and result (failed excludes error)",
            tests.clone(),
        );
        // Test suites take from under a second to an hour.
        let duration = Histogram::new([
            0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
        ]);
        registry.register(
            "acd_test_run_duration_seconds",
            "Duration of stored test runs",
            duration.clone(),
        );
        Self {
            targets: TargetGuard::default(),
            tests,
            duration,
        }
    }

    pub fn record(&self, batch: &SpanBatch, report: &IngestReport) {
        for (n, &i) in report.new_test_runs.iter().enumerate() {
            let run = &batch.test_runs[i];
            let target = self
                .targets
                .label(report.test_run_targets.get(n).and_then(Option::as_ref));
            for (result, count) in [
                (TestResult::passed, run.counts.passed),
                (TestResult::failed, run.counts.failed),
                (TestResult::error, run.counts.errors),
                (TestResult::skipped, run.counts.skipped),
            ] {
                let labels = TestLabels {
                    target: target.clone(),
                    result,
                };
                self.tests
                    .get_or_create(&labels)
                    .inc_by(count.max(0) as u64);
            }
            if let Some(ms) = run.duration_ms {
                self.duration.observe(ms.max(0) as f64 / 1000.0);
            }
        }
    }
}
