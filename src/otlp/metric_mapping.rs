//! Maps an OTLP metrics request to [`MetricBatch`]: every data point of a monotonic Sum named
//! `claude_code.*` becomes a [`MetricPoint`] with its series identity (metric name + sorted data
//! point attributes, session from `session.id`). Everything else (other metrics, gauges,
//! histograms, summaries, non-monotonic sums) is valid OTLP we do not keep: counted as ignored.
//! Invalid points of ours (no time, no value, not finite, negative, unknown temporality) are
//! rejected and reported as partial success; the rest of the request still lands.

use crate::domain::limits::Invalid;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, NumberDataPoint, Sum};
use serde_json::Value;
use uuid::Uuid;

use super::attributes::{Attributes, to_json};
use crate::domain::{ID_NAMESPACE, session_uuid};
use crate::metric_points::{MetricBatch, MetricPoint, PointRejection, Temporality};

/// Metric names we keep: Claude Code's meter prefixes every instrument with this.
pub const CLAUDE_CODE_PREFIX: &str = "claude_code.";
/// Latest accepted timestamp (year 2262 is where i64 nanoseconds end anyway).
const MAX_UNIX_SECONDS: i64 = 9_000_000_000;

pub fn map_metrics_request(request: &ExportMetricsServiceRequest) -> MetricBatch {
    let mut batch = MetricBatch::default();
    for resource_metrics in &request.resource_metrics {
        let resource: &[KeyValue] = resource_metrics
            .resource
            .as_ref()
            .map_or(&[], |r| r.attributes.as_slice());
        let resource_json = to_json(resource);
        for scope in &resource_metrics.scope_metrics {
            for metric in &scope.metrics {
                let ours = metric.name.starts_with(CLAUDE_CODE_PREFIX);
                match &metric.data {
                    Some(Data::Sum(sum)) if ours && sum.is_monotonic => map_sum(
                        &mut batch,
                        &metric.name,
                        &metric.unit,
                        sum,
                        resource,
                        &resource_json,
                    ),
                    data => batch.ignored += data.as_ref().map_or(0, point_count),
                }
            }
        }
    }
    batch
}

fn point_count(data: &Data) -> usize {
    match data {
        Data::Gauge(g) => g.data_points.len(),
        Data::Sum(s) => s.data_points.len(),
        Data::Histogram(h) => h.data_points.len(),
        Data::ExponentialHistogram(h) => h.data_points.len(),
        Data::Summary(s) => s.data_points.len(),
    }
}

fn map_sum(
    batch: &mut MetricBatch,
    name: &str,
    unit: &str,
    sum: &Sum,
    resource: &[KeyValue],
    resource_json: &Value,
) {
    let temporality = match AggregationTemporality::try_from(sum.aggregation_temporality) {
        Ok(AggregationTemporality::Delta) => Some(Temporality::Delta),
        Ok(AggregationTemporality::Cumulative) => Some(Temporality::Cumulative),
        _ => None,
    };
    for point in &sum.data_points {
        let mapped = match temporality {
            Some(temporality) => map_point(name, unit, temporality, point, resource, resource_json),
            None => Err(Invalid(format!(
                "unknown aggregation temporality {}",
                sum.aggregation_temporality
            ))),
        };
        match mapped {
            Ok(point) => batch.points.push(point),
            Err(reason) => batch.rejected.push(PointRejection {
                metric: name.to_string(),
                reason: reason.to_string(),
            }),
        }
    }
}

fn map_point(
    name: &str,
    unit: &str,
    temporality: Temporality,
    point: &NumberDataPoint,
    resource: &[KeyValue],
    resource_json: &Value,
) -> Result<MetricPoint, Invalid> {
    let value = match point.value {
        Some(Number::AsDouble(d)) => d,
        Some(Number::AsInt(i)) => i as f64,
        None => return Err("data point has no value".into()),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(format!("a counter cannot be {value}").into());
    }
    let time = timestamp(point.time_unix_nano).ok_or("data point has no valid time")?;
    // Start 0 is allowed (unknown start): the Unix epoch then stands for it.
    let start = if point.start_time_unix_nano == 0 {
        DateTime::UNIX_EPOCH
    } else {
        timestamp(point.start_time_unix_nano).ok_or("data point has an invalid start time")?
    };
    if start > time {
        return Err("data point starts after its time".into());
    }
    let attributes = sorted(to_json(&point.attributes));
    // Claude Code puts session.id on the data point; the resource is a fallback.
    let session_external_id = Attributes::new(&point.attributes, resource).str("session.id");
    Ok(MetricPoint {
        series_id: series_id(name, &attributes),
        metric: name.to_string(),
        unit: unit.to_string(),
        session_id: session_external_id.as_deref().map(session_uuid),
        session_external_id,
        attributes,
        resource: resource_json.clone(),
        temporality,
        start,
        time,
        value,
    })
}

/// The series identity: UUIDv5 of the name and the attributes' canonical JSON (sorted keys).
pub fn series_id(name: &str, sorted_attributes: &Value) -> Uuid {
    let canonical = format!("claude_code_metric\n{name}\n{sorted_attributes}");
    Uuid::new_v5(&ID_NAMESPACE, canonical.as_bytes())
}

/// The same object with its keys in order, whatever map type serde_json was built with.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: BTreeMap<String, Value> = map.into_iter().collect();
            Value::Object(ordered.into_iter().collect())
        }
        other => other,
    }
}

/// Truncated to microseconds, PostgreSQL's precision: a point must compare equal to its stored
/// copy, or a retried cumulative export would look newer than itself.
fn timestamp(unix_nanos: u64) -> Option<DateTime<Utc>> {
    let secs = (unix_nanos / 1_000_000_000) as i64;
    if unix_nanos == 0 || secs > MAX_UNIX_SECONDS {
        return None;
    }
    let micros = (unix_nanos % 1_000_000_000) / 1_000;
    DateTime::from_timestamp(secs, (micros * 1_000) as u32)
}

#[cfg(test)]
#[path = "metric_mapping_tests.rs"]
mod tests;
