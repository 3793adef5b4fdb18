//! A harness workload as the span contract describes it: sessions of 20–200 turns across 50
//! targets, each turn a `chat` span with 0–3 `execute_tool` children, some turns carrying an
//! `acd.retry` event, and one `acd.test_run` span with case events per session. Spans are listed in
//! the order a batch span processor exports them (children end first, the session span last), so
//! a session can straddle two batches sent by different workers, as it does in production.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{Span, span::Event};

/// splitmix64: deterministic, so two runs send the same workload.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub const MODELS: [&str; 3] = [
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-haiku-4-5-20251001",
];
const TOOLS: [&str; 5] = ["Read", "Edit", "Bash", "Grep", "Write"];

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}
fn s(key: &str, v: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(v.into()))
}
fn i(key: &str, v: u64) -> KeyValue {
    kv(key, Value::IntValue(v as i64))
}

/// One session, starting `start_ns` (Unix nanoseconds).
pub fn session(rng: &mut Rng, index: u64, start_ns: u64) -> Vec<Span> {
    let trace_id: Vec<u8> = (rng.next() as u128 | ((rng.next() as u128) << 64))
        .to_be_bytes()
        .to_vec();
    let mut next_span = rng.next() | 1;
    let mut span_id = || {
        next_span = next_span.wrapping_add(1);
        next_span.to_be_bytes().to_vec()
    };
    let session_span = span_id();
    let conversation = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        rng.next() as u32,
        rng.next() as u16,
        rng.next() % 0x1000,
        rng.next() % 0x1000,
        rng.next() & 0xFFFF_FFFF_FFFF
    );
    let target = index % 50;
    let model = MODELS[(index % 3) as usize];
    let base = |name: &str, id: Vec<u8>, parent: &[u8], start: u64, end: u64, attrs| Span {
        trace_id: trace_id.clone(),
        span_id: id,
        parent_span_id: parent.to_vec(),
        name: name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: attrs,
        ..Default::default()
    };
    let mut spans = Vec::new();
    let mut t = start_ns;
    let turns = rng.range(20, 200);
    for n in 1..=turns {
        let turn_id = span_id();
        let duration = rng.range(800, 20_000) * 1_000_000;
        let (input, cache_read) = (rng.range(500, 30_000), rng.range(0, 100_000));
        let mut turn = base(
            "chat",
            turn_id.clone(),
            &session_span,
            t,
            t + duration,
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.conversation.id", conversation.clone()),
                s("gen_ai.provider.name", "anthropic"),
                s("gen_ai.request.model", model),
                i("gen_ai.usage.input_tokens", input + cache_read),
                i("gen_ai.usage.output_tokens", rng.range(20, 4_000)),
                i("gen_ai.usage.cache_read.input_tokens", cache_read),
                i(
                    "gen_ai.usage.cache_creation.input_tokens",
                    rng.range(0, 5_000),
                ),
                kv(
                    "gen_ai.response.time_to_first_chunk",
                    Value::DoubleValue(rng.range(200, 3_000) as f64 / 1000.0),
                ),
                i("acd.turn.number", n),
            ],
        );
        if rng.chance(5) {
            turn.events.push(Event {
                time_unix_nano: t + 1_000_000,
                name: "acd.retry".into(),
                attributes: vec![
                    s("acd.retry.reason", "rate_limit"),
                    i("acd.retry.wait_ms", rng.range(500, 10_000)),
                ],
                ..Default::default()
            });
        }
        spans.push(turn);
        let mut tool_t = t + duration;
        for _ in 0..rng.range(0, 3) {
            let tool_duration = rng.range(5, 3_000) * 1_000_000;
            spans.push(base(
                "execute_tool",
                span_id(),
                &turn_id,
                tool_t,
                tool_t + tool_duration,
                vec![
                    s("gen_ai.operation.name", "execute_tool"),
                    s("gen_ai.conversation.id", conversation.clone()),
                    s("gen_ai.tool.name", TOOLS[(rng.next() % 5) as usize]),
                    s(
                        "acd.tool.file_path",
                        format!("src/module_{}.rs", rng.range(1, 400)),
                    ),
                ],
            ));
            tool_t += tool_duration;
        }
        t = tool_t + 1_000_000;
    }
    let mut run = base(
        "acd.test_run",
        span_id(),
        &session_span,
        t,
        t + 30_000_000_000,
        vec![
            s("gen_ai.conversation.id", conversation.clone()),
            s("acd.test.suite", "cargo test"),
        ],
    );
    for c in 0..10 {
        let status = if rng.chance(10) { "failed" } else { "passed" };
        run.events.push(Event {
            time_unix_nano: t,
            name: "acd.test.case".into(),
            attributes: vec![
                s("acd.test.case.name", format!("tests::case_{c}")),
                s("acd.test.case.status", status),
            ],
            ..Default::default()
        });
    }
    t += 30_000_000_000;
    spans.push(run);
    spans.push(base(
        "invoke_agent harness",
        session_span,
        &[],
        start_ns,
        t,
        vec![
            s("gen_ai.operation.name", "invoke_agent"),
            s("gen_ai.conversation.id", conversation),
            s(
                "acd.target.id",
                format!("00000000-0000-4000-8000-{target:012x}"),
            ),
            s("acd.target.name", format!("target-{target}")),
            i("acd.session.features_completed", rng.range(0, 5)),
        ],
    ));
    spans
}
