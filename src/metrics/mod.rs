//! Every Prometheus metric the collector exports, declared in one place with typed, bounded label
//! sets. Ingest calls [`Metrics::record_spans`] after its transaction commits, with only the
//! spans that were new, so a retried batch is counted once.

pub mod claude_code;
pub mod codebase;
pub mod context;
mod labels;
pub mod ops;
pub mod reliability;
pub mod retries;
pub mod test_runs;
pub mod test_state;

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use labels::{
    CallKindLabel, ModelCallLabels, ModelGuard, ModelLabels, RequestFailure, RequestFailureLabels,
    SessionLabels, SessionStatusLabel, SpanOutcome, SpanOutcomeLabels, TargetGuard, TargetLabels,
    TestLabels, TestResult, TokenLabels, TokenType,
};

use crate::domain::{IngestReport, SessionStatus, SpanBatch};
use crate::metric_points::{MetricBatch, MetricReport};
use crate::store::test_analysis::TargetTestState;

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    models: ModelGuard,
    tokens: Family<TokenLabels, Counter>,
    cost_usd: Family<ModelLabels, Counter<f64, AtomicU64>>,
    model_requests: Family<ModelCallLabels, Counter>,
    unpriced_requests: Family<ModelLabels, Counter>,
    turn_duration: HistogramFamily<ModelLabels>,
    time_to_first_token: HistogramFamily<ModelLabels>,
    sessions: Family<SessionLabels, Counter>,
    retries: retries::RetryMetrics,
    session_wall_clock: Histogram,
    spans_received: Family<SpanOutcomeLabels, Counter>,
    request_failures: Family<RequestFailureLabels, Counter>,
    claude_code: claude_code::ClaudeCodeMetrics,
    context: context::ContextMetrics,
    pub codebase: codebase::CodebaseMetrics,
    test_runs: test_runs::TestRunMetrics,
    test_state: test_state::TestStateMetrics,
    pub reliability: reliability::ReliabilityMetrics,
    ops: ops::OpsMetrics,
}

/// Turn latency buckets: model calls take from a fraction of a second to minutes.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

