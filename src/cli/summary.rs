//! The one-screen report of a parsed Claude run, printed after `ingest claude-stream`,
//! `ingest claude-transcript FILE` and `run`: what the stream held (turns, tokens, our cost
//! against the CLI's) and what storing it did.

use chrono::{DateTime, Utc};

use crate::claude::model::{ParsedRun, SourceFormat};
use crate::claude::to_batch::{MapOptions, session_failed, to_batch};
use crate::ingest::IngestSummary;
use crate::pricing::PriceTable;

/// The one-screen report printed after a run is stored or sent.
pub fn summary(
    run: &ParsedRun,
    prices: &PriceTable,
    fallback_time: DateTime<Utc>,
    stored: Option<&IngestSummary>,
) -> String {
    let options = MapOptions {
        target_id: None,
        fallback_time,
    };
    let batch = to_batch(run, prices, &options);
    let session = &batch.sessions[0];
    let totals = run.turn_totals();
    let ours = batch.turns.iter().fold(0.0, |sum, t| sum + t.cost_usd);
    let unpriced: Vec<&str> = batch
        .turns
        .iter()
        .filter(|t| !t.priced)
        .map(|t| t.model.as_str())
        .collect();
    let format = match run.format {
        SourceFormat::StreamJson => "stream-json",
        SourceFormat::Transcript => "transcript",
    };
    let external = if session.external_id == session.id.to_string() {
        String::new()
    } else {
        format!(" (source id {})", session.external_id)
    };
    let mut out = vec![format!(
        "session {}{external} — {format}, CLI {}, model {}",
        session.id,
        run.cli_version.as_deref().unwrap_or("?"),
        run.model.as_deref().unwrap_or("?"),
    )];
    let status = if session_failed(run) {
        "failed"
    } else {
        "completed"
    };
    out.push(format!(
        "  status {status}{}",
        session
            .status_message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    ));
    let num_turns = run.result.as_ref().and_then(|r| r.num_turns);
    out.push(format!(
        "  turns {} (result num_turns {}), tool calls {}, retries {}, compactions {}",
        run.turns.len(),
        num_turns.map_or("-".into(), |n| n.to_string()),
        run.tool_calls.len(),
        run.retries.len(),
        run.compactions.len(),
    ));
    out.push(format!(
        "  tokens (turns): input {}, output {}{}, cache read {}, cache write {} (1h: {})",
        totals.input,
        totals.output,
        run.reconciled_output_tokens
            .map(|n| format!(" ({n} reconciled from the result line)"))
            .unwrap_or_default(),
        totals.cache_read,
        totals.cache_write,
        totals.cache_write_1h,
    ));
    let reported = run.result.as_ref().and_then(|r| r.total_cost_usd);
    out.push(format!(
        "  cost: ours ${ours:.4}{}, reported {}",
        if unpriced.is_empty() {
            String::new()
        } else {
            format!(" (unpriced: {})", unpriced.join(", "))
        },
        reported.map_or("-".into(), |r| {
            let diff = if r > 0.0 {
                format!(" ({:+.2}%)", (ours - r) / r * 100.0)
            } else {
                String::new()
            };
            format!("${r:.4}{diff}")
        }),
    ));
    if let Some(reported) = session.reported.as_ref().filter(|r| r.aggregate_only) {
        let u = reported.usage.unwrap_or_default();
        out.push(format!(
            "  session totals from the result line (per-turn figures incomplete): input {}, \
             output {}, cache read {}, cache write {} (1h: {}), our cost ${:.4}",
            u.input,
            u.output,
            u.cache_read,
            u.cache_write,
            u.cache_write_1h,
            reported.computed_cost_usd.unwrap_or(0.0),
        ));
    }
    let skipped: Vec<String> = run
        .skipped
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    out.push(format!(
        "  lines {} ({} blank); skipped: {}",
        run.lines,
        run.blank_lines,
        if skipped.is_empty() {
            "none".into()
        } else {
            skipped.join(", ")
        },
    ));
    if !run.parse_errors.is_empty() {
        out.push(format!("  unparsable lines: {:?}", run.parse_errors));
    }
    if let Some(line) = run.truncated_line {
        out.push(format!("  last line {line} is truncated"));
    }
    if let Some(s) = stored {
        out.push(format!(
            "  stored: {} new records, {} already stored",
            s.new_records, s.duplicates
        ));
    }
    out.join("\n")
}
