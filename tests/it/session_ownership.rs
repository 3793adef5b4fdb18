//! Session ownership (issue 19, item 5): a session belongs to the first producer (the OTLP
//! resource's `service.name` and `service.instance.id`) that sends it. Another producer's
//! session span, turns naming the same `gen_ai.conversation.id`, or turns in the session's trace
//! are refused with OTLP partial success naming why, and change nothing; a span identity taken
//! first by someone else, or resent with other content, is answered instead of vanishing as a
//! duplicate. The owner's own retries stay plain duplicates. Harness A sends with the official
//! SDK exporter (gRPC); the other producer's requests are built as OTLP protobuf and sent with
//! the generated gRPC client, whose answer carries the partial success the SDK only logs.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKv, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use serde_json::Value as Json;

use crate::common;
use common::TestApp;
use common::spans::{self, Tokens};

const A: &str = "harness-a";
const TOKENS: Tokens = Tokens {
    input: 1_000,
    output: 100,
    cache_read: 0,
    cache_write: 0,
};

/// Exports `spans` as producer `service` with the official SDK exporter over gRPC.
async fn export_as(app: &TestApp, service: &str, spans: Vec<SpanData>) {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(app.otlp_grpc.clone())
        .with_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    exporter.set_resource(
        &Resource::builder_empty()
            .with_attributes([KeyValue::new("service.name", service.to_string())])
            .build(),
    );
    exporter.export(spans).await.unwrap();
}

fn kv(key: &str, value: Value) -> ProtoKv {
    ProtoKv {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: &str) -> ProtoKv {
    kv(key, Value::StringValue(value.into()))
}

const NOW: u64 = 1_700_000_000_000_000_000;

fn proto_span(trace: u128, id: u64, attributes: Vec<ProtoKv>) -> Span {
    Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        name: "span".into(),
        start_time_unix_nano: NOW,
        end_time_unix_nano: NOW + 5_000_000_000,
        attributes,
        ..Default::default()
    }
}

/// Another harness's session span for `conversation`: failed, its own target and attributes.
fn rival_session(trace: u128, id: u64, conversation: &str) -> Span {
    let mut span = proto_span(
        trace,
        id,
        vec![
            text("gen_ai.operation.name", "invoke_agent"),
            text("gen_ai.conversation.id", conversation),
            text("acd.target.id", "99999999-9999-4999-8999-999999999999"),
            text("rival.only", "yes"),
        ],
    );
    span.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: "rival".into(),
    });
    span
}

/// A turn of 5,000 input tokens; with `conversation` it names its session itself.
fn proto_turn(trace: u128, id: u64, conversation: Option<&str>, input: i64) -> Span {
    let mut attributes = vec![
        text("gen_ai.operation.name", "chat"),
        text("gen_ai.request.model", spans::MODEL),
        kv("gen_ai.usage.input_tokens", Value::IntValue(input)),
        kv("gen_ai.usage.output_tokens", Value::IntValue(10)),
    ];
    if let Some(conversation) = conversation {
        attributes.push(text("gen_ai.conversation.id", conversation));
    }
    proto_span(trace, id, attributes)
}

