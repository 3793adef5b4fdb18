//! Claude Code's own telemetry from the real CLI: events and metrics, over OTLP/HTTP
//! (protobuf) and over gRPC. Tokens per turn and in total (with the 1-hour cache writes), cost,
//! TTFT and latency of each call against what the stand-in did, the Write in its turn; and
//! with the beta spans on as well, the retried attempts and the Write stored once.

use super::cli::{Run, assert_times, assert_tokens, session_with_turns};
use crate::common::TestApp;

async fn events_and_metrics(protocol: &str, beta_spans: bool) -> (Run, TestApp) {
    // Claude Code sends no session span: the session ends once idle for three seconds (its
    // exporters flush within that after the CLI exits; a later record would reopen it).
    let mut settings = acd_collector::app::Settings::ephemeral();
    settings.session_idle = Some(std::time::Duration::from_secs(3));
    let app = TestApp::spawn_with(settings).await;
    let endpoint = match protocol {
        "grpc" => app.otlp_grpc.clone(),
        _ => app.otlp_http.clone(),
    };
    let run = Run::start().await;
    let mut env = vec![
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_LOG_TOOL_DETAILS", "1"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        ("OTEL_LOGS_EXPORT_INTERVAL", "500"),
    ];
    if beta_spans {
        env.extend([
            ("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_TRACES_EXPORT_INTERVAL", "500"),
        ]);
    }
    let cmd = run.command(&[], &env);
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
    // Ended when idle, completed (the last call answered, no tool after it); its wall clock
    // from its first activity to the last answer: at least from the first call's answering
    // attempt, at most from its first (refused) attempt, which only the beta spans report.
    let id = session["id"].as_str().unwrap();
    let mut closed = session.clone();
    for _ in 0..200 {
        closed = app.get(&format!("/api/db/sessions/{id}")).await.1;
        if closed["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(closed["status"], "completed", "{closed}");
    let served = run.standin.served();
    let last = answers.last().unwrap().1.done;
    let shortest = (last - answers[0].1.received).as_millis() as i64;
    let longest = (last - served.iter().map(|s| s.received).min().unwrap()).as_millis() as i64;
    let wall = closed["wall_clock_ms"].as_i64().unwrap_or(-1);
    eprintln!("wall clock: measured {wall} ms, stand-in {shortest}..{longest} ms");
    assert!(
        wall >= shortest - super::cli::TOLERANCE_MS
            && wall <= longest + super::cli::CLI_OVERHEAD_MS,
        "wall clock {wall} vs {shortest}..{longest}: {closed}"
    );
}

#[tokio::test]
async fn events_and_metrics_over_http() {
    let (run, app) = events_and_metrics("http/protobuf", false).await;
    check(&run, &app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn events_and_metrics_over_grpc() {
    let (run, app) = events_and_metrics("grpc", false).await;
    check(&run, &app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn events_metrics_and_beta_spans() {
    let (run, app) = events_and_metrics("http/protobuf", true).await;
    check(&run, &app).await;
    // Spans flush on their own timer: wait until the retried attempts are in.
    let (session, _) = session_with_turns(&app, 2).await;
    let id = session["id"].as_str().unwrap().to_string();
    let mut retries = serde_json::Value::Null;
    for _ in 0..100 {
        retries = app.get(&format!("/api/db/retries/{id}")).await.1;
        if retries["retries"].as_array().map_or(0, Vec::len) >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // One 429 before call 1 and one 529 before call 2, each retried once and then answered.
    let list = retries["retries"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2, "{retries}");
    assert!(list.iter().all(|r| r["succeeded"] == true), "{retries}");
    let (_, session) = app.get(&format!("/api/db/sessions/{id}")).await;
    assert_eq!(session["retry_count"], 2, "{session}");
    // The same figures as without spans: one turn per call, times of the answering attempt.
    let (session, turns) = session_with_turns(&app, 2).await;
    assert_tokens(&session, &turns, &run.answers());
    assert_times(&turns, &run.answers());
    let tools: i64 = sqlx::query_scalar("SELECT count(*) FROM session_tool_calls")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        tools, 1,
        "the Write, reported as event and as span, is one tool call"
    );
    app.shutdown().await;
}
