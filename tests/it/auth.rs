//! Bearer-token auth, read-only REST, CORS and back-pressure against the real server: no token →
//! 401, wrong token → 401, right token → 200, over OTLP/HTTP, OTLP/gRPC (official exporter and a
//! raw client) and REST; /metrics and /healthz open or protected by configuration.

mod connections;

use crate::common;

use std::time::Duration;

use acd_collector::app::Settings;
use acd_collector::guard::{Guard, Token};
use common::TestApp;
use common::spans;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_sdk::trace::SpanExporter as _;

const INGEST: &str = "ingest-secret-1";
const API: &str = "api-secret-2";

fn guarded(guard: Guard) -> Settings {
    Settings {
        guard,
        ..Settings::ephemeral()
    }
}

fn with_tokens() -> Guard {
    Guard {
        ingest_token: Some(Token::new(INGEST)),
        api_token: Some(Token::new(API)),
        ..Guard::default()
    }
}

async fn post_traces(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/v1/traces", app.otlp_http))
        .header("content-type", "application/json")
        .body("{}");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn grpc_export(app: &TestApp, token: Option<&str>) -> Result<(), tonic::Status> {
    let mut client = TraceServiceClient::connect(app.otlp_grpc.clone())
        .await
        .unwrap();
    let mut request = tonic::Request::new(ExportTraceServiceRequest::default());
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    client.export(request).await.map(|_| ())
}

async fn rest(app: &TestApp, method: reqwest::Method, path: &str, token: Option<&str>) -> u16 {
    let mut request = app.http.request(method, format!("{}{path}", app.api));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .json(&serde_json::json!({"name": "t", "path": "/nonexistent-dir"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn ingest_needs_the_ingest_token_over_http_and_grpc() {
    let app = TestApp::spawn_with(guarded(with_tokens())).await;
    let none = post_traces(&app, None).await;
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = none.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
    assert_eq!(post_traces(&app, Some("wrong")).await.status(), 401);
    // The API token is not the ingest token.
    assert_eq!(post_traces(&app, Some(API)).await.status(), 401);
    assert_eq!(post_traces(&app, Some(INGEST)).await.status(), 200);
    // A protobuf request gets its refusal as a protobuf google.rpc.Status.
    let protobuf = app
        .http
        .post(format!("{}/v1/traces", app.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(protobuf.status(), 401);
    assert_eq!(protobuf.headers()["content-type"], "application/x-protobuf");
    assert_eq!(protobuf.headers()["www-authenticate"], "Bearer");
    let status = <acd_collector::otlp::http_body::RpcStatus as prost::Message>::decode(
        protobuf.bytes().await.unwrap(),
    )
    .unwrap();
    assert_eq!(status.code, tonic::Code::Unauthenticated as i32);

    assert_eq!(
        grpc_export(&app, None).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        grpc_export(&app, Some("wrong")).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    grpc_export(&app, Some(INGEST)).await.unwrap();

    // The official exporter with its headers option: the spans land.
    let mut headers = std::collections::HashMap::new();
    headers.insert("authorization".to_string(), format!("Bearer {INGEST}"));
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", app.otlp_http))
        .with_headers(headers)
        .with_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    exporter
        .export(vec![spans::session(0xa1, 1, "authed", (0, 1_000))])
        .await
        .unwrap();
    let id = acd_collector::domain::session_uuid("authed");
    assert_eq!(
        rest(
            &app,
            reqwest::Method::GET,
            &format!("/api/db/sessions/{id}"),
            Some(API)
        )
        .await,
        200
    );
    assert_eq!(
        app.metric(
            "acd_otlp_refused_requests_total",
            &[("reason", "unauthorized")]
        )
        .await,
        6.0,
        "/metrics is open by default, and counts the refusals"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_rest_api_needs_the_api_token_and_health_and_metrics_stay_open() {
    let app = TestApp::spawn_with(guarded(with_tokens())).await;
    let get = reqwest::Method::GET;
    assert_eq!(rest(&app, get.clone(), "/api/db/sessions", None).await, 401);
    assert_eq!(
        rest(&app, get.clone(), "/api/db/sessions", Some("wrong")).await,
        401
    );
    assert_eq!(
        rest(&app, get.clone(), "/api/db/sessions", Some(INGEST)).await,
        401
    );
    assert_eq!(
        rest(&app, get.clone(), "/api/db/sessions", Some(API)).await,
        200
    );
    // Mutating endpoints too: 401 without the token, reach the handler with it (400: the
    // path does not exist).
    let post = reqwest::Method::POST;
    assert_eq!(rest(&app, post.clone(), "/api/db/targets", None).await, 401);
    assert_eq!(rest(&app, post, "/api/db/targets", Some(API)).await, 400);
    assert_eq!(rest(&app, get.clone(), "/healthz", None).await, 200);
    assert_eq!(rest(&app, get.clone(), "/metrics", None).await, 200);
    app.shutdown().await;

    let app = TestApp::spawn_with(guarded(Guard {
        protect_metrics: true,
        protect_health: true,
        ..with_tokens()
    }))
    .await;
    assert_eq!(rest(&app, get.clone(), "/metrics", None).await, 401);
    assert_eq!(rest(&app, get.clone(), "/metrics", Some(API)).await, 200);
    assert_eq!(rest(&app, get.clone(), "/healthz", None).await, 401);
    assert_eq!(rest(&app, get.clone(), "/readyz", Some("x")).await, 401);
    assert_eq!(rest(&app, get, "/healthz", Some(API)).await, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn read_only_refuses_every_mutating_endpoint_and_cors_answers_browsers() {
    let app = TestApp::spawn_with(guarded(Guard {
        read_only: true,
        cors_origins: vec!["https://dash.example".into()],
        ..Guard::default()
    }))
    .await;
    let post = reqwest::Method::POST;
    let target = uuid::Uuid::new_v4();
    let session = uuid::Uuid::new_v4();
    for path in [
        "/api/db/targets".to_string(),
        format!("/api/db/codebase/{target}/reindex"),
        format!("/api/db/sessions/{session}/test-runs"),
        "/api/db/ingest/claude-run".to_string(),
    ] {
        assert_eq!(rest(&app, post.clone(), &path, None).await, 403, "{path}");
    }
    assert_eq!(
        rest(&app, reqwest::Method::GET, "/api/db/targets", None).await,
        200
    );

    let preflight = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/db/sessions", app.api),
        )
        .header("origin", "https://dash.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://dash.example"
    );
    let other = app
        .http
        .get(format!("{}/api/db/sessions", app.api))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    app.shutdown().await;
}

#[tokio::test]
async fn without_configuration_everything_is_open_as_before() {
    let app = TestApp::spawn().await;
    assert_eq!(post_traces(&app, None).await.status(), 200);
    grpc_export(&app, None).await.unwrap();
    assert_eq!(
        rest(&app, reqwest::Method::GET, "/api/db/sessions", None).await,
        200
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_beyond_the_in_flight_budget_gets_retryable_statuses() {
    let app = TestApp::spawn_with(guarded(Guard {
        max_inflight_requests: 3,
        ..Guard::default()
    }))
    .await;
    // Writes fall behind: a transaction holds the sessions table, so every export waits.
    let mut blocker = app.db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE harness_sessions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let body = |n: u32| {
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{n:032x}","spanId":"{n:016x}",
            "name":"s","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000",
            "attributes":[{{"key":"gen_ai.operation.name","value":{{"stringValue":"invoke_agent"}}}}]}}]}}]}}]}}"#
        )
    };
    let mut waiting = Vec::new();
    for n in 1..=3 {
        let (client, url, body) = (
            app.http.clone(),
            format!("{}/v1/traces", app.otlp_http),
            body(n),
        );
        waiting.push(tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    // Wait until the three hold the budget (they are blocked on the lock).
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in 4..=40 {
        let response = app
            .http
            .post(format!("{}/v1/traces", app.otlp_http))
            .header("content-type", "application/json")
            .body(body(n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "request {n}");
        assert_eq!(response.headers()["retry-after"], "5");
    }
    assert_eq!(
        grpc_export(&app, None).await.unwrap_err().code(),
        tonic::Code::Unavailable
    );
    blocker.rollback().await.unwrap();
    for waiting in waiting {
        assert_eq!(waiting.await.unwrap(), 200);
    }
    assert_eq!(
        app.metric(
            "acd_otlp_refused_requests_total",
            &[("reason", "overloaded")]
        )
        .await,
        38.0
    );
    // The budget is free again.
    assert_eq!(post_traces(&app, None).await.status(), 200);
    app.shutdown().await;
}
