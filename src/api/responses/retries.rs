//! Response bodies of the retries endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::RetryReason;
use crate::store::retries as store_retries;

/// One retry of a session's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryRow {
    pub retry_number: i32,
    pub reason: RetryReason,
    pub original_model: Option<String>,
    pub fallback_model: Option<String>,
    /// The fallback model differs from the original one.
    pub model_fallback: bool,
    pub wait_duration_ms: Option<i32>,
    /// The attempt after this failure completed (null: not known).
    pub succeeded: Option<bool>,
    /// The retry budget ran out with this failure.
    pub exhausted: bool,
    pub error_message: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// Milliseconds since the session's previous retry (null for the first).
    pub ms_since_previous: Option<i64>,
}

impl From<store_retries::RetryRow> for RetryRow {
    fn from(r: store_retries::RetryRow) -> Self {
        Self {
            retry_number: r.retry_number,
            reason: r.reason,
            original_model: r.original_model,
            fallback_model: r.fallback_model,
            model_fallback: r.model_fallback,
            wait_duration_ms: r.wait_duration_ms,
            succeeded: r.succeeded,
            exhausted: r.exhausted,
            error_message: r.error_message,
            occurred_at: r.occurred_at,
            ms_since_previous: r.ms_since_previous,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonRate {
    pub reason: RetryReason,
    pub retries: i64,
    /// This reason's part of all retries.
    pub share: f64,
    /// Retries per model call (turn) in the window.
    pub retries_per_call: Option<f64>,
}

impl From<store_retries::ReasonRate> for ReasonRate {
    fn from(r: store_retries::ReasonRate) -> Self {
        Self {
            reason: r.reason,
            retries: r.retries,
            share: r.share,
            retries_per_call: r.retries_per_call,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelRate {
    /// The model that failed (`original_model`; `unknown` when not reported).
    pub model: String,
    pub retries: i64,
    /// Model calls (turns) of this model in the window.
    pub calls: i64,
    /// retries / calls (null without calls).
    pub retries_per_call: Option<f64>,
}

impl From<store_retries::ModelRate> for ModelRate {
    fn from(r: store_retries::ModelRate) -> Self {
        Self {
            model: r.model,
            retries: r.retries,
            calls: r.calls,
            retries_per_call: r.retries_per_call,
        }
    }
}

/// Calls that succeeded after exactly `retries` retries.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessAfter {
    pub retries: i32,
    pub calls: i64,
}

impl From<store_retries::SuccessAfter> for SuccessAfter {
    fn from(r: store_retries::SuccessAfter) -> Self {
        Self {
            retries: r.retries,
            calls: r.calls,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FallbackPair {
    /// `unknown` when the original model was not reported.
    pub from_model: String,
    pub to_model: String,
    pub count: i64,
}

impl From<store_retries::FallbackPair> for FallbackPair {
    fn from(r: store_retries::FallbackPair) -> Self {
        Self {
            from_model: r.from_model,
            to_model: r.to_model,
            count: r.count,
        }
    }
}
