//! Response bodies of the sessions endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{SessionState, TotalsSource};
use crate::store::sessions as store_sessions;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionSummary {
    pub id: Uuid,
    /// The id as the producer sent it (`gen_ai.conversation.id`).
    pub external_id: String,
    pub target_id: Option<Uuid>,
    pub target_name: Option<String>,
    pub feature_id: Option<String>,
    /// running (turns seen, session span not yet) | completed | failed
    pub status: SessionState,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub wall_clock_ms: Option<i32>,
    /// Sum of the turns' durations.
    pub api_latency_ms: Option<i32>,
    /// Median time to first token over the turns.
    pub time_to_first_token_ms: Option<i32>,
    pub turn_count: i32,
    /// Uncached input tokens.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// Part of `cache_write_tokens` written with the 1-hour TTL.
    pub cache_write_1h_tokens: i64,
    /// Our cost: tokens × the price table.
    pub cost_usd: f64,
    /// The source's own cost figure (Claude Code's `cost_usd` per call, or a stream-json
    /// `total_cost_usd`), when it gave one.
    pub reported_cost_usd: Option<f64>,
    /// `cost_usd − reported_cost_usd`.
    pub cost_difference_usd: Option<f64>,
    /// turns: totals are sums of the turns; result: per-turn parsing was incomplete and the
    /// totals are the source's session-level figures.
    pub totals_source: TotalsSource,
    /// `num_turns`, `duration_ms` and `duration_api_ms` as the source reported them.
    pub reported_num_turns: Option<i32>,
    pub reported_duration_ms: Option<i64>,
    pub reported_api_ms: Option<i64>,
    pub retry_count: i32,
    pub max_retries_hit: bool,
    pub model_fallbacks: i32,
    pub features_completed: Option<i32>,
    /// Tests over all test runs of the session (`tests_failed` includes errors).
    pub tests_run: i32,
    pub tests_passed: i32,
    pub tests_failed: i32,
    /// passed / (run − skipped) over the session's test runs; null when no test ran.
    pub test_pass_rate: Option<f64>,
}

impl From<store_sessions::SessionSummary> for SessionSummary {
    fn from(r: store_sessions::SessionSummary) -> Self {
        Self {
            id: r.id,
            external_id: r.external_id,
            target_id: r.target_id,
            target_name: r.target_name,
            feature_id: r.feature_id,
            status: r.status,
            started_at: r.started_at,
            ended_at: r.ended_at,
            wall_clock_ms: r.wall_clock_ms,
            api_latency_ms: r.api_latency_ms,
            time_to_first_token_ms: r.time_to_first_token_ms,
            turn_count: r.turn_count,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cache_write_1h_tokens: r.cache_write_1h_tokens,
            cost_usd: r.cost_usd,
            reported_cost_usd: r.reported_cost_usd,
            cost_difference_usd: r.cost_difference_usd,
            totals_source: r.totals_source,
            reported_num_turns: r.reported_num_turns,
            reported_duration_ms: r.reported_duration_ms,
            reported_api_ms: r.reported_api_ms,
            retry_count: r.retry_count,
            max_retries_hit: r.max_retries_hit,
            model_fallbacks: r.model_fallbacks,
            features_completed: r.features_completed,
            tests_run: r.tests_run,
            tests_passed: r.tests_passed,
            tests_failed: r.tests_failed,
            test_pass_rate: r.test_pass_rate,
        }
    }
}
