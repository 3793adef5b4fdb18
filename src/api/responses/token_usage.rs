//! Response bodies of the token usage endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::token_usage as store_token_usage;

#[derive(Debug, Serialize, ToSchema)]
pub struct DailyUsage {
    pub day: DateTime<Utc>,
    /// Uncached input tokens.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub requests: i64,
    pub cost_usd: f64,
}

impl From<store_token_usage::DailyUsage> for DailyUsage {
    fn from(r: store_token_usage::DailyUsage) -> Self {
        Self {
            day: r.day,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            requests: r.requests,
            cost_usd: r.cost_usd,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelTotals {
    pub model: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// Model calls of every kind (turns, side and subagent calls).
    pub requests: i64,
    pub cost_usd: f64,
    /// Mean over calls of (input + cache read + cache write) / context window.
    pub context_utilization: Option<f64>,
}

impl From<crate::store::token_usage::ModelTotals> for ModelTotals {
    fn from(r: crate::store::token_usage::ModelTotals) -> Self {
        Self {
            model: r.model,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            requests: r.requests,
            cost_usd: r.cost_usd,
            context_utilization: r.context_utilization,
        }
    }
}
