//! The reported case of issue 18 with a real outage: while the private cluster is stopped, one
//! request holding 20 ordinary sessions, a span with 2^31 − 1 tokens of every kind and a span the
//! database itself refuses (a real CHECK constraint on the test cluster) is acknowledged from the
//! spool. After the restart replay stores the 20 sessions and keeps only the two bad spans, each
//! with its reason, in `failed/`.

use std::time::Duration;

use acd_collector::app::{Settings, SpoolSettings, spawn};
use acd_collector::store::Store;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::common::cluster::Cluster;

fn attr(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn span(trace: u8, id: u8, conversation: &str, turn: Option<(&str, i64)>) -> Span {
    let mut attributes = vec![attr(
        "gen_ai.conversation.id",
        Value::StringValue(conversation.into()),
    )];
    let operation = match turn {
        None => "invoke_agent",
        Some((model, tokens)) => {
            attributes.push(attr(
                "gen_ai.request.model",
                Value::StringValue(model.into()),
            ));
            for key in [
                "gen_ai.usage.input_tokens",
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.cache_read.input_tokens",
                "gen_ai.usage.cache_creation.input_tokens",
            ] {
                attributes.push(attr(key, Value::IntValue(tokens)));
            }
            "chat"
        }
    };
    attributes.push(attr(
        "gen_ai.operation.name",
        Value::StringValue(operation.into()),
    ));
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        name: operation.into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_001_000_000_000,
        attributes,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_request_with_bad_spans_stores_every_innocent_session_at_replay() {
    let mut cluster = Cluster::start().await;
    let store = Store::connect_lazy(cluster.options.clone(), 4);
    store.migrate().await.unwrap();
    sqlx::query("ALTER TABLE session_turns ADD CONSTRAINT poison CHECK (model <> 'poison')")
        .execute(store.pool())
        .await
        .unwrap();
    let spool = tempfile::tempdir().unwrap();
    let app = spawn(
        Settings {
            spool: Some(SpoolSettings {
                dir: spool.path().to_path_buf(),
                max_bytes: 64 << 20,
            }),
            ..Settings::ephemeral()
        },
        store.clone(),
    )
    .await
    .unwrap();

    let mut spans: Vec<Span> = (1..=20u8)
        .flat_map(|i| {
            let conversation = format!("innocent-{i}");
            [
                span(i, 1, &conversation, None),
                span(i, 2, &conversation, Some(("claude-sonnet-4-5", 100))),
            ]
        })
        .collect();
    spans.push(span(
        3,
        9,
        "innocent-3",
        Some(("claude-sonnet-4-5", i64::from(i32::MAX))),
    ));
    spans.push(span(4, 9, "innocent-4", Some(("poison", 1))));
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };

    cluster.stop().await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", app.http_addr))
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "acknowledged from the spool");
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert!(answer.partial_success.is_none());
    cluster.restart().await;

    let refused = || -> Option<String> {
        let failed = std::fs::read_dir(spool.path().join("failed")).ok()?;
        failed
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".refused.txt"))
            .map(|p| std::fs::read_to_string(p).unwrap())
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while refused().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "replay finishes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refused = refused().unwrap();
    assert_eq!(refused.lines().count(), 2, "{refused}");
    assert!(refused.contains("implausibly large"), "{refused}");
    assert!(refused.contains("23514"), "{refused}");
    let (sessions, turns): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM harness_sessions WHERE external_id LIKE 'innocent-%'),
                (SELECT count(*) FROM session_turns)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((sessions, turns), (20, 20), "every innocent record stored");
    assert_eq!(
        super::spooled(spool.path()),
        0,
        "the request itself was replayed and deleted"
    );
    app.shutdown().await.unwrap();
}
