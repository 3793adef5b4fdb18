//! Spans exported by the official OpenTelemetry Rust exporter (OTLP/HTTP protobuf, OTLP/HTTP
//! JSON, OTLP/gRPC) land in PostgreSQL, the REST API and /metrics with exact values; retried
//! batches count once; arrival order does not change the result.

use crate::common;

use common::TestApp;
use common::spans::{self, MODEL, TARGET_ID, Tokens, Transport};
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;

const TRACE: u128 = 0xa1a2_a3a4_a5a6_a7a8_a9aa_abac_adae_afb0;
const CONVERSATION: &str = "harness-run-1";
const TURN1: Tokens = Tokens {
    input: 12_000,
    output: 800,
    cache_read: 9_000,
    cache_write: 1_000,
};
const TURN2: Tokens = Tokens {
    input: 15_000,
    output: 1_200,
    cache_read: 14_000,
    cache_write: 0,
};

/// The session of every test here: two turns, a tool call in the first, one unrelated span.
fn session_spans() -> Vec<SpanData> {
    vec![
        spans::session(TRACE, 0x10, CONVERSATION, (0, 60_000)),
        spans::turn(TRACE, 0x11, 0x10, 1, (1_000, 4_000), TURN1, 0.6),
        spans::tool(TRACE, 0x13, 0x11, "Read", "src/lib.rs", (2_000, 2_500)),
        spans::turn(TRACE, 0x12, 0x10, 2, (10_000, 12_500), TURN2, 0.9),
        spans::unrelated(TRACE, 0x14),
    ]
}

fn uncached(t: Tokens) -> i64 {
    t.input - t.cache_read - t.cache_write
}

/// Sonnet 4.x prices per 1M tokens: input 3, output 15, cache read 0.30, cache write 3.75.
fn cost(t: Tokens) -> f64 {
    (uncached(t) as f64 * 3.0
        + t.output as f64 * 15.0
        + t.cache_read as f64 * 0.3
        + t.cache_write as f64 * 3.75)
        / 1e6
}

