//! Incremental parser of the Claude CLI's `--output-format stream-json` (NDJSON) into a
//! [`ParsedRun`]. Feed it line by line with [`StreamParser::push_line`] — from a file, stdin, or
//! a wrapper reading the child's stdout with its own clock — then call [`StreamParser::finish`].
//!
//! The format's traps (tests/fixtures/claude/README.md) and how they are handled:
//! - one API response is one `assistant` line per content block, all repeating the same
//!   `message.id` and `usage`: usage counts once per id (largest value per field, because older
//!   CLIs grow `output_tokens` across the lines), tool calls come from every line;
//! - `output_tokens` on `assistant` lines is a placeholder; `stream_event` `message_delta` gives
//!   the true figure, and [`StreamParser::finish`] reconciles the rest with the `result` line;
//! - hook lines come before `system/init` and after `result`; unknown types are counted, never
//!   fatal; blank lines are skipped; a last line that is not JSON is reported as truncated.
//!
//! Transcripts share this parser ([`super::transcript`]): their lines have the same shapes plus
//! an ISO `timestamp`, used as the line's time.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::json::{float, int, max_usage, text, timestamp, usage};
use super::model::{
    OutputSource, ParsedCompaction, ParsedRetry, ParsedRun, ParsedToolCall, ParsedTurn, ResultLine,
    SourceFormat,
};
use super::reconcile;

/// Parses one run line by line; see the module documentation.
#[derive(Debug, Default)]
pub struct StreamParser {
    run: ParsedRun,
    turns: HashMap<String, usize>,
    tools: HashMap<String, usize>,
    /// The message whose `stream_event` lines are arriving (between message_start and _stop).
    streaming: Option<String>,
    /// Time of the previous non-blank line: a new message's request time.
    previous_at: Option<DateTime<Utc>>,
    /// A line that did not parse; a parse error unless it turns out to be the last line.
    unparsed: Option<u64>,
    session_from_init: bool,
}

