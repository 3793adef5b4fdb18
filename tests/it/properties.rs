//! Property tests (proptest; the toolchain is stable, so no cargo-fuzz): the OTLP mappers, the
//! Claude stream-json and transcript parsers and the JUnit / libtest parsers never panic, on
//! generated input shaped like the real thing (properties/strategies.rs) and on arbitrary bytes.
//! The number of cases is `PROPTEST_CASES` (default 256 per property; CI 2000), which bounds the
//! time CI spends here.

mod strategies;

use acd_collector::claude::to_batch::{MapOptions, to_batch};
use acd_collector::otlp::{map_logs, map_metrics_request, map_request};
use acd_collector::pricing::PriceTable;
use acd_collector::testreports::{self, ReportFormat, Upload};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use proptest::prelude::*;
use prost::Message;
use strategies::{claude_line, junit_xml, logs, metrics, traces};

proptest! {
    // Failures print their minimal input; nothing is written next to the sources.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn otlp_traces_map_without_panicking(request in traces()) {
        let batch = map_request(&request, &PriceTable::shipped_default());
        let spans: usize = request.resource_spans.iter()
            .flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        // Every span is accounted for at most once as a record, an ignore or a rejection.
        prop_assert!(batch.rejected.len() <= spans);
    }

    #[test]
    fn otlp_logs_and_metrics_map_without_panicking(l in logs(), m in metrics()) {
        map_logs(&l, &PriceTable::shipped_default());
        map_metrics_request(&m);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders_or_mappers(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let prices = PriceTable::shipped_default();
        if let Ok(r) = ExportTraceServiceRequest::decode(&bytes[..]) { map_request(&r, &prices); }
        if let Ok(r) = ExportLogsServiceRequest::decode(&bytes[..]) { map_logs(&r, &prices); }
        if let Ok(r) = ExportMetricsServiceRequest::decode(&bytes[..]) { map_metrics_request(&r); }
        if let Ok(r) = serde_json::from_slice::<ExportTraceServiceRequest>(&bytes) { map_request(&r, &prices); }
    }

    #[test]
    fn claude_stream_json_and_transcripts_parse_without_panicking(lines in prop::collection::vec(claude_line(), 0..12)) {
        let text = lines.join("\n");
        let options = MapOptions { target_id: None, fallback_time: chrono::Utc::now() };
        let prices = PriceTable::shipped_default();
        let run = acd_collector::claude::stream::parse_str(&text);
        to_batch(&run, &prices, &options);
        let run = acd_collector::claude::transcript::parse_str(&text);
        to_batch(&run, &prices, &options);
    }

    #[test]
    fn test_reports_parse_without_panicking(xml in junit_xml(), noise in prop::collection::vec(any::<u8>(), 0..256)) {
        let upload = Upload {
            session: uuid::Uuid::nil(),
            suite: None,
            revision: None,
            received_at: chrono::Utc::now(),
        };
        for bytes in [xml.as_bytes(), &noise[..]] {
            for format in [ReportFormat::Junit, ReportFormat::Json, ReportFormat::LibtestJson, ReportFormat::NextestJson] {
                if let Ok(parsed) = testreports::parse(bytes, format) {
                    testreports::to_record(bytes, parsed, &upload);
                }
            }
        }
    }
}
