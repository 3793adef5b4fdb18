//! Per-target test gauges and the regression counter, set from
//! [`TargetTestState`](crate::store::test_analysis::TargetTestState) read after a commit (and at
//! start-up, so a restart does not blank them). The counter is idempotent: it counts a
//! regression session once, however often its state is recorded.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use uuid::Uuid;

use super::{TargetGuard, TargetLabels};
use crate::domain::RunTarget;
use crate::store::test_analysis::TargetTestState;

pub struct TestStateMetrics {
    pass_rate: Family<TargetLabels, Gauge<f64, AtomicU64>>,
    pass_rate_delta: Family<TargetLabels, Gauge<f64, AtomicU64>>,
    flaky_tests: Family<TargetLabels, Gauge>,
    regressions: Family<TargetLabels, Counter>,
    /// Per target, the regression sessions already counted (its latest ones only, so bounded).
    counted: Mutex<HashMap<Uuid, HashSet<Uuid>>>,
}

impl TestStateMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let pass_rate = Family::default();
        registry.register(
            "acd_test_pass_rate",
            "Pass rate (0-1) of the target's latest session with test results",
            pass_rate.clone(),
        );
        let pass_rate_delta = Family::default();
        registry.register(
            "acd_test_pass_rate_delta",
            "Latest minus previous session pass rate of the target (0-1 scale)",
            pass_rate_delta.clone(),
        );
        let flaky_tests = Family::default();
        registry.register(
            "acd_flaky_tests",
            "Flaky tests of the target (same_revision or flip rule)",
            flaky_tests.clone(),
        );
        let regressions = Family::default();
        registry.register(
            "acd_test_regressions",
            "Sessions whose pass rate fell more than the threshold below the previous session's",
            regressions.clone(),
        );
        Self {
            pass_rate,
            pass_rate_delta,
            flaky_tests,
            regressions,
            counted: Mutex::default(),
        }
    }

    /// Sets the gauges; with `count_new`, counts regressions not counted before, else only
    /// remembers them (start-up: they happened before this process).
    pub fn record(&self, targets: &TargetGuard, state: &TargetTestState, count_new: bool) {
        let target = RunTarget {
            id: state.target_id,
            name: state.target_name.clone(),
        };
        let labels = TargetLabels {
            target: targets.label(Some(&target)),
        };
        if let Some(rate) = state.latest_pass_rate {
            self.pass_rate.get_or_create(&labels).set(rate);
        }
        if let Some(delta) = state.pass_rate_delta {
            self.pass_rate_delta.get_or_create(&labels).set(delta);
        }
        self.flaky_tests
            .get_or_create(&labels)
            .set(i64::try_from(state.flaky_tests).unwrap_or(i64::MAX));
        let regressions = self.regressions.get_or_create(&labels);
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        let seen = counted.entry(state.target_id).or_default();
        if count_new {
            let new = state
                .recent_regressions
                .iter()
                .filter(|id| !seen.contains(id))
                .count();
            regressions.inc_by(new as u64);
        }
        // Replaced, not extended: regressions that left the latest window never come back.
        *seen = state.recent_regressions.iter().copied().collect();
    }
}