fn ttft_histogram() -> Histogram {
    Histogram::new([0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let tokens = Family::default();
        registry.register(
            "acd_tokens",
            "Tokens by model and type (input = uncached input)",
            tokens.clone(),
        );
        let cost_usd = Family::default();
        registry.register(
            "acd_cost_usd",
            "Cost in USD computed from the price table",
            cost_usd.clone(),
        );
        let model_requests = Family::default();
        registry.register(
            "acd_model_requests",
            "Model calls by model and kind (main = turns; side and subagent calls apart)",
            model_requests.clone(),
        );
        let unpriced_requests = Family::default();
        registry.register(
            "acd_unpriced_model_requests",
            "Model calls whose model is not in the price table (their cost counts as 0)",
            unpriced_requests.clone(),
        );
        let turn_duration: HistogramFamily<ModelLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "acd_turn_duration_seconds",
            "Duration of one model call",
            turn_duration.clone(),
        );
        let time_to_first_token: HistogramFamily<ModelLabels> =
            Family::new_with_constructor(ttft_histogram as fn() -> Histogram);
        registry.register(
            "acd_time_to_first_token_seconds",
            "Time from request to the first streamed token",
            time_to_first_token.clone(),
        );
        let sessions: Family<SessionLabels, Counter> = Family::default();
        registry.register(
            "acd_sessions",
            "Finished sessions by status",
            sessions.clone(),
        );
        let retries = retries::RetryMetrics::register(&mut registry);
        let session_wall_clock = Histogram::new([
            10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0,
        ]);
        registry.register(
            "acd_session_wall_clock_seconds",
            "Wall-clock duration of finished sessions",
            session_wall_clock.clone(),
        );
        let spans_received = Family::default();
        registry.register(
            "acd_otlp_spans_received",
            "OTLP records received (spans, acd.retry span events, Claude Code log events), by outcome",
            spans_received.clone(),
        );
        let request_failures: Family<RequestFailureLabels, Counter> = Family::default();
        registry.register(
            "acd_otlp_request_failures",
            "OTLP export requests answered with an error, by reason",
            request_failures.clone(),
        );
        // Series that alert rules take increase() of exist from the start at 0: a series born
        // at 1 would hide its first event from increase() and rate().
        for reason in [
            RequestFailure::unavailable,
            RequestFailure::invalid,
            RequestFailure::too_large,
            RequestFailure::overloaded,
            RequestFailure::internal,
        ] {
            request_failures
                .get_or_create(&RequestFailureLabels { reason })
                .inc_by(0);
        }
        for status in [
            SessionStatusLabel::completed,
            SessionStatusLabel::failed,
            SessionStatusLabel::abandoned,
        ] {
            sessions.get_or_create(&SessionLabels { status }).inc_by(0);
        }
        let claude_code = claude_code::ClaudeCodeMetrics::register(&mut registry);
        let codebase = codebase::CodebaseMetrics::register(&mut registry);
        let context = context::ContextMetrics::register(&mut registry);
        let test_runs = test_runs::TestRunMetrics::register(&mut registry);
        let test_state = test_state::TestStateMetrics::register(&mut registry);
        let reliability = reliability::ReliabilityMetrics::register(&mut registry);
        let ops = ops::OpsMetrics::register(&mut registry);
        Self {
            registry,
            models: ModelGuard::default(),
            tokens,
            cost_usd,
            model_requests,
            unpriced_requests,
            turn_duration,
            time_to_first_token,
            sessions,
            retries,
            session_wall_clock,
            spans_received,
            request_failures,
            claude_code,
            context,
            codebase,
            test_runs,
            test_state,
            reliability,
            ops,
        }
    }

    /// Counts what a committed batch added. `report` says which records were new.
    pub fn record_spans(&self, batch: &SpanBatch, report: &IngestReport) {
        let outcome = |outcome, n: usize| {
            self.spans_received
                .get_or_create(&SpanOutcomeLabels { outcome })
                .inc_by(n as u64);
        };
        outcome(SpanOutcome::accepted, report.new_span_count());
        outcome(SpanOutcome::duplicate, report.duplicates);
        outcome(SpanOutcome::rejected, batch.rejected.len());
        outcome(SpanOutcome::ignored, batch.ignored);

        for turn in report.new_turns.iter().map(|&i| &batch.turns[i]) {
            let model = ModelLabels {
                model: self.models.label(&turn.model),
            };
            for (r#type, n) in [
                (TokenType::input, turn.usage.input),
                (TokenType::output, turn.usage.output),
                (TokenType::cache_read, turn.usage.cache_read),
                (TokenType::cache_write, turn.usage.cache_write),
            ] {
                let labels = TokenLabels {
                    model: model.model.clone(),
                    r#type,
                };
                self.tokens.get_or_create(&labels).inc_by(n.max(0) as u64);
            }
            self.cost_usd.get_or_create(&model).inc_by(turn.cost_usd);
            self.model_requests
                .get_or_create(&ModelCallLabels {
                    model: model.model.clone(),
                    kind: CallKindLabel::of(turn.call_kind),
                })
                .inc();
            if !turn.priced {
                self.unpriced_requests.get_or_create(&model).inc();
            }
            // Latency and TTFT are the main turns' (side calls would skew them).
            if !turn.is_turn() {
                continue;
            }
            self.turn_duration
                .get_or_create(&model)
                .observe(turn.duration_ms() as f64 / 1000.0);
            if let Some(ttft) = turn.time_to_first_token_ms {
                self.time_to_first_token
                    .get_or_create(&model)
                    .observe(ttft as f64 / 1000.0);
            }
        }
        for (model, added) in &report.completed_cost {
            let model = ModelLabels {
                model: self.models.label(model),
            };
            self.cost_usd.get_or_create(&model).inc_by(*added);
        }
        self.retries.record(&self.models, batch, report);
        self.context.record(&self.models, batch, report);
        self.test_runs.record(batch, report);
        self.ops.record(batch, report);
        for session in report.new_sessions.iter().map(|&i| &batch.sessions[i]) {
            let status = match session.status {
                SessionStatus::Completed => SessionStatusLabel::completed,
                SessionStatus::Failed => SessionStatusLabel::failed,
            };
            self.sessions.get_or_create(&SessionLabels { status }).inc();
            self.session_wall_clock
                .observe(session.wall_clock_ms() as f64 / 1000.0);
        }
    }

    /// Counts the sessions the idle job closed (they have no span, so no wall-clock sample).
    pub fn record_closed_sessions(&self, completed: u64, abandoned: u64) {
        for (status, n) in [
            (SessionStatusLabel::completed, completed),
            (SessionStatusLabel::abandoned, abandoned),
        ] {
            self.sessions
                .get_or_create(&SessionLabels { status })
                .inc_by(n);
        }
    }

    /// Counts what a committed metrics batch added (Claude Code's counters, a cross-check).
    pub fn record_metric_points(&self, batch: &MetricBatch, report: &MetricReport) {
        self.claude_code.record(&self.models, batch, report);
    }

    /// Sets a target's test gauges after a commit that stored new test runs, and counts its
    /// regressions not counted before (a resent run counts nothing).
    pub fn record_test_state(&self, state: &TargetTestState) {
        self.test_state.record(&self.test_runs.targets, state, true);
    }

    /// Start-up: sets the gauges from the database; earlier regressions are remembered, not
    /// counted.
    pub fn restore_test_state(&self, state: &TargetTestState) {
        self.test_state
            .record(&self.test_runs.targets, state, false);
    }

    /// The spool's backlog after a request was spooled or replayed.
    pub fn record_spooled(&self, requests: u64, bytes: u64) {
        self.reliability.spooled(requests, bytes);
    }

    /// The database probe made at each scrape (`acd_database_up`).
    pub fn set_database_up(&self, up: bool) {
        self.ops.set_database_up(up);
    }

    pub fn record_request_failure(&self, reason: RequestFailure) {
        self.request_failures
            .get_or_create(&RequestFailureLabels { reason })
            .inc();
    }

    /// OpenMetrics text (what Prometheus asks for first).
    pub fn encode_openmetrics(&self) -> String {
        let mut out = String::new();
        text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// Prometheus text format 0.0.4, for clients that do not ask for OpenMetrics.
    pub fn encode_prometheus_text(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
