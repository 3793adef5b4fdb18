//! The CLI 2.1.328 captures (tests/fixtures/claude/README.md, "Captured here"): a run against a
//! stand-in that served known figures — call 1 a 429, call 2 input 102 / output 22 / cache read
//! 1000 / cache write 300 of which 200 at the 1-hour rate, call 3 input 103 / output 23 with the
//! same cache figures. Every figure asserted here is what the stand-in served.

use super::stream::parse_str;
use super::stream_tests::fixture;
use super::to_batch::{MapOptions, to_batch};
use crate::pricing::PriceTable;

const PLAIN: &str = "cli-2.1.328__standin-retry-write.stream-json.jsonl";
const PARTIAL: &str = "cli-2.1.328__standin-retry-write-partial.stream-json.jsonl";

fn options() -> MapOptions {
    MapOptions {
        target_id: None,
        fallback_time: "2026-12-02T00:00:00Z".parse().unwrap(),
    }
}

#[test]
fn partial_messages_give_true_output_and_the_clis_own_ttft() {
    let run = parse_str(&fixture(PARTIAL));
    let ids: Vec<_> = run.turns.iter().map(|t| t.message_id.as_str()).collect();
    assert_eq!(ids, ["msg_02", "msg_03"], "the 429 is no turn");
    let figures: Vec<_> = run
        .turns
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
    // `ttft_ms` of each `stream_event` message_start line: the CLI measured it from its request.
    let ttft: Vec<_> = run.turns.iter().map(|t| t.ttft_ms).collect();
    assert_eq!(ttft, [Some(330), Some(368)]);
    let batch = to_batch(&run, &PriceTable::shipped_default(), &options());
    let ttft: Vec<_> = batch
        .turns
        .iter()
        .map(|t| t.time_to_first_token_ms)
        .collect();
    assert_eq!(
        ttft,
        [Some(330), Some(368)],
        "no clock given: the CLI's figure"
    );
    assert_eq!(batch.retries.len(), 1, "one api_retry line");
    assert_eq!(batch.retries[0].reason.as_str(), "rate_limit");
}

#[test]
fn plain_output_is_reconciled_to_the_result_usage() {
    let run = parse_str(&fixture(PLAIN));
    assert_eq!(run.turns.len(), 2);
    // Placeholders of 1 on the assistant lines; the result line says 45 in all.
    let total: i64 = run.turns.iter().map(|t| t.usage.output).sum();
    assert_eq!(total, 45);
    let result = run.result.as_ref().expect("result line");
    assert_eq!(result.usage.as_ref().map(|u| u.cache_write_1h), Some(400));
    assert_eq!(run.turns.iter().map(|t| t.usage.input).sum::<i64>(), 205);
}
