//! Makes decoded OTLP storable: PostgreSQL refuses U+0000 in `text` and `jsonb`, which protobuf
//! and JSON both allow, so one NUL anywhere would fail the whole batch's transaction. Every string
//! a mapper may store (names, attribute keys and values, messages, log bodies) has its NULs
//! replaced by U+FFFD before mapping; everything else is left as sent.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;

fn text(s: &mut String) {
    if s.contains('\0') {
        *s = s.replace('\0', "\u{fffd}");
    }
}

fn any(value: &mut AnyValue) {
    match value.value.as_mut() {
        Some(Value::StringValue(s)) => text(s),
        Some(Value::ArrayValue(a)) => a.values.iter_mut().for_each(any),
        Some(Value::KvlistValue(kv)) => attributes(&mut kv.values),
        _ => {}
    }
}

fn attributes(kvs: &mut [KeyValue]) {
    for kv in kvs {
        text(&mut kv.key);
        if let Some(value) = kv.value.as_mut() {
            any(value);
        }
    }
}

fn resource(r: &mut Option<Resource>) {
    if let Some(r) = r {
        attributes(&mut r.attributes);
    }
}

fn scope(s: &mut Option<InstrumentationScope>) {
    if let Some(s) = s {
        text(&mut s.name);
        text(&mut s.version);
        attributes(&mut s.attributes);
    }
}

pub fn traces(request: &mut ExportTraceServiceRequest) {
    for rs in &mut request.resource_spans {
        resource(&mut rs.resource);
        for ss in &mut rs.scope_spans {
            scope(&mut ss.scope);
            for span in &mut ss.spans {
                text(&mut span.name);
                text(&mut span.trace_state);
                attributes(&mut span.attributes);
                for event in &mut span.events {
                    text(&mut event.name);
                    attributes(&mut event.attributes);
                }
                for link in &mut span.links {
                    text(&mut link.trace_state);
                    attributes(&mut link.attributes);
                }
                if let Some(status) = span.status.as_mut() {
                    text(&mut status.message);
                }
            }
        }
    }
}

pub fn logs(request: &mut ExportLogsServiceRequest) {
    for rl in &mut request.resource_logs {
        resource(&mut rl.resource);
        for sl in &mut rl.scope_logs {
            scope(&mut sl.scope);
            for record in &mut sl.log_records {
                text(&mut record.severity_text);
                text(&mut record.event_name);
                attributes(&mut record.attributes);
                if let Some(body) = record.body.as_mut() {
                    any(body);
                }
            }
        }
    }
}

pub fn metrics(request: &mut ExportMetricsServiceRequest) {
    for rm in &mut request.resource_metrics {
        resource(&mut rm.resource);
        for sm in &mut rm.scope_metrics {
            scope(&mut sm.scope);
            for metric in &mut sm.metrics {
                text(&mut metric.name);
                text(&mut metric.description);
                text(&mut metric.unit);
                attributes(&mut metric.metadata);
                match metric.data.as_mut() {
                    Some(Data::Gauge(g)) => g
                        .data_points
                        .iter_mut()
                        .for_each(|p| attributes(&mut p.attributes)),
                    Some(Data::Sum(s)) => s
                        .data_points
                        .iter_mut()
                        .for_each(|p| attributes(&mut p.attributes)),
                    Some(Data::Histogram(h)) => h
                        .data_points
                        .iter_mut()
                        .for_each(|p| attributes(&mut p.attributes)),
                    Some(Data::ExponentialHistogram(h)) => h
                        .data_points
                        .iter_mut()
                        .for_each(|p| attributes(&mut p.attributes)),
                    Some(Data::Summary(s)) => s
                        .data_points
                        .iter_mut()
                        .for_each(|p| attributes(&mut p.attributes)),
                    None => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::KeyValueList;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    #[test]
    fn nul_is_replaced_in_nested_attributes_and_names() {
        let nested = AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k\0".into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("v\0".into())),
                    }),
                    ..Default::default()
                }],
            })),
        };
        let mut request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: "a\0b".into(),
                        attributes: vec![KeyValue {
                            key: "outer".into(),
                            value: Some(nested),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        traces(&mut request);
        let text = format!("{request:?}");
        assert!(!text.contains("\\0"), "{text}");
        assert!(text.contains("a\u{fffd}b"), "{text}");
    }
}
