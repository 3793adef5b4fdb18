//! Response bodies of the claude metrics endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::claude_metrics as store_claude_metrics;

/// One series of a session, with what its committed points add up to.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesTotal {
    pub metric: String,
    pub unit: String,
    /// The data point attributes that name the series (sorted keys).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    /// Sum of the increments of all points received (delta values; cumulative differences).
    pub total: f64,
    /// Points that added to the total (retried exports are not counted).
    pub points: i32,
    pub first_point_at: Option<DateTime<Utc>>,
    pub last_point_at: Option<DateTime<Utc>>,
}

impl From<store_claude_metrics::SeriesTotal> for SeriesTotal {
    fn from(r: store_claude_metrics::SeriesTotal) -> Self {
        Self {
            metric: r.metric,
            unit: r.unit,
            attributes: r.attributes,
            total: r.total,
            points: r.points,
            first_point_at: r.first_point_at,
            last_point_at: r.last_point_at,
        }
    }
}
