//! Claude Code's own telemetry from the real CLI: events and metrics, over OTLP/HTTP
//! (protobuf) and over gRPC. Tokens per turn and in total (with the 1-hour cache writes), cost,
//! TTFT and latency of each call against what the stand-in did, the Write in its turn.

use super::cli::{Run, assert_times, assert_tokens, session_with_turns};
use crate::common::TestApp;

async fn events_and_metrics(protocol: &str) -> (Run, TestApp) {
    let app = TestApp::spawn().await;
    let endpoint = match protocol {
        "grpc" => app.otlp_grpc.clone(),
        _ => app.otlp_http.clone(),
    };
    let run = Run::start().await;
    let cmd = run.command(
        &[],
        &[
            ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_LOG_TOOL_DETAILS", "1"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
            ("OTEL_LOGS_EXPORT_INTERVAL", "500"),
        ],
    );
    run.finish(cmd).await;
    (run, app)
}

async fn check(run: &Run, app: &TestApp) {
    let answers = run.answers();
    let (session, turns) = session_with_turns(app, answers.len() as i64).await;
    assert_tokens(&session, &turns, &answers);
    assert_times(&turns, &answers);
    // The Write the first call asked for, with its file, under that call.
    let calls: Vec<_> = turns.iter().map(|t| t["tool_calls"].clone()).collect();
    assert_eq!(calls[0][0]["name"], "Write", "{calls:?}");
    let path = calls[0][0]["file_path"].as_str().unwrap_or_default();
    assert!(path.ends_with("hello.txt"), "{calls:?}");
    assert_eq!(calls[1].as_array().map_or(0, Vec::len), 0, "{calls:?}");
}

#[tokio::test]
async fn events_and_metrics_over_http() {
    let (run, app) = events_and_metrics("http/protobuf").await;
    check(&run, &app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn events_and_metrics_over_grpc() {
    let (run, app) = events_and_metrics("grpc").await;
    check(&run, &app).await;
    app.shutdown().await;
}
