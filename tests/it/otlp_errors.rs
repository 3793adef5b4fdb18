//! What OTLP clients get for bad input and outages: 400 for undecodable bodies, 413 over the
//! wire or decompressed limit, 415 for unknown content types, partial success for invalid spans
//! (the rest lands), and the retryable 503 / UNAVAILABLE when PostgreSQL is down.

use crate::common;

use std::io::Write;

use acd_collector::app::{Settings, spawn};
use acd_collector::otlp::http_body::RpcStatus;
use acd_collector::store::Store;
use common::TestApp;
use common::spans::{self, Transport};
use prost::Message;
use sqlx::postgres::PgConnectOptions;

async fn post(
    app_url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{app_url}/v1/traces"))
        .header("content-type", content_type)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().await.expect("request")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn undecodable_bodies_get_400_in_the_request_format() {
    let app = TestApp::spawn().await;
    let garbage = post(
        &app.otlp_http,
        "application/x-protobuf",
        None,
        vec![0xff, 0xff, 0xff, 0x01],
    )
    .await;
    assert_eq!(garbage.status(), 400);
    assert_eq!(garbage.headers()["content-type"], "application/x-protobuf");
    let status =
        RpcStatus::decode(garbage.bytes().await.unwrap()).expect("a google.rpc.Status body");
    assert_eq!(status.code, tonic::Code::InvalidArgument as i32);
    assert!(status.message.contains("protobuf"), "{}", status.message);

    let bad_json = post(
        &app.otlp_http,
        "application/json",
        None,
        b"{\"resourceSpans\": 7}".to_vec(),
    )
    .await;
    assert_eq!(bad_json.status(), 400);
    let body: serde_json::Value = bad_json.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");

    let not_gzip = post(
        &app.otlp_http,
        "application/x-protobuf",
        Some("gzip"),
        b"plain".to_vec(),
    )
    .await;
    assert_eq!(not_gzip.status(), 400);
    assert_eq!(
        app.metric("acd_otlp_request_failures_total", &[("reason", "invalid")])
            .await,
        3.0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_content_types_and_encodings_get_415_with_json() {
    let app = TestApp::spawn().await;
    let text = post(&app.otlp_http, "text/plain", None, b"hello".to_vec()).await;
    assert_eq!(text.status(), 415);
    let body: serde_json::Value = text.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("application/x-protobuf")
    );
    let brotli = post(
        &app.otlp_http,
        "application/json",
        Some("br"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(brotli.status(), 415);
    app.shutdown().await;
}

#[tokio::test]
async fn bodies_over_the_limits_get_413() {
    let mut settings = Settings::ephemeral();
    settings.limits.max_body_bytes = 4096;
    settings.limits.max_decompressed_bytes = 64 * 1024;
    let app = TestApp::spawn_with(settings).await;
    let big = post(
        &app.otlp_http,
        "application/x-protobuf",
        None,
        vec![0; 4097],
    )
    .await;
    assert_eq!(big.status(), 413);
    // A gzip bomb: small on the wire, over the limit once inflated.
    let bomb = gzip(&vec![b' '; 1024 * 1024]);
    assert!(bomb.len() < 4096);
    let inflated = post(&app.otlp_http, "application/json", Some("gzip"), bomb).await;
    assert_eq!(inflated.status(), 413);
    let body: serde_json::Value = inflated.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("after decompression"),
        "{body}"
    );
    // Within both limits, gzip is accepted: `{}` is an empty export request.
    let ok = post(
        &app.otlp_http,
        "application/json",
        Some("gzip"),
        gzip(b"{}"),
    )
    .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "{}");
    app.shutdown().await;
}

#[tokio::test]
async fn invalid_spans_are_rejected_and_the_rest_of_the_batch_lands() {
    let app = TestApp::spawn().await;
    let trace = 0xbeef_u128;
    let mut backwards = spans::turn(
        trace,
        0x31,
        0x30,
        1,
        (5_000, 6_000),
        spans::Tokens {
            input: 10,
            output: 1,
            cache_read: 0,
            cache_write: 0,
        },
        0.1,
    );
    std::mem::swap(&mut backwards.start_time, &mut backwards.end_time);
    let batch = vec![
        backwards,
        spans::session(trace, 0x30, "partial", (0, 10_000)),
    ];
    // The official exporter treats partial success as success: exactly what the spec asks.
    spans::export(Transport::HttpProtobuf, &app, batch)
        .await
        .unwrap();
    assert_eq!(
        app.metric("acd_otlp_spans_received_total", &[("outcome", "rejected")])
            .await,
        1.0
    );
    assert_eq!(
        app.metric("acd_otlp_spans_received_total", &[("outcome", "accepted")])
            .await,
        1.0
    );
    let id = acd_collector::domain::session_uuid("partial");
    assert_eq!(app.get(&format!("/api/db/sessions/{id}")).await.0, 200);

    // Over JSON the partial success is visible in the body.
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":"0102030405060708",
        "name":"chat","startTimeUnixNano":"1","endTimeUnixNano":"2",
        "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}]}]}]}"#;
    let response = post(
        &app.otlp_http,
        "application/json",
        None,
        json.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], 1);
    assert!(
        body["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("trace id")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_database_outage_gets_the_retryable_status_on_both_transports() {
    // A store whose PostgreSQL is unreachable: nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(closed.port())
        .username("postgres");
    let app = spawn(Settings::ephemeral(), Store::connect_lazy(options, 2))
        .await
        .unwrap();
    let url = format!("http://{}", app.http_addr);

    let session = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",
        "spanId":"0102030405060708","name":"s","startTimeUnixNano":"1700000000000000000",
        "endTimeUnixNano":"1700000001000000000",
        "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"invoke_agent"}}]}]}]}]}"#;
    let response = post(&url, "application/json", None, session.as_bytes().to_vec()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");

    let mut client = opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient::connect(
        format!("http://{}", app.grpc_addr),
    )
    .await
    .unwrap();
    let decoded: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest =
        serde_json::from_str(session).unwrap();
    let status = client.export(decoded).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);

    let ready = reqwest::get(format!("http://{}/readyz", app.api_addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    app.shutdown().await.unwrap();
}
