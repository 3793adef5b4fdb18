//! Prometheus counters fed by Claude Code's own OTLP metrics (`claude_code.*`), kept apart from
//! `acd_tokens`/`acd_cost_usd`: Claude Code's `api_request` *events* are the source of truth for
//! turns and those families, and these counters are a cross-check only (docs/claude-code-telemetry.md).
//! They count committed increments, so a retried export is never counted twice, and every label
//! set is bounded: unknown label values become `other`, models go through the [`ModelGuard`].

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::{ModelGuard, ModelLabels};
use crate::metric_points::{MetricBatch, MetricPoint, MetricReport};

type FloatCounter = Counter<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClaudeTokenLabels {
    pub model: String,
    pub r#type: ClaudeTokenType,
}

/// `claude_code.token.usage`'s `type`, in this service's spelling.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ClaudeTokenType {
    /// Uncached input (Claude Code's input excludes cache reads and writes).
    input,
    output,
    cache_read,
    cache_creation,
    other,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LinesLabels {
    pub r#type: LinesType,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum LinesType {
    added,
    removed,
    other,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActiveTimeLabels {
    pub r#type: ActiveTimeType,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ActiveTimeType {
    /// Keyboard interaction.
    user,
    /// Tool execution and model responses.
    cli,
    other,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EditDecisionLabels {
    pub tool: EditTool,
    pub decision: Decision,
}

/// The code edit tools Claude Code reports decisions for; anything else is `other`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum EditTool {
    Edit,
    MultiEdit,
    Write,
    NotebookEdit,
    other,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Decision {
    accept,
    reject,
    other,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PointOutcomeLabels {
    pub outcome: PointOutcome,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum PointOutcome {
    /// A `claude_code.*` counter point stored for the first time.
    accepted,
    /// Already stored, or older than what is stored: a retried export, adds nothing.
    duplicate,
    /// Invalid (no time, not finite, negative, unknown temporality): partial success.
    rejected,
    /// Valid but not ours (other metrics, gauges, histograms): acknowledged, not stored.
    ignored,
}

pub struct ClaudeCodeMetrics {
    tokens: Family<ClaudeTokenLabels, FloatCounter>,
    cost_usd: Family<ModelLabels, FloatCounter>,
    sessions: FloatCounter,
    lines_of_code: Family<LinesLabels, FloatCounter>,
    commits: FloatCounter,
    pull_requests: FloatCounter,
    active_time: Family<ActiveTimeLabels, FloatCounter>,
    edit_decisions: Family<EditDecisionLabels, FloatCounter>,
    points_received: Family<PointOutcomeLabels, Counter>,
}

impl ClaudeCodeMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let this = Self {
            tokens: Family::default(),
            cost_usd: Family::default(),
            sessions: FloatCounter::default(),
            lines_of_code: Family::default(),
            commits: FloatCounter::default(),
            pull_requests: FloatCounter::default(),
            active_time: Family::default(),
            edit_decisions: Family::default(),
            points_received: Family::default(),
        };
        let cross_check = " (Claude Code's OTLP metrics; a cross-check, events feed acd_tokens)";
        registry.register(
            "acd_claude_code_tokens",
            format!("Tokens by model and type{cross_check}"),
            this.tokens.clone(),
        );
        registry.register(
            "acd_claude_code_cost_usd",
            format!("Cost in USD as Claude Code estimates it{cross_check}"),
            this.cost_usd.clone(),
        );
        registry.register(
            "acd_claude_code_sessions",
            "Claude Code sessions started (claude_code.session.count)",
            this.sessions.clone(),
        );
        registry.register(
            "acd_claude_code_lines_of_code",
            "Lines of code added or removed by Claude Code",
            this.lines_of_code.clone(),
        );
        registry.register(
            "acd_claude_code_commits",
            "Git commits created by Claude Code",
            this.commits.clone(),
        );
        registry.register(
            "acd_claude_code_pull_requests",
            "Pull requests created by Claude Code",
            this.pull_requests.clone(),
        );
        registry.register(
            "acd_claude_code_active_time_seconds",
            "Active time in Claude Code by type (user, cli)",
            this.active_time.clone(),
        );
        registry.register(
            "acd_claude_code_code_edit_tool_decisions",
            "Permission decisions on Claude Code's edit tools",
            this.edit_decisions.clone(),
        );
        registry.register(
            "acd_otlp_metric_points_received",
            "OTLP metric data points received, by outcome",
            this.points_received.clone(),
        );
        this
    }

    /// Counts what a committed batch added; `report` holds the new points and their increments.
    pub fn record(&self, models: &ModelGuard, batch: &MetricBatch, report: &MetricReport) {
        let outcome = |outcome, n: usize| {
            self.points_received
                .get_or_create(&PointOutcomeLabels { outcome })
                .inc_by(n as u64);
        };
        outcome(PointOutcome::accepted, report.new_points.len());
        outcome(PointOutcome::duplicate, report.duplicates);
        outcome(PointOutcome::rejected, batch.rejected.len());
        outcome(PointOutcome::ignored, batch.ignored);
        for &(i, increment) in &report.new_points {
            // inc_by(0) still creates the series: a counter that ticked once must appear.
            if let Some(counter) = self.counter_for(models, &batch.points[i]) {
                counter.inc_by(increment);
            }
        }
    }

    /// The counter a point feeds, or None for `claude_code.*` metrics we do not export.
    fn counter_for(&self, models: &ModelGuard, p: &MetricPoint) -> Option<FloatCounter> {
        let model = || models.label(p.attribute("model").unwrap_or("unknown"));
        let r#type = p.attribute("type");
        Some(match p.metric.as_str() {
            "claude_code.token.usage" => self
                .tokens
                .get_or_create(&ClaudeTokenLabels {
                    model: model(),
                    r#type: match r#type {
                        Some("input") => ClaudeTokenType::input,
                        Some("output") => ClaudeTokenType::output,
                        Some("cacheRead") => ClaudeTokenType::cache_read,
                        Some("cacheCreation") => ClaudeTokenType::cache_creation,
                        _ => ClaudeTokenType::other,
                    },
                })
                .clone(),
            "claude_code.cost.usage" => self
                .cost_usd
                .get_or_create(&ModelLabels { model: model() })
                .clone(),
            "claude_code.session.count" => self.sessions.clone(),
            "claude_code.commit.count" => self.commits.clone(),
            "claude_code.pull_request.count" => self.pull_requests.clone(),
            "claude_code.lines_of_code.count" => self
                .lines_of_code
                .get_or_create(&LinesLabels {
                    r#type: match r#type {
                        Some("added") => LinesType::added,
                        Some("removed") => LinesType::removed,
                        _ => LinesType::other,
                    },
                })
                .clone(),
            "claude_code.active_time.total" => self
                .active_time
                .get_or_create(&ActiveTimeLabels {
                    r#type: match r#type {
                        Some("user") => ActiveTimeType::user,
                        Some("cli") => ActiveTimeType::cli,
                        _ => ActiveTimeType::other,
                    },
                })
                .clone(),
            "claude_code.code_edit_tool.decision" => self
                .edit_decisions
                .get_or_create(&EditDecisionLabels {
                    // `tool_name` today; some versions and dashboards call it `tool`.
                    tool: match p.attribute("tool_name").or_else(|| p.attribute("tool")) {
                        Some("Edit") => EditTool::Edit,
                        Some("MultiEdit") => EditTool::MultiEdit,
                        Some("Write") => EditTool::Write,
                        Some("NotebookEdit") => EditTool::NotebookEdit,
                        _ => EditTool::other,
                    },
                    decision: match p.attribute("decision") {
                        Some("accept") => Decision::accept,
                        Some("reject") => Decision::reject,
                        _ => Decision::other,
                    },
                })
                .clone(),
            _ => return None,
        })
    }
}
