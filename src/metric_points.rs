//! Domain records of OTLP metric data points: what the metrics mapping makes of Claude Code's
//! `claude_code.*` counters, what the store writes, and what the Prometheus metrics count.
//! Also the temporality arithmetic: how much a point adds to its series' running total.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    /// Each point carries the increment since the previous point (Claude Code's default).
    Delta,
    /// Each point carries the running total since its start time.
    Cumulative,
}

impl Temporality {
    pub fn as_str(self) -> &'static str {
        match self {
            Temporality::Delta => "delta",
            Temporality::Cumulative => "cumulative",
        }
    }
}

/// One data point of a monotonic Sum, with the identity of its series.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    /// UUIDv5 of the metric name and the sorted attributes: the same series from any export.
    pub series_id: Uuid,
    pub metric: String,
    pub unit: String,
    /// The data point's attributes as a JSON object with sorted keys.
    pub attributes: Value,
    pub resource: Value,
    pub session_id: Option<Uuid>,
    pub session_external_id: Option<String>,
    pub temporality: Temporality,
    pub start: DateTime<Utc>,
    pub time: DateTime<Utc>,
    pub value: f64,
}

impl MetricPoint {
    /// A string attribute of the point (`model`, `type`, ...).
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }
}

/// A data point that could not be accepted, and why (reported back as OTLP partial success).
#[derive(Debug, Clone)]
pub struct PointRejection {
    pub metric: String,
    pub reason: String,
}

/// Everything one OTLP metrics request maps to.
#[derive(Debug, Default)]
pub struct MetricBatch {
    pub points: Vec<MetricPoint>,
    pub rejected: Vec<PointRejection>,
    /// Valid data points we do not keep: other metrics, gauges, histograms, summaries.
    pub ignored: usize,
}

/// What the store committed for a batch.
#[derive(Debug, Default, Clone)]
pub struct MetricReport {
    /// (index into [`MetricBatch::points`], increment) of each point that was new. The increment
    /// may be 0 (a cumulative point that did not move): the series still exists.
    pub new_points: Vec<(usize, f64)>,
    /// Points already stored, or older than what is stored: they add nothing.
    pub duplicates: usize,
}

/// What a cumulative point adds, given the stored (time, value) for the same series and start
/// time. `None` when it adds nothing because it is not newer (a retried or late export).
///
/// - first point of a start time (a new series, or a reset): the whole value;
/// - a newer point: new − previous, never negative (a monotonic counter cannot go down; a
///   decrease without a new start time is a producer bug and must not subtract from totals).
pub fn cumulative_increment(
    previous: Option<(DateTime<Utc>, f64)>,
    time: DateTime<Utc>,
    value: f64,
) -> Option<f64> {
    match previous {
        None => Some(value),
        Some((prev_time, prev_value)) if time > prev_time => Some((value - prev_value).max(0.0)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn the_first_point_of_a_start_time_adds_its_whole_value() {
        assert_eq!(cumulative_increment(None, t(60), 42.0), Some(42.0));
        // A reset is a new start time, so the store finds no previous point for it.
        assert_eq!(cumulative_increment(None, t(600), 5.0), Some(5.0));
    }

    #[test]
    fn a_newer_point_adds_the_difference() {
        assert_eq!(
            cumulative_increment(Some((t(60), 42.0)), t(120), 50.5),
            Some(8.5)
        );
        // A point that did not move is new but adds nothing.
        assert_eq!(
            cumulative_increment(Some((t(60), 42.0)), t(120), 42.0),
            Some(0.0)
        );
    }

    #[test]
    fn a_retried_or_late_point_adds_nothing() {
        assert_eq!(
            cumulative_increment(Some((t(120), 50.0)), t(120), 50.0),
            None
        );
        assert_eq!(
            cumulative_increment(Some((t(120), 50.0)), t(60), 42.0),
            None
        );
    }

    #[test]
    fn a_decrease_without_a_reset_never_subtracts() {
        assert_eq!(
            cumulative_increment(Some((t(60), 42.0)), t(120), 40.0),
            Some(0.0)
        );
    }

    #[test]
    fn a_sequence_of_exports_sums_to_the_last_value_per_start_time() {
        // Exports at 60 s, 120 s, 120 s again (retry), 180 s; then a restart at 200 s.
        let exports = [
            (0, t(60), 10.0),
            (0, t(120), 25.0),
            (0, t(120), 25.0),
            (0, t(180), 31.0),
            (200, t(260), 4.0),
            (200, t(320), 9.0),
        ];
        let mut stored: std::collections::HashMap<i64, (DateTime<Utc>, f64)> = Default::default();
        let mut total = 0.0;
        for (start, time, value) in exports {
            if let Some(inc) = cumulative_increment(stored.get(&start).copied(), time, value) {
                total += inc;
                stored.insert(start, (time, value));
            }
        }
        assert_eq!(total, 31.0 + 9.0);
    }
}
