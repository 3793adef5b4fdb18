//! Context-window metrics, observed from the turns a committed batch added: utilization by
//! model, prompt tokens by segment (only where the source reported segments), and overflows
//! by model (a turn over its limit or failed with "prompt is too long", and each Claude
//! compaction boundary of a new session).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{HistogramFamily, ModelGuard, ModelLabels};
use crate::context::usage::TurnContext;
use crate::domain::{IngestReport, SpanBatch};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SegmentLabels {
    pub segment: Segment,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Segment {
    system,
    feature,
    files,
    conversation,
}

pub struct ContextMetrics {
    utilization: HistogramFamily<ModelLabels>,
    tokens: HistogramFamily<SegmentLabels>,
    overflows: Family<ModelLabels, Counter>,
}

/// 0..1.2 in steps that resolve the PRD's 70–90% target band.
fn utilization_histogram() -> Histogram {
    Histogram::new([
        0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1, 1.2,
    ])
}

fn tokens_histogram() -> Histogram {
    Histogram::new([
        500.0,
        1_000.0,
        2_000.0,
        5_000.0,
        10_000.0,
        20_000.0,
        50_000.0,
        100_000.0,
        150_000.0,
        200_000.0,
        500_000.0,
        1_000_000.0,
    ])
}

impl ContextMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let utilization: HistogramFamily<ModelLabels> =
            Family::new_with_constructor(utilization_histogram as fn() -> Histogram);
        registry.register(
            "acd_context_utilization_ratio",
            "Prompt tokens of a turn divided by its context limit",
            utilization.clone(),
        );
        let tokens: HistogramFamily<SegmentLabels> =
            Family::new_with_constructor(tokens_histogram as fn() -> Histogram);
        registry.register(
            "acd_context_tokens",
            "Tokens of a turn's context by segment (turns that report acd.context.* only)",
            tokens.clone(),
        );
        let overflows = Family::default();
        registry.register(
            "acd_context_overflows",
            "Context overflows: turns over the limit or failed as too long, and compactions",
            overflows.clone(),
        );
        Self {
            utilization,
            tokens,
            overflows,
        }
    }

    pub fn record(&self, models: &ModelGuard, batch: &SpanBatch, report: &IngestReport) {
        for turn in report.new_turns.iter().map(|&i| &batch.turns[i]) {
            if !turn.is_turn() {
                continue;
            }
            let c = TurnContext::of(turn);
            let model = ModelLabels {
                model: models.label(&turn.model),
            };
            self.utilization
                .get_or_create(&model)
                .observe(c.utilization);
            if let Some(s) = c.segments {
                for (segment, n) in [
                    Segment::system,
                    Segment::feature,
                    Segment::files,
                    Segment::conversation,
                ]
                .into_iter()
                .zip(s)
                {
                    self.tokens
                        .get_or_create(&SegmentLabels { segment })
                        .observe(n as f64);
                }
            }
            // The series exists (at 0) from a model's first turn, so rates and alerts over it
            // have data before the first overflow.
            let overflows = self.overflows.get_or_create(&model);
            if c.overflow.is_some() {
                overflows.inc();
            }
        }
        for session in report.new_sessions.iter().map(|&i| &batch.sessions[i]) {
            let compactions = session.attributes["claude.compactions"]
                .as_array()
                .map_or(0, Vec::len);
            if compactions > 0 {
                let model = session.attributes["claude.model"]
                    .as_str()
                    .unwrap_or("unknown");
                let labels = ModelLabels {
                    model: models.label(model),
                };
                self.overflows
                    .get_or_create(&labels)
                    .inc_by(compactions as u64);
            }
        }
    }
}
