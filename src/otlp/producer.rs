//! The producer of a request's records: the identity of the OTLP resource that sent them
//! (`service.name`, `service.instance.id`), which owns the sessions it names first (see
//! [`crate::domain::Producers`] and docs/reliability.md, "Session ownership"). The mapping
//! functions see one resource at a time but return one batch, so a request carrying several
//! resources with different identities is mapped one resource at a time.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::attributes::Attributes;
use crate::domain::SpanBatch;
use crate::pricing::PriceTable;

/// Longest producer kept: the identity is compared and shown in messages, never parsed.
const MAX_PRODUCER_CHARS: usize = 256;

/// `service.name="…" service.instance.id="…"` (the parts present), None without either.
pub fn of_resource(resource: Option<&Resource>) -> Option<String> {
    let attrs = Attributes::new(resource.map_or(&[][..], |r| r.attributes.as_slice()), &[]);
    let parts: Vec<String> = ["service.name", "service.instance.id"]
        .into_iter()
        .filter_map(|key| attrs.str(key).map(|v| format!("{key}={v:?}")))
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(parts.join(" ").chars().take(MAX_PRODUCER_CHARS).collect())
}

/// [`super::map_request`], each record marked with its resource's producer.
pub fn map_traces(request: &ExportTraceServiceRequest, prices: &PriceTable) -> SpanBatch {
    let producers: Vec<Option<String>> = request
        .resource_spans
        .iter()
        .map(|r| of_resource(r.resource.as_ref()))
        .collect();
    if producers.windows(2).all(|w| w[0] == w[1]) {
        // The usual request (one SDK, one resource): mapped as a whole, nothing copied.
        let mut batch = super::map_request(request, prices);
        batch.set_producer(producers.first().cloned().flatten().as_deref());
        return batch;
    }
    let mut batch = SpanBatch::default();
    for (resource_spans, producer) in request.resource_spans.iter().zip(producers) {
        let one = ExportTraceServiceRequest {
            resource_spans: vec![resource_spans.clone()],
        };
        let mut part = super::map_request(&one, prices);
        part.set_producer(producer.as_deref());
        batch.append(part);
    }
    batch
}

/// [`super::map_logs`], each record marked with its resource's producer.
pub fn map_logs(request: &ExportLogsServiceRequest, prices: &PriceTable) -> SpanBatch {
    let producers: Vec<Option<String>> = request
        .resource_logs
        .iter()
        .map(|r| of_resource(r.resource.as_ref()))
        .collect();
    if producers.windows(2).all(|w| w[0] == w[1]) {
        let mut batch = super::map_logs(request, prices);
        batch.set_producer(producers.first().cloned().flatten().as_deref());
        return batch;
    }
    let mut batch = SpanBatch::default();
    for (resource_logs, producer) in request.resource_logs.iter().zip(producers) {
        let one = ExportLogsServiceRequest {
            resource_logs: vec![resource_logs.clone()],
        };
        let mut part = super::map_logs(&one, prices);
        part.set_producer(producer.as_deref());
        batch.append(part);
    }
    batch
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

    use super::*;

    fn resource(pairs: &[(&str, &str)]) -> Resource {
        Resource {
            attributes: pairs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue((*v).into())),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_producer_is_the_service_and_its_instance() {
        assert_eq!(of_resource(None), None);
        assert_eq!(of_resource(Some(&resource(&[("host.name", "h")]))), None);
        assert_eq!(
            of_resource(Some(&resource(&[("service.name", "harness")]))).as_deref(),
            Some(r#"service.name="harness""#)
        );
        let both = resource(&[("service.instance.id", "7"), ("service.name", "a b")]);
        assert_eq!(
            of_resource(Some(&both)).as_deref(),
            Some(r#"service.name="a b" service.instance.id="7""#)
        );
    }
}