/// Sends `spans` as producer `service` with the generated OTLP gRPC client; the partial success.
async fn send_as(
    app: &TestApp,
    service: &str,
    spans: Vec<Span>,
) -> Option<ExportTracePartialSuccess> {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(ProtoResource {
                attributes: vec![text("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut client = TraceServiceClient::connect(app.otlp_grpc.clone())
        .await
        .unwrap();
    client
        .export(request)
        .await
        .expect("accepted")
        .into_inner()
        .partial_success
}

async fn session(app: &TestApp, conversation: &str) -> Json {
    let id = acd_collector::domain::session_uuid(conversation);
    let (status, body) = app.get(&format!("/api/db/sessions/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn duplicates(app: &TestApp) -> f64 {
    app.metric("acd_otlp_spans_received_total", &[("outcome", "duplicate")])
        .await
}

/// Harness A's session of `conversation` in `trace`: one turn of [`TOKENS`].
fn owned_session(trace: u128, conversation: &str) -> Vec<SpanData> {
    vec![
        spans::session(trace, 0x10, conversation, (0, 60_000)),
        spans::turn(trace, 0x11, 0x10, 1, (1_000, 4_000), TOKENS, 0.5),
    ]
}

#[tokio::test]
async fn a_second_producer_with_the_same_conversation_id_changes_nothing() {
    let app = TestApp::spawn().await;
    let trace = 0xa0_u128 << 64 | 1;
    export_as(&app, A, owned_session(trace, "shared-run")).await;
    let before = session(&app, "shared-run").await;
    assert_eq!(before["status"], "completed", "{before}");
    assert_eq!(before["input_tokens"], 1_000, "{before}");

    // The reported case: another harness sends the same gen_ai.conversation.id.
    let rival = 0xb0_u128 << 64 | 1;
    let answer = send_as(
        &app,
        "harness-b",
        vec![
            rival_session(rival, 0x20, "shared-run"),
            proto_turn(rival, 0x21, Some("shared-run"), 5_000),
            proto_turn(rival, 0x22, None, 5_000),
        ],
    )
    .await
    .expect("partial success");
    assert_eq!(answer.rejected_spans, 3, "{}", answer.error_message);
    assert!(
        answer.error_message.contains("belongs to another producer"),
        "{}",
        answer.error_message
    );
    let after = session(&app, "shared-run").await;
    for field in [
        "status",
        "target_id",
        "started_at",
        "ended_at",
        "attributes",
        "input_tokens",
        "turn_count",
        "total_cost_usd",
    ] {
        assert_eq!(after[field], before[field], "{field}: {after}");
    }

    // The owner keeps adding to its session; its own retry is a plain duplicate.
    let more = vec![spans::turn(
        trace,
        0x12,
        0x10,
        2,
        (5_000, 6_000),
        TOKENS,
        0.5,
    )];
    export_as(&app, A, more.clone()).await;
    let dups = duplicates(&app).await;
    export_as(&app, A, more).await;
    assert_eq!(duplicates(&app).await, dups + 1.0);
    let owned = session(&app, "shared-run").await;
    assert_eq!(owned["turn_count"], 2, "{owned}");
    assert_eq!(owned["input_tokens"], 2_000, "{owned}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_turn_in_another_producers_trace_is_not_attached_to_its_session() {
    let app = TestApp::spawn().await;
    // Into the trace of a stored session: refused, with the reason.
    let trace = 0xa1_u128 << 64 | 1;
    export_as(&app, A, owned_session(trace, "traced-run")).await;
    let answer = send_as(
        &app,
        "harness-b",
        vec![proto_turn(trace, 0x30, None, 5_000)],
    )
    .await
    .expect("partial success");
    assert_eq!(answer.rejected_spans, 1);
    assert!(
        answer
            .error_message
            .contains("its trace belongs to session"),
        "{}",
        answer.error_message
    );
    let s = session(&app, "traced-run").await;
    assert_eq!(
        (s["turn_count"].clone(), s["input_tokens"].clone()),
        (1.into(), 1_000.into())
    );

    // Sent before the session exists: kept apart, never attached when the session comes.
    let early = 0xa2_u128 << 64 | 1;
    let answer = send_as(
        &app,
        "harness-b",
        vec![proto_turn(early, 0x31, None, 5_000)],
    )
    .await;
    assert!(answer.is_none(), "nothing to refuse yet: {answer:?}");
    export_as(&app, A, owned_session(early, "early-run")).await;
    let s = session(&app, "early-run").await;
    assert_eq!(
        (s["turn_count"].clone(), s["input_tokens"].clone()),
        (1.into(), 1_000.into())
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_span_identity_taken_first_or_resent_with_other_content_is_answered() {
    let app = TestApp::spawn().await;
    // Someone else sends a span with the trace and span ids harness A will use.
    let trace = 0xa3_u128 << 64 | 1;
    assert!(
        send_as(
            &app,
            "harness-b",
            vec![proto_turn(trace, 0x11, None, 5_000)]
        )
        .await
        .is_none()
    );
    let mut spans = owned_session(trace, "taken-run");
    let turn = spans.pop().unwrap();
    export_as(&app, A, spans).await;
    let dups = duplicates(&app).await;
    // The real turn: not stored (the first one keeps the identity), but answered, not counted
    // as a duplicate.
    let answer = send_as(&app, A, vec![proto_turn(trace, 0x11, None, 1_000)])
        .await
        .expect("partial success");
    assert_eq!(answer.rejected_spans, 1);
    assert!(
        answer
            .error_message
            .contains("already stored from another producer"),
        "{}",
        answer.error_message
    );
    export_as(&app, A, vec![turn]).await;
    assert_eq!(duplicates(&app).await, dups);
    let s = session(&app, "taken-run").await;
    assert_eq!(
        s["turn_count"], 0,
        "the other producer's turn is not attached: {s}"
    );

    // The same producer resending an identity with other content: answered; identical: not.
    let own = 0xa4_u128 << 64 | 1;
    let first = proto_turn(own, 0x41, Some("resent-run"), 1_000);
    assert!(send_as(&app, A, vec![first.clone()]).await.is_none());
    assert!(send_as(&app, A, vec![first]).await.is_none(), "a retry");
    let answer = send_as(
        &app,
        A,
        vec![proto_turn(own, 0x41, Some("resent-run"), 9_000)],
    )
    .await
    .expect("partial success");
    assert!(
        answer.error_message.contains("different content"),
        "{}",
        answer.error_message
    );
    assert_eq!(session(&app, "resent-run").await["input_tokens"], 1_000);
    app.shutdown().await;
}

#[tokio::test]
async fn a_run_imported_again_with_other_content_is_answered_over_rest() {
    let app = TestApp::spawn().await;
    let url = format!("{}/api/db/ingest/claude-run", app.api);
    let run = |input: i64| {
        serde_json::json!({
            "session_id": "0d4c6f1e-1111-4222-8333-444455556666",
            "turns": [{"message_id": "msg_1", "model": spans::MODEL,
                       "usage": {"input": input, "output": 5}}],
        })
    };
    let post = |body: Json| {
        let request = app.http.post(&url).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Json>().await.unwrap()
        }
    };
    // `rejected` is left out of the answer when nothing was.
    let first = post(run(100)).await;
    assert!(first.get("rejected").is_none(), "{first}");
    // No times in the run: imported again later, it is still the same run.
    let again = post(run(100)).await;
    assert!(again.get("rejected").is_none(), "{again}");
    assert_eq!(again["duplicates"], 2, "{again}");
    let other = post(run(700)).await;
    let rejected = other["rejected"].to_string();
    assert!(rejected.contains("different content"), "{other}");
    app.shutdown().await;
}
