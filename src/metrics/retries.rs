//! Retry metrics, counted from the retry records a committed batch added (so a resent batch
//! counts nothing): retries by reason and model, their outcomes, model fallbacks, back-off
//! waits, and the sessions that hit the retry limit. Model labels go through the
//! [`ModelGuard`]; a model that was not reported is `unknown`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::ModelGuard;
use crate::domain::{IngestReport, RetryRecord, SpanBatch};

const UNKNOWN_MODEL: &str = "unknown";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    pub reason: RetryReason,
    pub model: String,
}

/// The bounded retry reasons of [`crate::domain::RetryReason`], as label values.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum RetryReason {
    rate_limit,
    overloaded,
    error,
    timeout,
    model_fallback,
}

impl RetryReason {
    pub fn of(reason: crate::domain::RetryReason) -> Self {
        use crate::domain::RetryReason as R;
        match reason {
            R::RateLimit => Self::rate_limit,
            R::Overloaded => Self::overloaded,
            R::Timeout => Self::timeout,
            R::ModelFallback => Self::model_fallback,
            R::Error => Self::error,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryOutcomeLabels {
    pub outcome: RetryOutcome,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum RetryOutcome {
    /// The attempt after the retry completed.
    succeeded,
    /// The retry budget ran out.
    exhausted,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FallbackLabels {
    pub from_model: String,
    pub to_model: String,
}

pub struct RetryMetrics {
    retries: Family<RetryLabels, Counter>,
    outcomes: Family<RetryOutcomeLabels, Counter>,
    fallbacks: Family<FallbackLabels, Counter>,
    wait: Histogram,
    max_retries_hit: Counter,
}

impl RetryMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let retries = Family::default();
        registry.register(
            "acd_retries",
            "Failed model calls that were retried or gave up, by reason and original model",
            retries.clone(),
        );
        let outcomes: Family<RetryOutcomeLabels, Counter> = Family::default();
        registry.register(
            "acd_retry_outcomes",
            "Retries whose next attempt succeeded, and retries after which the budget ran out",
            outcomes.clone(),
        );
        // From 0, so the first exhausted retry shows in increase() (the retry-success alert).
        for outcome in [RetryOutcome::succeeded, RetryOutcome::exhausted] {
            outcomes
                .get_or_create(&RetryOutcomeLabels { outcome })
                .inc_by(0);
        }
        let fallbacks = Family::default();
        registry.register(
            "acd_model_fallbacks",
            "Retries that fell back to another model, by original and fallback model",
            fallbacks.clone(),
        );
        // Back-off waits run from tens of milliseconds to minutes (rate limits).
        let wait = Histogram::new([
            0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
        ]);
        registry.register(
            "acd_retry_wait_seconds",
            "Back-off wait before a retry",
            wait.clone(),
        );
        let max_retries_hit = Counter::default();
        registry.register(
            "acd_max_retries_hit",
            "Sessions that hit the retry limit (counted once per session, when it first happens)",
            max_retries_hit.clone(),
        );
        Self {
            retries,
            outcomes,
            fallbacks,
            wait,
            max_retries_hit,
        }
    }

    pub fn record(&self, models: &ModelGuard, batch: &SpanBatch, report: &IngestReport) {
        for retry in report.new_retries.iter().map(|&i| &batch.retries[i]) {
            self.record_one(models, retry);
        }
        self.max_retries_hit
            .inc_by(report.sessions_hit_max_retries as u64);
    }

    fn record_one(&self, models: &ModelGuard, retry: &RetryRecord) {
        let model = |m: Option<&str>| models.label(m.unwrap_or(UNKNOWN_MODEL));
        let labels = RetryLabels {
            reason: RetryReason::of(retry.reason),
            model: model(retry.original_model.as_deref()),
        };
        self.retries.get_or_create(&labels).inc();
        // An exhausted retry did not succeed, whatever else a source said about it.
        let outcome = if retry.exhausted {
            Some(RetryOutcome::exhausted)
        } else {
            (retry.succeeded == Some(true)).then_some(RetryOutcome::succeeded)
        };
        if let Some(outcome) = outcome {
            self.outcomes
                .get_or_create(&RetryOutcomeLabels { outcome })
                .inc();
        }
        if let Some((from, to)) = retry.fallback() {
            let labels = FallbackLabels {
                from_model: model(from),
                to_model: model(Some(to)),
            };
            self.fallbacks.get_or_create(&labels).inc();
        }
        if let Some(ms) = retry.wait_ms {
            self.wait.observe(ms.max(0) as f64 / 1000.0);
        }
    }
}
