//! Typed label sets for every metric family, and the guard that keeps the `model` label bounded:
//! model names come from clients, so only the first [`MAX_MODELS`] distinct names get their own
//! series and the rest share `other`.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};

pub const MAX_MODELS: usize = 64;
const MAX_LABEL_LEN: usize = 96;
pub const OTHER_MODEL: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

/// A model call's model and what it was for (main turn, side call, subagent call).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelCallLabels {
    pub model: String,
    pub kind: CallKindLabel,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum CallKindLabel {
    main,
    side,
    subagent,
}

impl CallKindLabel {
    pub fn of(kind: crate::domain::CallKind) -> Self {
        match kind {
            crate::domain::CallKind::Main => Self::main,
            crate::domain::CallKind::Side => Self::side,
            crate::domain::CallKind::Subagent => Self::subagent,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub model: String,
    pub r#type: TokenType,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum TokenType {
    input,
    output,
    cache_read,
    cache_write,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SessionLabels {
    pub status: SessionStatusLabel,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum SessionStatusLabel {
    completed,
    failed,
    /// Closed after going idle with its work unfinished (see `--session-idle-seconds`).
    abandoned,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SpanOutcomeLabels {
    pub outcome: SpanOutcome,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum SpanOutcome {
    /// Stored for the first time.
    accepted,
    /// Already stored: a retried delivery, counted once.
    duplicate,
    /// Invalid (bad ids, timestamps or counts); reported as OTLP partial success.
    rejected,
    /// Valid but not a session, turn or tool span: acknowledged, not stored.
    ignored,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestFailureLabels {
    pub reason: RequestFailure,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum RequestFailure {
    /// PostgreSQL unreachable: answered with the retryable status.
    unavailable,
    /// Undecodable body, wrong content type or encoding.
    invalid,
    /// Body over the size limit.
    too_large,
    /// The spool is full: answered with the retryable status.
    overloaded,
    internal,
}

/// Bounds the set of `model` label values.
#[derive(Debug, Default)]
pub struct ModelGuard {
    seen: Mutex<HashSet<String>>,
}

impl ModelGuard {
    pub fn label(&self, model: &str) -> String {
        let model: String = model.chars().take(MAX_LABEL_LEN).collect();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(&model) {
            return model;
        }
        if seen.len() < MAX_MODELS {
            seen.insert(model.clone());
            return model;
        }
        OTHER_MODEL.to_string()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    pub target: String,
}

/// Label of test runs whose session has no target (yet).
pub const NO_TARGET: &str = "none";

/// Bounds the `target` label of the test metrics: the target's name, else its id; the first
/// [`MAX_MODELS`] distinct values get their own series, the rest share `other`.
#[derive(Debug, Default)]
pub struct TargetGuard {
    seen: ModelGuard,
}

impl TargetGuard {
    pub fn label(&self, target: Option<&crate::domain::RunTarget>) -> String {
        let Some(target) = target else {
            return NO_TARGET.to_string();
        };
        match target.name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => self.seen.label(name),
            _ => self.seen.label(&target.id.to_string()),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TestLabels {
    pub target: String,
    pub result: TestResult,
}

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum TestResult {
    passed,
    failed,
    error,
    skipped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_labelled_by_name_else_id_and_capped() {
        use crate::domain::RunTarget;
        let guard = TargetGuard::default();
        let id = uuid::Uuid::from_u128(1);
        let named = RunTarget {
            id,
            name: Some("demo".into()),
        };
        let unnamed = RunTarget { id, name: None };
        assert_eq!(guard.label(Some(&named)), "demo");
        assert_eq!(guard.label(Some(&unnamed)), id.to_string());
        assert_eq!(guard.label(None), NO_TARGET);
        for i in 0..MAX_MODELS {
            let t = RunTarget {
                id,
                name: Some(format!("t{i}")),
            };
            guard.label(Some(&t));
        }
        let late = RunTarget {
            id,
            name: Some("late".into()),
        };
        assert_eq!(guard.label(Some(&late)), OTHER_MODEL);
        assert_eq!(guard.label(Some(&named)), "demo");
    }

    #[test]
    fn models_past_the_cap_share_one_label() {
        let guard = ModelGuard::default();
        for i in 0..MAX_MODELS {
            assert_eq!(guard.label(&format!("m{i}")), format!("m{i}"));
        }
        assert_eq!(guard.label("one-too-many"), OTHER_MODEL);
        assert_eq!(guard.label("m0"), "m0");
    }
}
