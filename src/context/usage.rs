//! What one turn's context window held: the segments a harness reports as `acd.context.*` span
//! attributes, else the prompt's size from its usage (input + cache read + cache write), against
//! the limit (`acd.context.limit`, else the model's window). Overflow: over the limit, or the
//! call failed with "prompt is too long". Compaction boundaries are added by the store, which
//! sees the whole session.

use serde_json::Value;

use crate::domain::TurnRecord;

pub const SEGMENT_ATTRIBUTES: [&str; 4] = [
    "acd.context.system_tokens",
    "acd.context.feature_tokens",
    "acd.context.file_tokens",
    "acd.context.conversation_tokens",
];
pub const LIMIT_ATTRIBUTE: &str = "acd.context.limit";

/// Attributes where a failed call's error text may be.
const ERROR_ATTRIBUTES: [&str; 4] = [
    "error.message",
    "exception.message",
    "otel.status_message",
    "acd.error.message",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    OverLimit,
    PromptTooLong,
    Compaction,
}

impl Overflow {
    pub fn as_str(self) -> &'static str {
        match self {
            Overflow::OverLimit => "over_limit",
            Overflow::PromptTooLong => "prompt_too_long",
            Overflow::Compaction => "compaction",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TurnContext {
    /// system, feature, files, conversation; None when the source did not break it down.
    pub segments: Option<[i64; 4]>,
    pub total: i64,
    pub limit: i64,
    pub utilization: f64,
    pub overflow: Option<Overflow>,
}

fn int(attrs: &Value, key: &str) -> Option<i64> {
    match &attrs[key] {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| *n >= 0)
}

/// True when an error text says the prompt did not fit (Anthropic: "prompt is too long").
pub fn is_prompt_too_long(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("prompt is too long") || t.contains("context_length_exceeded")
}

impl TurnContext {
    pub fn of(turn: &TurnRecord) -> Self {
        let a = &turn.attributes;
        let parts = SEGMENT_ATTRIBUTES.map(|k| int(a, k));
        let segments = parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.map(|p| p.unwrap_or(0)));
        let u = turn.usage;
        let total = match segments {
            Some(s) => s.iter().sum(),
            None => u.input + u.cache_read + u.cache_write,
        };
        let limit = int(a, LIMIT_ATTRIBUTE)
            .filter(|l| *l > 0)
            .unwrap_or(i64::from(turn.context_window))
            .max(1);
        let too_long = turn.failed
            && ERROR_ATTRIBUTES
                .iter()
                .filter_map(|k| a[*k].as_str())
                .any(is_prompt_too_long);
        let overflow = if total > limit {
            Some(Overflow::OverLimit)
        } else if too_long {
            Some(Overflow::PromptTooLong)
        } else {
            None
        };
        Self {
            segments,
            total,
            limit,
            utilization: total as f64 / limit as f64,
            overflow,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use serde_json::json;

    use super::*;
    use crate::domain::{SpanKey, TokenUsage};

    fn turn(attributes: Value, failed: bool) -> TurnRecord {
        TurnRecord {
            key: SpanKey {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
            },
            parent_span_id: None,
            session_id: None,
            session_external_id: None,
            turn_number: Some(1),
            provider: None,
            model: "m".into(),
            response_model: None,
            reported_input_tokens: None,
            usage: TokenUsage {
                input: 1_000,
                output: 10,
                cache_read: 9_000,
                cache_write: 0,
                cache_write_1h: 0,
            },
            started_at: DateTime::UNIX_EPOCH,
            finished_at: DateTime::UNIX_EPOCH,
            time_to_first_token_ms: None,
            cost_usd: 0.0,
            call_kind: crate::domain::CallKind::Main,
            query_source: None,
            reported_cost_usd: None,
            priced: true,
            context_window: 20_000,
            failed,
            attributes,
        }
    }

    #[test]
    fn usage_gives_the_total_when_segments_are_missing() {
        let c = TurnContext::of(&turn(json!({}), false));
        assert_eq!((c.segments, c.total, c.limit), (None, 10_000, 20_000));
        assert_eq!(c.utilization, 0.5);
        assert_eq!(c.overflow, None);
    }

    #[test]
    fn segments_may_come_as_strings_and_a_missing_one_is_zero() {
        let c = TurnContext::of(&turn(
            json!({"acd.context.system_tokens": "2000", "acd.context.file_tokens": 19_000,
                   "acd.context.limit": 16_000}),
            false,
        ));
        assert_eq!(c.segments, Some([2_000, 0, 19_000, 0]));
        assert_eq!((c.total, c.limit), (21_000, 16_000));
        assert_eq!(c.overflow, Some(Overflow::OverLimit));
    }

    #[test]
    fn a_failed_call_that_was_too_long_overflowed() {
        let text =
            json!({"otel.status_message": "400: prompt is too long: 210000 tokens > 200000"});
        assert_eq!(
            TurnContext::of(&turn(text.clone(), true)).overflow,
            Some(Overflow::PromptTooLong)
        );
        assert_eq!(
            TurnContext::of(&turn(text, false)).overflow,
            None,
            "only failed calls"
        );
        let other = json!({"error.message": "overloaded"});
        assert_eq!(TurnContext::of(&turn(other, true)).overflow, None);
    }
}
