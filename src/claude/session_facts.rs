//! Session-level facts of a parsed Claude run: its start and end, whether it failed and why,
//! the totals its `result` line reports (and whether only those can be trusted), and the
//! attributes kept on the session row.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::model::{ParsedRun, SourceFormat, Usage};
use super::to_batch::token_usage;
use crate::domain::{ReportedTotals, TokenUsage, limits};
use crate::pricing::PriceTable;

/// Start and end: the run's own times, else `fallback` as the end and the result line's
/// duration before it.
pub(super) fn session_times(
    run: &ParsedRun,
    fallback: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    // A negative or absurd duration (hostile or corrupt input) must not overflow the clock.
    const MAX_MS: i64 = 366 * 24 * 3_600_000;
    let duration = run
        .result
        .as_ref()
        .and_then(|r| r.duration_ms)
        .map_or(Duration::zero(), |ms| {
            Duration::milliseconds(ms.clamp(0, MAX_MS))
        });
    let before = |end: DateTime<Utc>| end.checked_sub_signed(duration).unwrap_or(end);
    match (run.started_at, run.ended_at) {
        (Some(start), Some(end)) => (start, end.max(start)),
        (Some(start), None) => (start, start.checked_add_signed(duration).unwrap_or(start)),
        (None, Some(end)) => (before(end), end),
        (None, None) => (before(fallback), fallback),
    }
}

/// Failed: the result says so (`is_error`, even with subtype `success`, or an `error_*`
/// subtype), the wrapped CLI exited non-zero, or a stream-json run ended without a result line.
pub fn session_failed(run: &ParsedRun) -> bool {
    let no_result = run.format == SourceFormat::StreamJson && run.result.is_none();
    run.result.as_ref().is_some_and(|r| r.failed())
        || run.exit_code.is_some_and(|c| c != 0)
        || no_result
}

pub(super) fn status_message(run: &ParsedRun, failed: bool) -> Option<String> {
    if !failed {
        return None;
    }
    let mut parts = Vec::new();
    match &run.result {
        Some(r) => {
            parts.push(format!(
                "result {}{}",
                r.subtype,
                if r.is_error { " (is_error)" } else { "" }
            ));
            parts.extend(r.errors.iter().cloned());
        }
        None => parts.push("no result line".into()),
    }
    if let Some(line) = run.truncated_line {
        parts.push(format!("stream cut off at line {line}"));
    }
    if let Some(code) = run.exit_code.filter(|c| *c != 0) {
        parts.push(format!("exit code {code}"));
    }
    Some(parts.join("; "))
}

/// Per-turn parsing cannot be trusted for totals: see the module documentation.
pub fn aggregate_only(run: &ParsedRun) -> bool {
    let Some(want) = run.result.as_ref().and_then(|r| r.usage) else {
        return false;
    };
    let got = run.turn_totals();
    run.incomplete()
        || got.input != want.input
        || got.cache_read != want.cache_read
        || got.cache_write != want.cache_write
}

pub(super) fn reported(run: &ParsedRun, prices: &PriceTable) -> Option<ReportedTotals> {
    let r = run.result.as_ref()?;
    Some(ReportedTotals {
        computed_cost_usd: r.usage.as_ref().and_then(|u| result_cost(run, u, prices)),
        // A total no column can hold is dropped (the turns still give our own cost).
        cost_usd: limits::reported_cost("total_cost_usd", r.total_cost_usd).unwrap_or(None),
        // Negative durations are corrupt input, not figures to store.
        duration_ms: r.duration_ms.filter(|d| *d >= 0),
        duration_api_ms: r.duration_api_ms.filter(|d| *d >= 0),
        num_turns: r.num_turns.and_then(|n| i32::try_from(n).ok()),
        usage: r.usage.as_ref().map(token_usage),
        aggregate_only: aggregate_only(run),
        raw: r.raw.clone(),
    })
}

pub(super) fn session_attributes(run: &ParsedRun) -> Value {
    let mut attrs = json!({
        "claude.source": run.format,
        "claude.session_id": run.session_id,
        "claude.cli_version": run.cli_version,
        "claude.cwd": run.cwd,
        "claude.model": run.model,
        "claude.tools_offered": run.tools.len(),
        "claude.lines": run.lines,
        "claude.skipped_lines": run.skipped,
        "claude.parse_errors": run.parse_errors,
        "claude.truncated_line": run.truncated_line,
        "claude.orphan_tool_results": run.orphan_tool_results,
        "claude.reconciled_output_tokens": run.reconciled_output_tokens,
        "claude.compactions": run.compactions,
        "claude.exit_code": run.exit_code,
        "acd.run": run.wrapper,
    });
    if let Some(r) = &run.result {
        attrs["claude.result.subtype"] = json!(r.subtype);
        attrs["claude.result.is_error"] = json!(r.is_error);
        attrs["claude.result.stop_reason"] = json!(r.stop_reason);
        attrs["claude.result.errors"] = json!(r.errors);
    }
    attrs
}

/// Our price for the result line's usage: per `modelUsage` entry when there is one (1-hour
/// cache writes, which it does not split by model, shared in proportion to cache writes), else
/// all of it at the run's model. None when a model is not in the price table.
pub(super) fn result_cost(run: &ParsedRun, usage: &Usage, prices: &PriceTable) -> Option<f64> {
    let result = run.result.as_ref()?;
    if result.model_usage.is_empty() {
        let model = run
            .model
            .as_deref()
            .or(run.turns.first().map(|t| t.model.as_str()))?;
        return prices.cost(model, &token_usage(usage));
    }
    let mut total = 0.0;
    for (model, m) in &result.model_usage {
        let one_hour = if usage.cache_write > 0 {
            (usage.cache_write_1h as f64 * m.cache_write as f64 / usage.cache_write as f64).round()
                as i64
        } else {
            0
        };
        let tokens = TokenUsage {
            input: m.input,
            output: m.output,
            cache_read: m.cache_read,
            cache_write: m.cache_write,
            cache_write_1h: one_hour.min(m.cache_write),
        };
        total += prices.cost(model, &tokens)?;
    }
    Some(total)
}
