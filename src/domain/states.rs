//! The closed sets of values that columns hold as text, as enums. Each variant's text is exactly
//! what the database stores (and what the JSON shows), so reading a row into one of these
//! changes nothing on the wire; an unknown value in a row is a decode error, not a new state.

use serde::Serialize;
use utoipa::ToSchema;

/// What a span of the `otlp_spans` ledger was stored as (`otlp_spans.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SpanKind {
    Session,
    Turn,
    Tool,
    Retry,
    TestRun,
}

impl SpanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Session => "session",
            SpanKind::Turn => "turn",
            SpanKind::Tool => "tool",
            SpanKind::Retry => "retry",
            SpanKind::TestRun => "test_run",
        }
    }
}

/// A session's status as stored (`harness_sessions.status`): `running` until its session span
/// arrives (turns seen first), then what the span said. A session without a span of its own
/// (Claude Code's events) is closed when it has been idle for `--session-idle-seconds`:
/// `completed` when its last model call succeeded and no tool ran after it, else `abandoned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SessionState {
    Running,
    Completed,
    Failed,
    Abandoned,
}

/// Where a session's totals come from (`harness_sessions.totals_source`, CHECKed in 0006).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TotalsSource {
    /// Sums of the turns.
    Turns,
    /// Per-turn parsing was incomplete: the source's session-level figures.
    Result,
}

/// State of a reindex job (`codebase_index_jobs.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum IndexJobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl IndexJobState {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexJobState::Queued => "queued",
            IndexJobState::Running => "running",
            IndexJobState::Succeeded => "succeeded",
            IndexJobState::Failed => "failed",
        }
    }
}

/// Why a model call was retried (`session_retries.reason`), also a metric label; see
/// [`crate::domain::retry_reason`] for how one is chosen. HTTP 5xx and connection failures are
/// `error`: their status and text stay in `error_message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RetryReason {
    RateLimit,
    Overloaded,
    Error,
    Timeout,
    ModelFallback,
}

impl RetryReason {
    pub const ALL: [RetryReason; 5] = [
        RetryReason::RateLimit,
        RetryReason::Overloaded,
        RetryReason::Error,
        RetryReason::Timeout,
        RetryReason::ModelFallback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::RateLimit => "rate_limit",
            RetryReason::Overloaded => "overloaded",
            RetryReason::Error => "error",
            RetryReason::Timeout => "timeout",
            RetryReason::ModelFallback => "model_fallback",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_is_the_column_text() {
        let json = |v: &dyn erased::Json| v.text();
        assert_eq!(json(&SpanKind::TestRun), SpanKind::TestRun.as_str());
        assert_eq!(json(&IndexJobState::Succeeded), "succeeded");
        assert_eq!(json(&TotalsSource::Result), "result");
        assert_eq!(json(&SessionState::Running), "running");
        for source in [
            crate::domain::TestRunSource::Span,
            crate::domain::TestRunSource::Junit,
            crate::domain::TestRunSource::LibtestJson,
            crate::domain::TestRunSource::NextestJson,
        ] {
            assert_eq!(json(&source), source.as_str());
        }
        for (reason, text) in [
            RetryReason::RateLimit,
            RetryReason::Overloaded,
            RetryReason::Error,
            RetryReason::Timeout,
            RetryReason::ModelFallback,
        ]
        .into_iter()
        .zip(RetryReason::ALL.map(RetryReason::as_str))
        {
            assert_eq!(json(&reason), text);
            assert_eq!(reason.as_str(), text);
        }
    }

    mod erased {
        pub trait Json {
            fn text(&self) -> String;
        }
        impl<T: serde::Serialize> Json for T {
            fn text(&self) -> String {
                serde_json::to_value(self)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        }
    }
}

/// How a model call or tool call ended (`session_turns.status`, `session_tool_calls.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CallStatus {
    Ok,
    Error,
}

impl CallStatus {
    pub fn of(failed: bool) -> Self {
        if failed { Self::Error } else { Self::Ok }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }
}

/// What a model call was for (`session_turns.call_kind`, CHECKed in 0022). Only `main` calls
/// are turns: they are numbered, counted in `turn_count` and in the latency and TTFT figures.
/// `side` calls (a tool's helper call such as WebFetch's summary, compaction, titles) and
/// `subagent` calls are billed like any other, so they count in tokens and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CallKind {
    #[default]
    Main,
    Side,
    Subagent,
}

impl CallKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Main => "main",
            CallKind::Side => "side",
            CallKind::Subagent => "subagent",
        }
    }

    /// Claude Code's `query_source`, classified as Claude Code itself does (2.1.328): the main
    /// thread is `sdk` (print mode) or `repl_main_thread…`; `agent:…` and `hook_agent` are
    /// subagents; anything else is an auxiliary call. No source (older versions, other
    /// harnesses) is a main call.
    pub fn of_query_source(source: Option<&str>) -> Self {
        match source {
            None => CallKind::Main,
            Some(s) if s == "sdk" || s.starts_with("repl_main_thread") => CallKind::Main,
            Some(s) if s.starts_with("agent:") || s == "hook_agent" => CallKind::Subagent,
            Some(_) => CallKind::Side,
        }
    }
}

#[cfg(test)]
mod call_kind_tests {
    use super::CallKind;

    #[test]
    fn query_sources_are_classified_like_claude_code() {
        for (source, kind) in [
            (None, CallKind::Main),
            (Some("sdk"), CallKind::Main),
            (Some("repl_main_thread"), CallKind::Main),
            (Some("repl_main_thread:outputStyle:x"), CallKind::Main),
            (Some("agent:builtin"), CallKind::Subagent),
            (Some("agent:custom"), CallKind::Subagent),
            (Some("hook_agent"), CallKind::Subagent),
            (Some("web_fetch_apply"), CallKind::Side),
            (Some("compact"), CallKind::Side),
            (Some("generate_session_title"), CallKind::Side),
        ] {
            assert_eq!(CallKind::of_query_source(source), kind, "{source:?}");
        }
    }
}