impl StreamParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser for Claude Code session transcripts: each line's `timestamp` is its time.
    pub fn for_transcript() -> Self {
        let mut parser = Self::default();
        parser.run.format = SourceFormat::Transcript;
        parser
    }

    /// Takes one line (without or with its trailing newline). `seen_at` is when the reader saw
    /// it (the wrapper's clock); without it, and without a `timestamp` in transcript lines,
    /// times stay None.
    pub fn push_line(&mut self, line: &str, seen_at: Option<DateTime<Utc>>) {
        self.run.lines += 1;
        let n = self.run.lines;
        let line = line.trim();
        if line.is_empty() {
            self.run.blank_lines += 1;
            return;
        }
        if let Some(bad) = self.unparsed.take() {
            self.run.parse_errors.push(bad);
        }
        let value = match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => v,
            _ => {
                self.unparsed = Some(n);
                return;
            }
        };
        let at = match self.run.format {
            SourceFormat::Transcript => seen_at.or_else(|| timestamp(&value["timestamp"])),
            SourceFormat::StreamJson => seen_at,
        };
        if let Some(at) = at {
            self.run.started_at = Some(self.run.started_at.map_or(at, |s| s.min(at)));
            self.run.ended_at = Some(self.run.ended_at.map_or(at, |e| e.max(at)));
        }
        self.apply(&value, n, at);
        if let Some(at) = at {
            // A retry line is written before the CLI's back-off: the next request goes out
            // `retry_delay_ms` later, so a turn's TTFT and latency must not include the wait.
            let backoff = match (value["type"].as_str(), value["subtype"].as_str()) {
                (Some("system"), Some("api_retry" | "api_error")) => {
                    float(&value["retry_delay_ms"]).or_else(|| float(&value["retryInMs"]))
                }
                _ => None,
            };
            let wait = backoff.filter(|ms| ms.is_finite() && *ms > 0.0 && *ms < 3_600_000.0);
            self.previous_at =
                Some(at + Duration::microseconds((wait.unwrap_or(0.0) * 1000.0) as i64));
        }
    }

    /// The run so far, with the `result` reconciliation applied and a trailing bad line
    /// reported as truncated.
    pub fn finish(mut self) -> ParsedRun {
        self.run.truncated_line = self.unparsed.take();
        reconcile::output_tokens(&mut self.run);
        self.run
    }

    fn skip(&mut self, kind: String) {
        *self.run.skipped.entry(kind).or_default() += 1;
    }

    fn apply(&mut self, v: &Value, n: u64, at: Option<DateTime<Utc>>) {
        if !self.session_from_init
            && self.run.session_id.is_none()
            && let Some(id) = text(&v["session_id"]).or_else(|| text(&v["sessionId"]))
        {
            self.run.session_id = Some(id);
        }
        if self.run.format == SourceFormat::Transcript {
            self.run.cwd = self.run.cwd.take().or_else(|| text(&v["cwd"]));
            self.run.cli_version = self.run.cli_version.take().or_else(|| text(&v["version"]));
        }
        let kind = v["type"].as_str().unwrap_or("(none)");
        let subtype = v["subtype"].as_str();
        match (kind, subtype) {
            ("system", Some("init")) => self.init(v),
            ("system", Some("api_retry" | "api_error")) => self.retry(v, n, at),
            ("system", Some("compact_boundary")) => self.compaction(v, n, at),
            ("assistant", _) => self.assistant(v, n, at),
            ("user", _) => self.user(v, at),
            ("stream_event", _) => self.stream_event(v, n, at),
            ("result", _) => self.result(v, n),
            (kind, Some(sub)) => self.skip(format!("{kind}/{sub}")),
            (kind, None) => self.skip(kind.to_string()),
        }
    }

    fn init(&mut self, v: &Value) {
        if let Some(id) = text(&v["session_id"]) {
            self.run.session_id = Some(id);
            self.session_from_init = true;
        }
        self.run.cwd = text(&v["cwd"]).or(self.run.cwd.take());
        self.run.model = text(&v["model"]).or(self.run.model.take());
        self.run.cli_version = text(&v["claude_code_version"]).or(self.run.cli_version.take());
        if let Some(tools) = v["tools"].as_array() {
            self.run.tools = tools.iter().filter_map(text).collect();
        }
    }

    fn retry(&mut self, v: &Value, n: u64, at: Option<DateTime<Utc>>) {
        // stream-json `api_retry`: attempt, max_retries, retry_delay_ms, error_status, error.
        // Transcripts' `api_error`: retryAttempt, maxRetries, retryInMs, error {status, …}.
        let error = &v["error"];
        self.run.retries.push(ParsedRetry {
            attempt: int(&v["attempt"])
                .or_else(|| int(&v["retryAttempt"]))
                .unwrap_or(self.run.retries.len() as i64 + 1),
            max_retries: int(&v["max_retries"]).or_else(|| int(&v["maxRetries"])),
            retry_delay_ms: float(&v["retry_delay_ms"]).or_else(|| float(&v["retryInMs"])),
            error_status: int(&v["error_status"]).or_else(|| int(&error["status"])),
            error: text(error)
                .or_else(|| text(&error["error"]["error"]["message"]))
                .or_else(|| text(&error["error"]["message"]))
                .or_else(|| text(&error["message"]))
                .or_else(|| text(&v["content"])),
            at,
            line: n,
        });
    }

    fn compaction(&mut self, v: &Value, n: u64, at: Option<DateTime<Utc>>) {
        let meta = if v["compact_metadata"].is_object() {
            &v["compact_metadata"]
        } else {
            &v["compactMetadata"]
        };
        self.run.compactions.push(ParsedCompaction {
            trigger: text(&meta["trigger"]),
            pre_tokens: int(&meta["pre_tokens"]).or_else(|| int(&meta["preTokens"])),
            at,
            line: n,
        });
    }

    /// The turn for `id`, created (with its request time) on the message's first line.
    fn turn(
        &mut self,
        id: &str,
        model: Option<String>,
        n: u64,
        at: Option<DateTime<Utc>>,
    ) -> usize {
        if let Some(&i) = self.turns.get(id) {
            let turn = &mut self.run.turns[i];
            turn.last_line = n;
            if at.is_some() {
                turn.finished_at = at;
            }
            return i;
        }
        self.run.turns.push(ParsedTurn {
            message_id: id.to_string(),
            model: model.unwrap_or_else(|| "unknown".into()),
            requested_at: self.previous_at.or(at),
            finished_at: at,
            first_line: n,
            last_line: n,
            ..ParsedTurn::default()
        });
        self.turns.insert(id.to_string(), self.run.turns.len() - 1);
        self.run.turns.len() - 1
    }

    fn assistant(&mut self, v: &Value, n: u64, at: Option<DateTime<Utc>>) {
        let message = &v["message"];
        let model = text(&message["model"]);
        if model.as_deref() == Some("<synthetic>") {
            // Made up by the CLI (e.g. an API error shown as a message): no API call, no tokens.
            return self.skip("assistant/synthetic".into());
        }
        let Some(id) = text(&message["id"]) else {
            self.run.parse_errors.push(n);
            return;
        };
        if self.run.format == SourceFormat::Transcript && self.run.model.is_none() {
            self.run.model.clone_from(&model);
        }
        let i = self.turn(&id, model, n, at);
        let usage = usage(&message["usage"]);
        let turn = &mut self.run.turns[i];
        turn.first_token_at = turn.first_token_at.or(at);
        turn.request_id = turn
            .request_id
            .take()
            .or_else(|| text(&v["request_id"]))
            .or_else(|| text(&v["requestId"]));
        if let Some(u) = usage {
            let keep_output = turn.output_source == OutputSource::MessageDelta;
            let output = turn.usage.output;
            turn.usage = max_usage(&turn.usage, &u);
            if keep_output {
                turn.usage.output = output;
            } else {
                turn.reported_output_tokens = turn.usage.output;
            }
        }
        turn.stop_reason = text(&message["stop_reason"]).or(turn.stop_reason.take());
        turn.is_error |= v["isApiErrorMessage"].as_bool() == Some(true) || v["error"].is_string();
        turn.sidechain |=
            v["isSidechain"].as_bool() == Some(true) || text(&v["parent_tool_use_id"]).is_some();
        let blocks = message["content"].as_array().cloned().unwrap_or_default();
        for block in blocks.iter().filter(|b| b["type"] == "tool_use") {
            let Some(tool_id) = text(&block["id"]) else {
                continue;
            };
            if self.tools.contains_key(&tool_id) {
                continue;
            }
            let input = &block["input"];
            self.run.turns[i].tool_call_ids.push(tool_id.clone());
            self.tools
                .insert(tool_id.clone(), self.run.tool_calls.len());
            self.run.tool_calls.push(ParsedToolCall {
                id: tool_id,
                name: text(&block["name"]).unwrap_or_else(|| "unknown".into()),
                message_id: id.clone(),
                file_path: text(&input["file_path"])
                    .or_else(|| text(&input["path"]))
                    .or_else(|| text(&input["notebook_path"])),
                is_error: None,
                called_at: at,
                result_at: None,
                line: n,
            });
        }
    }

    fn user(&mut self, v: &Value, at: Option<DateTime<Utc>>) {
        let blocks = v["message"]["content"].as_array();
        let results: Vec<&Value> = blocks
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "tool_result")
            .collect();
        if results.is_empty() {
            return self.skip("user".into());
        }
        for block in results {
            let found = text(&block["tool_use_id"]).and_then(|id| self.tools.get(&id).copied());
            match found {
                Some(i) => {
                    let call = &mut self.run.tool_calls[i];
                    call.is_error = Some(block["is_error"].as_bool() == Some(true));
                    call.result_at = at;
                }
                None => self.run.orphan_tool_results += 1,
            }
        }
    }

    fn stream_event(&mut self, v: &Value, n: u64, at: Option<DateTime<Utc>>) {
        let event = &v["event"];
        let kind = event["type"].as_str().unwrap_or("(none)");
        if kind == "message_start" {
            let message = &event["message"];
            let Some(id) = text(&message["id"]) else {
                self.run.parse_errors.push(n);
                return;
            };
            let i = self.turn(&id, text(&message["model"]), n, at);
            if let Some(u) = usage(&message["usage"]) {
                let turn = &mut self.run.turns[i];
                if turn.output_source != OutputSource::MessageDelta {
                    turn.usage = max_usage(&turn.usage, &u);
                    turn.reported_output_tokens = turn.usage.output;
                }
            }
            if let Some(ms) = int(&v["ttft_ms"]).filter(|ms| *ms >= 0) {
                self.run.turns[i].ttft_ms = Some(ms);
            }
            self.streaming = Some(id);
            return;
        }
        let Some(id) = self.streaming.clone() else {
            return self.skip(format!("stream_event/{kind}"));
        };
        let i = self.turn(&id, None, n, at);
        let turn = &mut self.run.turns[i];
        match kind {
            "content_block_delta" => turn.first_token_at = turn.first_token_at.or(at),
            "message_delta" => {
                if let Some(output) = int(&event["usage"]["output_tokens"]) {
                    turn.usage.output = output;
                    turn.reported_output_tokens = output;
                    turn.output_source = OutputSource::MessageDelta;
                }
                turn.stop_reason = text(&event["delta"]["stop_reason"]).or(turn.stop_reason.take());
            }
            "message_stop" => self.streaming = None,
            _ => {}
        }
    }

    fn result(&mut self, v: &Value, n: u64) {
        let model_usage = v["modelUsage"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(model, u)| {
                let usage = super::model::ModelUsage {
                    input: int(&u["inputTokens"]).unwrap_or(0),
                    output: int(&u["outputTokens"]).unwrap_or(0),
                    cache_read: int(&u["cacheReadInputTokens"]).unwrap_or(0),
                    cache_write: int(&u["cacheCreationInputTokens"]).unwrap_or(0),
                    cache_write_1h: int(&u["cacheCreationEphemeral1hInputTokens"]).unwrap_or(0),
                    cost_usd: float(&u["costUSD"]),
                    context_window: int(&u["contextWindow"]),
                };
                (model.clone(), usage)
            })
            .collect();
        self.run.result = Some(ResultLine {
            subtype: text(&v["subtype"]).unwrap_or_default(),
            is_error: v["is_error"].as_bool() == Some(true),
            duration_ms: int(&v["duration_ms"]),
            duration_api_ms: int(&v["duration_api_ms"]),
            num_turns: int(&v["num_turns"]),
            total_cost_usd: float(&v["total_cost_usd"]),
            usage: usage(&v["usage"]),
            model_usage,
            stop_reason: text(&v["stop_reason"]),
            errors: v["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(text)
                .collect(),
            raw: serde_json::json!({ "usage": v["usage"], "modelUsage": v["modelUsage"] }),
            line: n,
        });
    }
}

/// Parses a whole stream-json text (e.g. a file) with no clock.
pub fn parse_str(text: &str) -> ParsedRun {
    let mut parser = StreamParser::new();
    for line in text.lines() {
        parser.push_line(line, None);
    }
    parser.finish()
}