fn session_id() -> String {
    acd_collector::domain::session_uuid(CONVERSATION).to_string()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

async fn assert_session_landed(app: &TestApp) {
    let (status, s) = app.get(&format!("/api/db/sessions/{}", session_id())).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["external_id"], CONVERSATION);
    assert_eq!(s["status"], "completed");
    assert_eq!(s["target_id"], TARGET_ID);
    assert_eq!(s["target_name"], "demo-repo");
    assert_eq!(s["features_completed"], 2);
    assert_eq!(s["turn_count"], 2);
    assert_eq!(s["wall_clock_ms"], 60_000);
    assert_eq!(s["api_latency_ms"], 3_000 + 2_500);
    assert_eq!(s["time_to_first_token_ms"], 750);
    assert_eq!(s["input_tokens"], uncached(TURN1) + uncached(TURN2));
    assert_eq!(s["output_tokens"], TURN1.output + TURN2.output);
    assert_eq!(s["cache_read_tokens"], TURN1.cache_read + TURN2.cache_read);
    assert_eq!(
        s["cache_write_tokens"],
        TURN1.cache_write + TURN2.cache_write
    );
    assert!(
        close(s["cost_usd"].as_f64().unwrap(), cost(TURN1) + cost(TURN2)),
        "{s}"
    );
    assert_eq!(s["models"][0]["model"], MODEL);
    assert_eq!(s["models"][0]["request_count"], 2);
    assert_eq!(s["attributes"]["acd.target.name"], "demo-repo");

    let (_, t) = app
        .get(&format!("/api/db/sessions/{}/turns", session_id()))
        .await;
    let turns = t["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0]["turn_number"], 1);
    assert_eq!(turns[0]["input_tokens"], uncached(TURN1));
    assert_eq!(turns[0]["reported_input_tokens"], TURN1.input);
    assert_eq!(turns[0]["duration_ms"], 3_000);
    assert_eq!(turns[0]["time_to_first_token_ms"], 600);
    assert_eq!(turns[0]["provider"], "anthropic");
    assert_eq!(turns[0]["tool_calls"][0]["name"], "Read");
    assert_eq!(turns[0]["tool_calls"][0]["file_path"], "src/lib.rs");
    assert_eq!(turns[0]["tool_calls"][0]["duration_ms"], 500);
    assert_eq!(turns[1]["tool_calls"], Value::Array(vec![]));

    let (_, timing) = app
        .get(&format!("/api/db/sessions/{}/timing", session_id()))
        .await;
    assert_eq!(timing["api_time_ms"], 5_500);
    assert_eq!(timing["non_api_time_ms"], 54_500);
    assert_eq!(timing["time_to_first_token"]["p50_ms"], 750.0);
    assert_eq!(timing["time_to_first_token"]["max_ms"], 900.0);
    assert_eq!(timing["turn_latency"]["max_ms"], 3_000.0);
}

async fn assert_counted_once(app: &TestApp) {
    for (kind, expected) in [
        ("input", uncached(TURN1) + uncached(TURN2)),
        ("output", TURN1.output + TURN2.output),
        ("cache_read", TURN1.cache_read + TURN2.cache_read),
        ("cache_write", TURN1.cache_write + TURN2.cache_write),
    ] {
        let labels = [("model", MODEL), ("type", kind)];
        assert_eq!(
            app.metric("acd_tokens_total", &labels).await,
            expected as f64,
            "{kind}"
        );
    }
    assert_eq!(
        app.metric("acd_model_requests_total", &[("model", MODEL)])
            .await,
        2.0
    );
    assert!(close(
        app.metric("acd_cost_usd_total", &[("model", MODEL)]).await,
        cost(TURN1) + cost(TURN2)
    ));
    assert_eq!(
        app.metric("acd_sessions_total", &[("status", "completed")])
            .await,
        1.0
    );
    assert_eq!(
        app.metric("acd_turn_duration_seconds_count", &[("model", MODEL)])
            .await,
        2.0
    );
    assert_eq!(
        app.metric("acd_time_to_first_token_seconds_sum", &[("model", MODEL)])
            .await,
        1.5
    );
    assert_eq!(
        app.metric("acd_session_wall_clock_seconds_sum", &[]).await,
        60.0
    );
    assert_eq!(
        app.metric("acd_otlp_spans_received_total", &[("outcome", "accepted")])
            .await,
        4.0
    );
}

#[tokio::test]
async fn spans_from_every_transport_land_in_rest_and_metrics() {
    for transport in [
        Transport::HttpProtobuf,
        Transport::HttpJson,
        Transport::Grpc,
    ] {
        let app = TestApp::spawn().await;
        spans::export(transport, &app, session_spans())
            .await
            .unwrap_or_else(|e| panic!("{transport:?} export failed: {e}"));
        assert_session_landed(&app).await;
        assert_counted_once(&app).await;
        assert_eq!(
            app.metric("acd_otlp_spans_received_total", &[("outcome", "ignored")])
                .await,
            1.0
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn a_retried_batch_changes_nothing_and_counts_once() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        spans::export(Transport::HttpProtobuf, &app, session_spans())
            .await
            .unwrap();
    }
    spans::export(Transport::Grpc, &app, session_spans())
        .await
        .unwrap();
    assert_session_landed(&app).await;
    assert_counted_once(&app).await;
    assert_eq!(
        app.metric("acd_otlp_spans_received_total", &[("outcome", "duplicate")])
            .await,
        12.0
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM session_turns")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    app.shutdown().await;
}

/// Everything a client can read about the session, to compare two ingest orders.
async fn observable(app: &TestApp) -> Vec<Value> {
    let mut out = vec![];
    for suffix in ["", "/turns", "/timing"] {
        out.push(
            app.get(&format!("/api/db/sessions/{}{suffix}", session_id()))
                .await
                .1,
        );
    }
    out.push(app.get("/api/db/token-usage/by-model?days=3").await.1);
    out
}

#[tokio::test]
async fn arrival_order_does_not_change_the_result() {
    let in_order = TestApp::spawn().await;
    spans::export(Transport::HttpProtobuf, &in_order, session_spans())
        .await
        .unwrap();

    // Children before parents, one request each: the tool before its turn, turns before the session.
    let reversed = TestApp::spawn().await;
    for span in session_spans().into_iter().rev() {
        spans::export(Transport::Grpc, &reversed, vec![span])
            .await
            .unwrap();
    }
    // Before the session span, the turns were orphans of their trace; now they are attached.
    assert_session_landed(&reversed).await;
    assert_counted_once(&reversed).await;
    assert_eq!(observable(&in_order).await, observable(&reversed).await);
    in_order.shutdown().await;
    reversed.shutdown().await;
}

#[tokio::test]
async fn a_turn_naming_its_session_creates_it_before_the_session_span_arrives() {
    let app = TestApp::spawn().await;
    let mut early = spans::turn(TRACE, 0x21, 0, 1, (1_000, 4_000), TURN1, 0.6);
    early.attributes.push(opentelemetry::KeyValue::new(
        "gen_ai.conversation.id",
        CONVERSATION,
    ));
    spans::export(Transport::HttpProtobuf, &app, vec![early])
        .await
        .unwrap();
    let (status, s) = app.get(&format!("/api/db/sessions/{}", session_id())).await;
    assert_eq!(status, 200);
    assert_eq!(s["status"], "running");
    assert_eq!(s["turn_count"], 1);
    assert_eq!(s["started_at"], Value::String(chrono_at(1_000)));

    spans::export(
        Transport::HttpProtobuf,
        &app,
        vec![spans::session(TRACE, 0x10, CONVERSATION, (0, 60_000))],
    )
    .await
    .unwrap();
    let (_, s) = app.get(&format!("/api/db/sessions/{}", session_id())).await;
    assert_eq!(s["status"], "completed");
    assert_eq!(s["started_at"], Value::String(chrono_at(0)));
    assert_eq!(s["wall_clock_ms"], 60_000);
    assert_eq!(
        app.metric("acd_sessions_total", &[("status", "completed")])
            .await,
        1.0
    );
    app.shutdown().await;
}

fn chrono_at(ms: u64) -> String {
    let t: chrono::DateTime<chrono::Utc> = spans::at(ms).into();
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
