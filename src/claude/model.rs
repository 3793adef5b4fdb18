//! What a Claude CLI run looked like once parsed: [`ParsedRun`], the common result of the
//! stream-json parser ([`super::stream`]) and the transcript parser ([`super::transcript`]).
//! It is plain data (Serialize + Deserialize) so it can travel as JSON from `ingest --endpoint`
//! or the `run` wrapper to a collector, which maps it to domain records ([`super::to_batch`]).
//! Every field has a serde default, so a sender built from an older or newer version still decodes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::limits::Invalid;

/// Where a [`ParsedRun`] was read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// `claude -p … --output-format stream-json --verbose`.
    #[default]
    StreamJson,
    /// A Claude Code session transcript (`~/.claude/projects/…/<session>.jsonl`).
    Transcript,
}

/// One Claude CLI invocation (stream-json) or one session transcript.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ParsedRun {
    pub format: SourceFormat,
    /// The CLI's session id (`session_id`, `sessionId`); None when no line carried one.
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    /// The model named by `system/init` (transcripts: the first assistant line's model).
    pub model: Option<String>,
    pub cli_version: Option<String>,
    /// Tools offered to the model (`system/init`).
    pub tools: Vec<String>,
    /// First and last line's time: the reader's clock (stream-json) or line timestamps
    /// (transcripts). None when lines carried no time and none was supplied.
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// One per API response (`message.id`), in order of first appearance.
    pub turns: Vec<ParsedTurn>,
    /// Every `tool_use` block, in order.
    pub tool_calls: Vec<ParsedToolCall>,
    pub retries: Vec<ParsedRetry>,
    pub compactions: Vec<ParsedCompaction>,
    /// The final `result` line, when the stream has one.
    pub result: Option<ResultLine>,
    /// Output tokens added to turns so that their sum equals `result.usage.output_tokens`
    /// (per-message figures on `assistant` lines are placeholders). None when nothing was added.
    pub reconciled_output_tokens: Option<i64>,
    /// Lines read, blank ones included (line numbers below are 1-based).
    pub lines: u64,
    pub blank_lines: u64,
    /// Lines that carried nothing we use, by `type` or `type/subtype` (hooks, rate-limit events,
    /// unknown types…). Never an error.
    pub skipped: BTreeMap<String, u64>,
    /// `tool_result` blocks naming a `tool_use` id that never appeared.
    pub orphan_tool_results: u64,
    /// The last line was not valid JSON: the stream was cut off (its line number).
    pub truncated_line: Option<u64>,
    /// Lines that were not valid JSON, or lacked what their type requires (e.g. an `assistant`
    /// line without `message.id`), other than a truncated last line.
    pub parse_errors: Vec<u64>,
    /// Exit status of the CLI, when a wrapper ran it.
    pub exit_code: Option<i32>,
    /// What `acd-collector run` measured around the CLI; None for files.
    pub wrapper: Option<WrapperRun>,
}

/// Set by the `run` wrapper (src/runner/): how the wrapped CLI ran, on the wrapper's clocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct WrapperRun {
    /// argv[0] and flags; the prompt and other free text replaced by `<redacted>`.
    pub command: Vec<String>,
    /// The child's exit code, or 128 + signal when a signal killed it.
    pub exit_code: i32,
    /// The signal that killed the child (e.g. `SIGKILL`).
    pub signal: Option<String>,
    /// Spawn → exit, on the monotonic clock.
    pub wall_clock_ms: i64,
    /// Signals that reached the wrapper while the child ran, and those it passed on (a
    /// terminal's Ctrl-C reaches the child directly and is not sent twice).
    pub signals_received: Vec<String>,
    pub signals_forwarded: Vec<String>,
    pub stdout_lines: u64,
    pub stdout_bytes: u64,
    /// The output ended without a newline (the child stopped mid-line).
    pub ended_mid_line: bool,
    /// The pipe stayed open after the child exited (a grandchild held it); reading stopped.
    pub drain_timed_out: bool,
    /// Passing the output on failed (our reader went away); the run was still read.
    pub passthrough_error: Option<String>,
}

/// Token counts as the Anthropic API reports them: `input` excludes cache reads and writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Usage {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    /// All cache writes (`cache_creation_input_tokens`).
    pub cache_write: i64,
    /// The part of `cache_write` with the 5-minute TTL (all of it when the split is not given).
    pub cache_write_5m: i64,
    /// The part of `cache_write` with the 1-hour TTL.
    pub cache_write_1h: i64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
        self.cache_write_5m += other.cache_write_5m;
        self.cache_write_1h += other.cache_write_1h;
    }
}

/// Where a turn's output token count came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutputSource {
    /// `stream_event` `message_delta.usage.output_tokens`: the true figure.
    MessageDelta,
    /// The `assistant` lines' `output_tokens`: often a placeholder (the `message_start` value).
    #[default]
    AssistantLine,
    /// The placeholder plus a share of the difference to `result.usage.output_tokens`.
    Reconciled,
}

