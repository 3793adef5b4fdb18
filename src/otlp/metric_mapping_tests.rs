//! Unit tests of the metrics mapping: what is kept, ignored and rejected, and series identity.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Any};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, ResourceMetrics, ScopeMetrics, metric::Data,
};

use super::*;

const T0: u64 = 1_800_000_000_000_000_000;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn point(attrs: Vec<KeyValue>, value: Number) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: T0,
        time_unix_nano: T0 + 60_000_000_000,
        value: Some(value),
        ..Default::default()
    }
}

fn sum(name: &str, temporality: AggregationTemporality, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: "tokens".into(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn claude_code_sums_become_points_with_their_session() {
    let attrs = vec![
        kv("type", "input"),
        kv("session.id", "sess-1"),
        kv("model", "claude-sonnet-4-5"),
    ];
    let batch = map_metrics_request(&request(vec![sum(
        "claude_code.token.usage",
        AggregationTemporality::Delta,
        vec![point(attrs, Number::AsDouble(1234.0))],
    )]));
    assert_eq!(batch.points.len(), 1);
    let p = &batch.points[0];
    assert_eq!(p.value, 1234.0);
    assert_eq!(p.temporality, Temporality::Delta);
    assert_eq!(p.session_id, Some(session_uuid("sess-1")));
    assert_eq!(p.attribute("model"), Some("claude-sonnet-4-5"));
    assert_eq!(
        p.attributes.to_string(),
        r#"{"model":"claude-sonnet-4-5","session.id":"sess-1","type":"input"}"#
    );
}

#[test]
fn series_identity_ignores_attribute_order() {
    let a = map_metrics_request(&request(vec![sum(
        "claude_code.commit.count",
        AggregationTemporality::Cumulative,
        vec![point(
            vec![kv("a", "1"), kv("session.id", "s")],
            Number::AsInt(1),
        )],
    )]));
    let b = map_metrics_request(&request(vec![sum(
        "claude_code.commit.count",
        AggregationTemporality::Cumulative,
        vec![point(
            vec![kv("session.id", "s"), kv("a", "1")],
            Number::AsInt(2),
        )],
    )]));
    assert_eq!(a.points[0].series_id, b.points[0].series_id);
    let other = series_id("claude_code.pull_request.count", &a.points[0].attributes);
    assert_ne!(a.points[0].series_id, other);
}

#[test]
fn other_metrics_and_shapes_are_ignored_not_errors() {
    let gauge = Metric {
        name: "claude_code.something".into(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![point(vec![], Number::AsDouble(1.0))],
        })),
        ..Default::default()
    };
    let batch = map_metrics_request(&request(vec![
        sum(
            "http.server.requests",
            AggregationTemporality::Delta,
            vec![
                point(vec![], Number::AsInt(3)),
                point(vec![], Number::AsInt(4)),
            ],
        ),
        gauge,
    ]));
    assert!(batch.points.is_empty());
    assert!(batch.rejected.is_empty());
    assert_eq!(batch.ignored, 3);
}

#[test]
fn invalid_points_are_rejected_and_the_rest_kept() {
    let mut no_time = point(vec![], Number::AsDouble(1.0));
    no_time.time_unix_nano = 0;
    let batch = map_metrics_request(&request(vec![
        sum(
            "claude_code.cost.usage",
            AggregationTemporality::Delta,
            vec![
                point(vec![], Number::AsDouble(f64::NAN)),
                point(vec![], Number::AsDouble(-1.0)),
                no_time,
                point(vec![], Number::AsDouble(0.25)),
            ],
        ),
        sum(
            "claude_code.cost.usage",
            AggregationTemporality::Unspecified,
            vec![point(vec![], Number::AsDouble(1.0))],
        ),
    ]));
    assert_eq!(batch.points.len(), 1);
    assert_eq!(batch.points[0].value, 0.25);
    assert_eq!(batch.points[0].session_id, None);
    assert_eq!(batch.rejected.len(), 4);
}

#[test]
fn times_are_kept_at_the_stored_precision() {
    let mut p = point(vec![], Number::AsInt(1));
    p.time_unix_nano = T0 + 60_123_456_789;
    let batch = map_metrics_request(&request(vec![sum(
        "claude_code.commit.count",
        AggregationTemporality::Cumulative,
        vec![p],
    )]));
    assert_eq!(
        batch.points[0].time.timestamp_subsec_nanos(),
        123_456_000,
        "microseconds, as PostgreSQL stores them"
    );
}
