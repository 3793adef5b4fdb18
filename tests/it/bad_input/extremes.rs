//! Property: random extreme values (0, negatives, the i32 and i64 limits, NaN and infinities,
//! huge strings) mixed with good records, sent over OTLP/HTTP, OTLP/gRPC or through the spool,
//! never get a 5xx or INTERNAL; every good record is stored and every bad one is reported. Cases
//! are drawn by proptest's generator (`PROPTEST_CASES`, at most 60 here: each case is a round trip
//! to a real collector and database).

use std::time::Duration;

use acd_collector::domain::limits::{
    MAX_MODEL_NAME_BYTES, MAX_REPORTED_COST_USD, MAX_TOKENS_PER_CALL,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use prost::Message;

use super::common::TestApp;
use super::isolation::{add_refusals, turn};
use super::{post, request, session};

#[derive(Debug, Clone)]
struct Record {
    tokens: [i64; 4],
    cost: Option<f64>,
    ttft: Option<f64>,
    model_len: usize,
}

impl Record {
    /// The documented rule (src/domain/limits.rs), restated independently.
    fn is_bad(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| *t < 0 || *t > MAX_TOKENS_PER_CALL)
            // An OTLP attribute that is not a finite number reads as absent (attributes.rs).
            || self
                .cost
                .is_some_and(|c| c.is_finite() && c > MAX_REPORTED_COST_USD)
            || self.model_len > MAX_MODEL_NAME_BYTES
    }
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Http,
    Grpc,
    Spool,
}

fn extreme_int() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MAX) + 1),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(MAX_TOKENS_PER_CALL),
        Just(MAX_TOKENS_PER_CALL + 1),
        0..5_000i64,
    ]
}

fn extreme_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(1e300),
        Just(-1.0),
        Just(0.0),
        0.0..5.0f64,
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        [extreme_int(), extreme_int(), extreme_int(), extreme_int()],
        prop::option::of(extreme_float()),
        prop::option::of(extreme_float()),
        prop_oneof![Just(8usize), Just(100_000usize)],
    )
        .prop_map(|(tokens, cost, ttft, model_len)| Record {
            tokens,
            cost,
            ttft,
            model_len,
        })
}

fn case() -> impl Strategy<Value = (Vec<Record>, Transport)> {
    (
        prop::collection::vec(record(), 1..8),
        prop_oneof![
            Just(Transport::Http),
            Just(Transport::Grpc),
            Just(Transport::Spool)
        ],
    )
}

fn double(key: &str, value: f64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::DoubleValue(value)),
        }),
        ..Default::default()
    }
}

fn spans(case: u8, conversation: &str, records: &[Record]) -> Vec<Span> {
    let mut spans = vec![session(case, 1, conversation)];
    for (i, r) in records.iter().enumerate() {
        let model = "m".repeat(r.model_len);
        let mut span = turn(case, 2 + i as u8, conversation, &model, 0);
        // turn() sets input, output, cache read and cache write, in that order, after 3 others.
        for (attr, value) in span.attributes[3..7].iter_mut().zip(r.tokens) {
            attr.value = Some(AnyValue {
                value: Some(Value::IntValue(value)),
            });
        }
        if let Some(cost) = r.cost {
            span.attributes.push(double("acd.cost_usd", cost));
        }
        if let Some(ttft) = r.ttft {
            span.attributes
                .push(double("gen_ai.response.time_to_first_chunk", ttft));
        }
        spans.push(span);
    }
    spans
}

async fn turns_stored(app: &TestApp, conversation: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM session_turns WHERE session_id = $1")
        .bind(acd_collector::domain::session_uuid(conversation))
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

fn refused_lines(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir.join("failed")) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".refused.txt"))
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_values_mixed_with_good_records_never_cost_the_good_ones() {
    let spool = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(acd_collector::app::Settings {
        spool: Some(acd_collector::app::SpoolSettings {
            dir: spool.path().to_path_buf(),
            max_bytes: 256 << 20,
        }),
        ..acd_collector::app::Settings::ephemeral()
    })
    .await;
    add_refusals(&app).await;
    let mut grpc = TraceServiceClient::connect(app.otlp_grpc.clone())
        .await
        .unwrap();
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(30)
        .min(60);
    let mut runner = TestRunner::new(Config::default());
    let (mut refused_so_far, mut spooled_cases) = (0, 0);
    for n in 0..cases {
        let (mut records, transport) = case().new_tree(&mut runner).unwrap().current();
        if matches!(transport, Transport::Spool) {
            // A turn that fails while the "outage" is on, so that the request is spooled.
            records.push(Record {
                tokens: [1, 1, 0, 0],
                cost: None,
                ttft: None,
                model_len: 8,
            });
        }
        let conversation = format!("extreme-{n}");
        let spans = spans(100 + n as u8, &conversation, &records);
        let bad = records.iter().filter(|r| r.is_bad()).count();
        let good = records.len() - bad;
        let context = format!("case {n} over {transport:?}: {records:?}");
        let answer = match transport {
            Transport::Http | Transport::Spool => {
                let spooled = matches!(transport, Transport::Spool);
                if spooled {
                    sqlx::query("UPDATE acd_test_switch SET outage = true")
                        .execute(&app.db.pool)
                        .await
                        .unwrap();
                }
                let body = request(spans).encode_to_vec();
                let response = post(&app, "application/x-protobuf", body).await;
                if spooled {
                    sqlx::query("UPDATE acd_test_switch SET outage = false")
                        .execute(&app.db.pool)
                        .await
                        .unwrap();
                }
                assert_eq!(response.status(), 200, "{context}");
                ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap()
            }
            Transport::Grpc => match grpc.export(request(spans)).await {
                Ok(answer) => answer.into_inner(),
                Err(status) => panic!("{status:?} for {context}"),
            },
        };
        let rejected = answer.partial_success.map_or(0, |p| p.rejected_spans);
        if matches!(transport, Transport::Spool) {
            // Acknowledged from the spool; replay reports the bad records in failed/.
            assert_eq!(rejected, 0, "{context}");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while refused_lines(spool.path()) < refused_so_far + bad
                || turns_stored(&app, &conversation).await < good as i64
            {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "replay of {context}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            refused_so_far += bad;
            spooled_cases += 1;
            assert_eq!(refused_lines(spool.path()), refused_so_far, "{context}");
        } else {
            assert_eq!(rejected as usize, bad, "{context}");
        }
        assert_eq!(
            turns_stored(&app, &conversation).await,
            good as i64,
            "{context}"
        );
    }
    eprintln!(
        "{cases} cases, {spooled_cases} through the spool, {refused_so_far} records refused at replay"
    );
    if cases >= 30 {
        // One in three cases goes through the spool: none in 30 has odds of about 5e-6.
        assert!(spooled_cases > 0 && refused_so_far > 0);
    }
    app.shutdown().await;
}
