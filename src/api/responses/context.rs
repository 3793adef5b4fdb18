//! Response bodies of the context endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::context as store_context;

/// One turn's context, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TurnContextRow {
    pub turn_number: Option<i32>,
    pub model: Option<String>,
    pub system_tokens: i32,
    pub feature_tokens: i32,
    pub file_tokens: i32,
    pub conversation_tokens: i32,
    pub total_tokens: i32,
    pub context_limit: i32,
    pub utilization: Option<f64>,
    /// The source broke the prompt into segments (`acd.context.*`); else only the total is known.
    pub segments_reported: bool,
    pub overflow: bool,
    /// over_limit | prompt_too_long | compaction
    pub overflow_reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

impl From<store_context::TurnContextRow> for TurnContextRow {
    fn from(r: store_context::TurnContextRow) -> Self {
        Self {
            turn_number: r.turn_number,
            model: r.model,
            system_tokens: r.system_tokens,
            feature_tokens: r.feature_tokens,
            file_tokens: r.file_tokens,
            conversation_tokens: r.conversation_tokens,
            total_tokens: r.total_tokens,
            context_limit: r.context_limit,
            utilization: r.utilization,
            segments_reported: r.segments_reported,
            overflow: r.overflow,
            overflow_reason: r.overflow_reason,
            started_at: r.started_at,
        }
    }
}
