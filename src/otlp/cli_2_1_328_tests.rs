//! Claude Code 2.1.328's own OTLP/JSON exports (tests/fixtures/claude/, "Captured here") through
//! the log mapping: the figures are those the stand-in served (see that README).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

use super::http_body::Format;
use super::log_mapping::map_logs;
use crate::pricing::PriceTable;

fn logs() -> Vec<ExportLogsServiceRequest> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/claude/cli-2.1.328__standin-retry-write.otlp-logs.jsonl"
    );
    std::fs::read_to_string(path)
        .expect("fixture")
        .lines()
        .map(|line| Format::Json.decode(line.as_bytes()).expect("OTLP/JSON"))
        .collect()
}

#[test]
fn api_request_events_carry_the_one_hour_cache_writes() {
    let prices = PriceTable::shipped_default();
    let turns: Vec<_> = logs()
        .iter()
        .flat_map(|r| map_logs(r, &prices).turns)
        .collect();
    let figures: Vec<_> = turns
        .iter()
        .map(|t| {
            let u = &t.usage;
            (
                u.input,
                u.output,
                u.cache_read,
                u.cache_write,
                u.cache_write_1h,
            )
        })
        .collect();
    assert_eq!(
        figures,
        [(102, 22, 1000, 300, 200), (103, 23, 1000, 300, 200)]
    );
    let ttft: Vec<_> = turns.iter().map(|t| t.time_to_first_token_ms).collect();
    assert_eq!(ttft, [Some(328), Some(354)]);
    // The CLI's own cost of each call (cost_usd), kept beside ours.
    let reported: Vec<_> = turns.iter().map(|t| t.reported_cost_usd).collect();
    assert_eq!(
        reported,
        [Some(0.0031480000000000006), Some(0.0031720000000000003)]
    );
}

#[test]
fn tool_results_sit_under_the_request_that_asked_for_them() {
    let prices = PriceTable::shipped_default();
    let batches: Vec<_> = logs().iter().map(|r| map_logs(r, &prices)).collect();
    let turns: Vec<_> = batches.iter().flat_map(|b| b.turns.clone()).collect();
    let tools: Vec<_> = batches.iter().flat_map(|b| b.tools.clone()).collect();
    assert_eq!(tools.len(), 1, "the Write");
    assert_eq!(tools[0].tool_name, "Write");
    // request_id req_02: the first successful call, not the later one.
    assert_eq!(
        tools[0].parent_span_id.as_ref(),
        Some(&turns[0].key.span_id)
    );
}