/// One API response: all lines sharing one `message.id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ParsedTurn {
    pub message_id: String,
    /// `request_id` / `requestId` when the CLI gives it.
    pub request_id: Option<String>,
    pub model: String,
    /// Counted once per message id; `output` is final (after reconciliation).
    pub usage: Usage,
    /// Output tokens as the stream gave them, before reconciliation.
    pub reported_output_tokens: i64,
    pub output_source: OutputSource,
    /// Ids of the `tool_use` blocks of this message (from every line of the id).
    pub tool_call_ids: Vec<String>,
    /// When the request was sent: time of the line before the message's first line (or of the
    /// first line of the run).
    pub requested_at: Option<DateTime<Utc>>,
    /// First `content_block_delta` of the message, else its first `assistant` line.
    pub first_token_at: Option<DateTime<Utc>>,
    /// The CLI's own time to first token (2.1.3xx: `ttft_ms` on the `stream_event` line of
    /// `message_start`, with `--include-partial-messages`), measured from the request it sent,
    /// so it beats the difference of line times, which include the CLI's own processing.
    pub ttft_ms: Option<i64>,
    /// Last line of the message (`message_stop`, or its last `assistant` line).
    pub finished_at: Option<DateTime<Utc>>,
    pub stop_reason: Option<String>,
    /// An API error surfaced as a message (`isApiErrorMessage`, `error` field).
    pub is_error: bool,
    /// A sub-agent's call (`parent_tool_use_id` set, or `isSidechain`).
    pub sidechain: bool,
    pub first_line: u64,
    pub last_line: u64,
}

/// One `tool_use` block and, when seen, its `tool_result`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ParsedToolCall {
    pub id: String,
    pub name: String,
    pub message_id: String,
    /// The input's `file_path`, `path` or `notebook_path`.
    pub file_path: Option<String>,
    /// From the matching `tool_result`; None when no result was seen.
    pub is_error: Option<bool>,
    pub called_at: Option<DateTime<Utc>>,
    pub result_at: Option<DateTime<Utc>>,
    pub line: u64,
}

/// A `system/api_retry` line: the CLI is about to retry a failed API call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ParsedRetry {
    pub attempt: i64,
    pub max_retries: Option<i64>,
    /// Fractional in real streams (e.g. 523.18).
    pub retry_delay_ms: Option<f64>,
    pub error_status: Option<i64>,
    pub error: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub line: u64,
}

/// A context compaction (`system/compact_boundary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ParsedCompaction {
    /// `auto` or `manual`.
    pub trigger: Option<String>,
    /// Context size before compaction.
    pub pre_tokens: Option<i64>,
    pub at: Option<DateTime<Utc>>,
    pub line: u64,
}

/// The `result` line: the CLI's own totals for the invocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ResultLine {
    pub subtype: String,
    /// True for a failed run; can be true with subtype `success`.
    pub is_error: bool,
    pub duration_ms: Option<i64>,
    pub duration_api_ms: Option<i64>,
    pub num_turns: Option<i64>,
    /// The CLI's own cost estimate for the whole invocation.
    pub total_cost_usd: Option<f64>,
    pub usage: Option<Usage>,
    /// Per model (`modelUsage`; absent before mid-2025 CLIs).
    pub model_usage: BTreeMap<String, ModelUsage>,
    pub stop_reason: Option<String>,
    pub errors: Vec<String>,
    /// `usage` and `modelUsage` verbatim.
    #[schema(value_type = Object)]
    pub raw: Value,
    pub line: u64,
}

impl ResultLine {
    /// A failed run: `is_error`, or an `error_*` subtype (max turns, error during execution).
    pub fn failed(&self) -> bool {
        self.is_error || self.subtype.starts_with("error")
    }
}

/// One entry of `modelUsage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ModelUsage {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
    /// The part of `cache_write` with the 1-hour TTL (2.1.3xx:
    /// `cacheCreationEphemeral1hInputTokens`).
    pub cache_write_1h: i64,
    pub cost_usd: Option<f64>,
    pub context_window: Option<i64>,
}

impl ParsedRun {
    /// Sum of the turns' usage (each message id once).
    pub fn turn_totals(&self) -> Usage {
        let mut total = Usage::default();
        for t in &self.turns {
            total.add(&t.usage);
        }
        total
    }

    /// Per-turn parsing may have lost data: lines that did not parse, or a cut-off stream.
    pub fn incomplete(&self) -> bool {
        !self.parse_errors.is_empty() || self.truncated_line.is_some()
    }
}

impl ParsedRun {
    /// Rejects runs that cannot be stored faithfully (a hand-made or corrupted JSON body).
    pub fn validate(&self) -> Result<(), Invalid> {
        // A wrapped CLI that printed nothing is still a run: its exit status is the record.
        if self.lines == 0
            && self.turns.is_empty()
            && self.result.is_none()
            && self.wrapper.is_none()
        {
            return Err("empty run: no lines, turns or result".into());
        }
        // Token counts are checked per turn when the run is mapped (`to_batch`): a turn past
        // the limits is refused alone, not the run.
        for t in &self.turns {
            if t.message_id.is_empty() {
                return Err("a turn has an empty message_id".into());
            }
        }
        if let Some(bad) = self
            .tool_calls
            .iter()
            .find(|c| c.id.is_empty() || c.name.is_empty())
        {
            return Err(format!("tool call {:?} needs an id and a name", bad.id).into());
        }
        if let (Some(start), Some(end)) = (self.started_at, self.ended_at)
            && end < start
        {
            return Err("ended_at is before started_at".into());
        }
        Ok(())
    }
}
