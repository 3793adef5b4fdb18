//! The real captured fixtures (tests/fixtures/claude/, see its README) through the parsers.
//!
//! What must match the `result` line exactly, and why:
//! - input, cache-read and cache-write tokens summed once per `message.id`: the API reports them
//!   once per call and the CLI's totals are the same sums (lightcycle is an excerpt with most
//!   calls left out, so there they must *not* match, and the run is flagged incomplete later);
//! - output tokens, after reconciliation: the per-message figure on `assistant` lines is a
//!   placeholder, so before reconciliation it is below the result's figure (only a
//!   `message_delta` gives the true per-call count, as in scenario b, where no reconciliation
//!   happens). Per-turn output is therefore an estimate when `output_source` is `reconciled`.
//! - turn counts are *not* `num_turns`: the CLI counts agent-loop iterations (tool results
//!   included, e.g. 139 for 54 API calls in ccagent), we count API responses.

use std::io::Read;

use chrono::{DateTime, Duration, Utc};

use super::model::{OutputSource, ParsedRun};
use super::stream::{StreamParser, parse_str};
use super::transcript;

pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/claude/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if name.ends_with(".gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .expect("gzip fixture");
        text
    } else {
        String::from_utf8(bytes).expect("utf-8 fixture")
    }
}

fn stream(name: &str) -> ParsedRun {
    parse_str(&fixture(name))
}

/// Input, cache and output totals equal the result line's.
fn assert_totals_match_result(run: &ParsedRun) {
    let result = run.result.as_ref().expect("result line");
    let want = result.usage.expect("result usage");
    let got = run.turn_totals();
    assert_eq!(got.input, want.input, "input");
    assert_eq!(got.cache_read, want.cache_read, "cache read");
    assert_eq!(got.cache_write, want.cache_write, "cache write");
    assert_eq!(got.cache_write_1h, want.cache_write_1h, "1h cache write");
    assert_eq!(got.output, want.output, "output (after reconciliation)");
}

#[test]
fn ccagent_counts_each_message_once_and_reconciles_output() {
    let run = stream("ccagent__claude_response1.stream-json.jsonl.gz");
    assert_eq!(
        run.session_id.as_deref(),
        Some("13fd3e32-9028-43ba-9306-4e08bca82525")
    );
    assert_eq!(run.model.as_deref(), Some("claude-sonnet-4-20250514"));
    assert_eq!(run.turns.len(), 54);
    assert_eq!(run.tool_calls.len(), 53);
    assert_eq!(run.tools.len(), 40);
    assert_totals_match_result(&run);
    // 193 / 118,318 / 4,940,732 as the README says; output 35,620 of which the placeholders
    // (largest value per message) give 34,242.
    let totals = run.turn_totals();
    assert_eq!(
        (totals.input, totals.cache_write, totals.cache_read),
        (193, 118_318, 4_940_732)
    );
    assert_eq!(run.reconciled_output_tokens, Some(35_620 - 34_242));
    assert!(
        run.turns
            .iter()
            .all(|t| t.output_source == OutputSource::Reconciled)
    );
    assert!(
        run.tool_calls.iter().all(|c| c.is_error.is_some()),
        "every tool has a result"
    );
    assert_eq!(run.blank_lines, 1);
    assert!(run.parse_errors.is_empty() && run.truncated_line.is_none());
    let result = run.result.as_ref().unwrap();
    assert_eq!(result.num_turns, Some(139));
    assert_eq!(result.total_cost_usd, Some(2.4637934999999995));
    assert!(
        result.model_usage.is_empty(),
        "mid-2025 format has no modelUsage"
    );
    assert!(run.started_at.is_none(), "no clock, no times");
}

#[test]
fn scenario_a_skips_hooks_before_init_and_after_result() {
    let run = stream("guess-claude_code__scenario-a-basic.stream-json.jsonl");
    assert_eq!(
        run.session_id.as_deref(),
        Some("fd9b92d4-a33d-47d4-9cdb-edb65d50287c")
    );
    assert_eq!(run.cli_version.as_deref(), Some("2.1.70"));
    assert_eq!(run.turns.len(), 1);
    assert_totals_match_result(&run);
    assert_eq!(run.turns[0].reported_output_tokens, 1);
    assert_eq!(run.turns[0].usage.output, 5);
    assert_eq!(run.skipped.get("system/hook_started"), Some(&1));
    assert_eq!(run.skipped.get("system/hook_response"), Some(&1));
    assert_eq!(
        run.result.as_ref().unwrap().model_usage["claude-sonnet-4-6"].cost_usd,
        Some(0.07551)
    );
}

#[test]
fn scenario_b_takes_true_output_from_message_delta() {
    let run = stream("guess-claude_code__scenario-b-partial.stream-json.jsonl");
    assert_eq!(run.turns.len(), 1);
    let turn = &run.turns[0];
    assert_eq!(turn.output_source, OutputSource::MessageDelta);
    assert_eq!(turn.usage.output, 17);
    assert_eq!(turn.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(run.reconciled_output_tokens, None);
    assert_totals_match_result(&run);
    assert!(
        run.skipped.keys().all(|k| !k.starts_with("stream_event")),
        "{:?}",
        run.skipped
    );
}

#[test]
fn scenarios_c_and_d_are_max_turns_failures_with_tool_calls() {
    for (name, tool) in [
        (
            "guess-claude_code__scenario-c-tool.stream-json.jsonl",
            "toolu_01C8vRAQVVc8pTzJcVXPFaDy",
        ),
        (
            "guess-claude_code__scenario-d-error.stream-json.jsonl",
            "toolu_01XvNV6sCu2FhpcZH3aDRK3K",
        ),
    ] {
        let run = stream(name);
        assert_eq!(run.turns.len(), 1, "{name}: one message id over two lines");
        assert_eq!(run.tool_calls.len(), 1);
        assert_eq!(run.tool_calls[0].id, tool);
        assert_eq!(run.tool_calls[0].name, "ToolSearch");
        assert_eq!(run.tool_calls[0].is_error, Some(false));
        assert_eq!(run.turns[0].tool_call_ids, vec![tool.to_string()]);
        assert_totals_match_result(&run);
        let result = run.result.as_ref().unwrap();
        assert_eq!(result.subtype, "error_max_turns");
        assert!(
            !result.is_error && result.failed(),
            "{name}: error_* subtype is a failure"
        );
    }
}

#[test]
fn gleam_basic_query_reconciles_placeholder_output() {
    let run = stream("claude-agent-sdk-gleam__basic_query.stream-json.ndjson");
    assert_eq!(run.model.as_deref(), Some("claude-opus-4-5-20251101"));
    assert_eq!(run.cli_version.as_deref(), Some("2.1.7"));
    assert_totals_match_result(&run);
    assert_eq!(run.turns[0].reported_output_tokens, 5);
    assert_eq!(run.reconciled_output_tokens, Some(20));
}

#[test]
fn lightcycle_excerpt_has_retry_split_ids_and_an_error_result() {
    let run = stream("lightcycle__test_log_parser_excerpt.stream-json.jsonl");
    assert_eq!(
        run.session_id.as_deref(),
        Some("7c5f0968-d6de-4df9-b07f-7cdb41e507ea")
    );
    assert_eq!(run.turns.len(), 2);
    assert_eq!(
        run.turns[0].request_id.as_deref(),
        Some("req_011Ccf91CKgBHFrDejdGreGT")
    );
    assert_eq!(run.turns[0].usage.cache_write_1h, 13_101);
    assert_eq!(run.turns[0].usage.cache_write_5m, 0);
    assert_eq!(run.tool_calls.len(), 2);
    assert_eq!(
        run.tool_calls[1].file_path.as_deref(),
        Some("/Users/kenmclennan/workspace/specs/GRID-047-coder-commit-subject-convention.md")
    );
    assert_eq!(
        run.orphan_tool_results, 1,
        "its tool_use was left out of the excerpt"
    );
    assert_eq!(run.retries.len(), 1);
    let retry = &run.retries[0];
    assert_eq!((retry.attempt, retry.max_retries), (1, Some(10)));
    assert_eq!(retry.retry_delay_ms, Some(523.1822743430553));
    assert_eq!(retry.error_status, None);
    assert_eq!(retry.error.as_deref(), Some("unknown"));
    assert_eq!(run.skipped.get("rate_limit_event"), Some(&1));
    assert_eq!(run.skipped.get("system/thinking_tokens"), Some(&1));
    let result = run.result.as_ref().unwrap();
    assert!(result.is_error && result.failed());
    assert_eq!(result.subtype, "error_during_execution");
    // An excerpt: the result counts calls whose lines are not here.
    let totals = run.turn_totals();
    assert!(totals.cache_read < result.usage.unwrap().cache_read);
}

#[test]
fn a_cut_off_last_line_is_reported_and_a_bad_middle_line_is_a_parse_error() {
    let text = fixture("guess-claude_code__scenario-b-partial.stream-json.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let mut cut = lines[..8].join("\n");
    cut.push('\n');
    cut.push_str(&lines[8][..40]);
    let run = parse_str(&cut);
    assert_eq!(run.truncated_line, Some(9));
    assert!(run.parse_errors.is_empty());
    assert!(run.result.is_none(), "a missing result line is fine");
    assert_eq!(run.turns.len(), 1);
    assert_eq!(
        run.turns[0].usage.output, 3,
        "placeholder kept: nothing to reconcile with"
    );

    let garbled = format!(
        "{}\nnot json\n{}",
        lines[..3].join("\n"),
        lines[3..].join("\n")
    );
    let run = parse_str(&garbled);
    assert_eq!(run.parse_errors, vec![4]);
    assert_eq!(run.truncated_line, None);
    assert!(run.incomplete());
}

#[test]
fn unknown_types_and_fields_are_counted_not_fatal() {
    let run = parse_str(
        "{\"type\":\"brand_new\",\"x\":1}\n[1,2]\n{\"type\":\"system\",\"subtype\":\"future\"}\n\
         {\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"model\":\"claude-haiku-4-5\",\
         \"usage\":{\"input_tokens\":\"7\",\"output_tokens\":2.0,\"novel\":{}}},\"extra\":true}",
    );
    assert_eq!(run.skipped.get("brand_new"), Some(&1));
    assert_eq!(run.skipped.get("system/future"), Some(&1));
    assert_eq!(
        run.parse_errors,
        vec![2],
        "a JSON array is not a line object"
    );
    assert_eq!(run.turns[0].usage.input, 7);
    assert_eq!(run.turns[0].usage.output, 2);
}

#[test]
fn reader_clock_gives_request_first_token_and_finish_times() {
    let text = fixture("guess-claude_code__scenario-b-partial.stream-json.jsonl");
    let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut parser = StreamParser::new();
    // Line k is seen at t0 + k·100 ms.
    for (k, line) in text.lines().enumerate() {
        parser.push_line(line, Some(t0 + Duration::milliseconds(100 * k as i64)));
    }
    let run = parser.finish();
    let at = |k: i64| Some(t0 + Duration::milliseconds(100 * k));
    let turn = &run.turns[0];
    assert_eq!(
        turn.requested_at,
        at(1),
        "the init line, before message_start (line 3)"
    );
    assert_eq!(
        turn.first_token_at,
        at(4),
        "the first content_block_delta (line 5)"
    );
    assert_eq!(turn.finished_at, at(10), "message_stop (line 11)");
    assert_eq!((run.started_at, run.ended_at), (at(0), at(12)));
}

#[test]
fn without_partial_messages_the_first_assistant_line_is_the_first_token() {
    let text = fixture("lightcycle__test_log_parser_excerpt.stream-json.jsonl");
    let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut parser = StreamParser::new();
    for (k, line) in text.lines().enumerate() {
        parser.push_line(line, Some(t0 + Duration::seconds(k as i64)));
    }
    let run = parser.finish();
    let at = |k: i64| Some(t0 + Duration::seconds(k));
    // Turn 1: lines 5–7 after the thinking_tokens line 4; turn 2: line 12 after line 11.
    assert_eq!(run.turns[0].requested_at, at(3));
    assert_eq!(run.turns[0].first_token_at, at(4));
    assert_eq!(run.turns[0].finished_at, at(6));
    assert_eq!(run.turns[1].requested_at, at(10));
    assert_eq!(run.turns[1].first_token_at, at(11));
    assert_eq!(run.retries[0].at, at(8));
}

#[test]
fn ccagent_transcript_uses_line_timestamps_and_splits_cache_writes() {
    let run = transcript::parse_str(&fixture(
        "ccagent__clean_poem_haiku_session.transcript.jsonl",
    ));
    assert_eq!(
        run.session_id.as_deref(),
        Some("c67db2d7-5c9f-46ff-88df-7f65093ae583")
    );
    assert_eq!(run.cli_version.as_deref(), Some("2.0.42"));
    assert_eq!(run.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(
        run.turns.len(),
        2,
        "one id split over two lines counts once"
    );
    let totals = run.turn_totals();
    assert_eq!((totals.input, totals.output), (9, 855));
    assert_eq!(
        (
            totals.cache_read,
            totals.cache_write_5m,
            totals.cache_write_1h
        ),
        (38_116, 5_484, 0)
    );
    let ts = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
    let first = &run.turns[0];
    assert_eq!(first.requested_at, ts("2025-11-15T20:13:28.573Z"));
    assert_eq!(first.first_token_at, ts("2025-11-15T20:13:50.562Z"));
    assert_eq!(first.finished_at, ts("2025-11-15T20:13:52.086Z"));
    assert_eq!(run.tool_calls[0].is_error, Some(false));
    assert_eq!(run.skipped.get("summary"), Some(&2));
    assert_eq!(run.skipped.get("queue-operation"), Some(&2));
    assert_eq!(run.started_at, ts("2025-11-15T20:13:28.555Z"));
}

#[test]
fn spotter_transcript_has_one_hour_cache_writes_and_rejected_tools() {
    let run = transcript::parse_str(&fixture("spotter__short.transcript.jsonl"));
    assert_eq!(run.model.as_deref(), Some("claude-opus-4-6"));
    assert_eq!(run.turns.len(), 1);
    let usage = run.turns[0].usage;
    assert_eq!(
        (usage.input, usage.output, usage.cache_read),
        (3, 13, 11_515)
    );
    assert_eq!((usage.cache_write_5m, usage.cache_write_1h), (0, 13_835));
    assert_eq!(run.tool_calls.len(), 2);
    assert!(run.tool_calls.iter().all(|c| c.is_error == Some(true)));
    assert_eq!(
        run.tool_calls[1].file_path.as_deref(),
        Some("/home/marco/projects/spotter")
    );
    assert_eq!(run.skipped.get("progress"), Some(&3));
    assert_eq!(run.skipped.get("system/local_command"), Some(&2));
    assert_eq!(run.skipped.get("file-history-snapshot"), Some(&1));
}

#[test]
fn a_parsed_run_round_trips_through_json() {
    let run = stream("lightcycle__test_log_parser_excerpt.stream-json.jsonl");
    let json = serde_json::to_string(&run).unwrap();
    let back: ParsedRun = serde_json::from_str(&json).unwrap();
    assert_eq!(back, run);
    let minimal: ParsedRun = serde_json::from_str("{\"session_id\":\"x\"}").unwrap();
    assert_eq!(minimal.session_id.as_deref(), Some("x"));
}

#[test]
fn compactions_and_transcript_api_errors_are_recorded() {
    let run = transcript::parse_str(concat!(
        r#"{"type":"system","subtype":"api_error","timestamp":"2026-01-01T00:00:01Z","retryInMs":1200.5,"retryAttempt":2,"maxRetries":10,"error":{"status":529,"error":{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}}}"#,
        "\n",
        r#"{"type":"system","subtype":"compact_boundary","timestamp":"2026-01-01T00:00:02Z","content":"Conversation compacted","compactMetadata":{"trigger":"auto","preTokens":155000}}"#,
        "\n",
        r#"{"type":"system","subtype":"compact_boundary","compact_metadata":{"trigger":"manual","pre_tokens":90000}}"#,
    ));
    let retry = &run.retries[0];
    assert_eq!(
        (retry.attempt, retry.max_retries, retry.error_status),
        (2, Some(10), Some(529))
    );
    assert_eq!(retry.retry_delay_ms, Some(1200.5));
    assert_eq!(retry.error.as_deref(), Some("Overloaded"));
    assert_eq!(run.compactions.len(), 2);
    assert_eq!(run.compactions[0].trigger.as_deref(), Some("auto"));
    assert_eq!(run.compactions[0].pre_tokens, Some(155_000));
    assert_eq!(run.compactions[1].pre_tokens, Some(90_000));
}
