//! A WebFetch with the real CLI: the page comes from an HTTPS server (`openssl s_server` with a
//! self-signed certificate the CLI trusts through `NODE_EXTRA_CA_CERTS`), and the CLI makes a
//! side call to summarise it (`query_source = web_fetch_apply`; on the beta span
//! `llm_request.context = tool`). Over events, metrics and beta spans, that call counts in the
//! session's tokens and cost but is no turn, and the WebFetch sits under the call that asked.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use super::cli::{Run, assert_times, assert_tokens_with_side_calls, session_with_turns};
use super::standin::SIDE_CALL;
use crate::common::TestApp;
use crate::common::process::run;

/// `openssl s_server -WWW` serving one page over HTTPS on 127.0.0.1.
struct PageServer {
    child: Child,
    url: String,
    cert: PathBuf,
}

impl PageServer {
    fn start(dir: &Path) -> Self {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        run(
            Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=127.0.0.1"])
                .args(["-addext", "subjectAltName=IP:127.0.0.1"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            Duration::from_secs(60),
        );
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(
            www.join("page.html"),
            "<html><body><h1>The page</h1><p>The answer is 42.</p></body></html>",
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .current_dir(&www)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("openssl is installed");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("https://127.0.0.1:{port}/page.html"),
            cert,
        }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_webfetch_summary_is_a_side_call_not_a_turn() {
    let app = TestApp::spawn().await;
    let pages = tempfile::tempdir().unwrap();
    let server = PageServer::start(pages.path());
    let run_ = Run::start_fetching(server.url.clone()).await;
    let cert = server.cert.to_string_lossy().into_owned();
    let mut cmd = run_.command(
        &[],
        &[
            ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &app.otlp_http),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
            ("OTEL_LOGS_EXPORT_INTERVAL", "500"),
            ("OTEL_TRACES_EXPORT_INTERVAL", "500"),
            ("NODE_EXTRA_CA_CERTS", &cert),
        ],
    );
    cmd.args(["--output-format", "stream-json"]);
    let out = run_.finish(cmd).await;
    let side_calls = run_
        .standin
        .served()
        .iter()
        .filter(|s| s.messages && s.call.is_none() && s.status == 200)
        .count();
    assert_eq!(side_calls, 1, "the CLI summarised the page once");

    session_with_turns(&app, 2).await;
    let (_, page) = app.get("/api/db/sessions").await;
    let id = page["sessions"][0]["id"].as_str().unwrap().to_string();
    let mut list = serde_json::Value::Null;
    for _ in 0..100 {
        list = app.get(&format!("/api/db/sessions/{id}/turns")).await.1;
        if list["side_calls"].as_array().is_some_and(|s| !s.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let side = list["side_calls"].as_array().cloned().unwrap_or_default();
    assert_eq!(side.len(), 1, "{list}");
    assert_eq!(side[0]["kind"], "side", "{list}");
    assert_eq!(side[0]["source"], "web_fetch_apply", "{list}");
    assert_eq!(side[0]["during_turn"], 1, "{list}");
    assert_eq!(side[0]["input_tokens"], SIDE_CALL.input, "{list}");
    assert_eq!(side[0]["output_tokens"], SIDE_CALL.output, "{list}");
    let turns = list["turns"].as_array().cloned().unwrap();
    assert_eq!(turns[0]["tool_calls"][0]["name"], "WebFetch", "{list}");

    let (_, session) = app.get(&format!("/api/db/sessions/{id}")).await;
    let answers = run_.answers();
    assert_tokens_with_side_calls(&session, &turns, &answers, &[SIDE_CALL]);
    assert_times(&turns, &answers);
    let side = [("kind", "side")];
    assert_eq!(app.metric("acd_model_requests_total", &side).await, 1.0);
    let main = [("kind", "main")];
    assert_eq!(app.metric("acd_model_requests_total", &main).await, 2.0);
    app.shutdown().await;

    // The same run's stream-json: the side call is in `modelUsage` only, not in the stream's
    // lines; it becomes one side call of that model, so the totals are the CLI's.
    let app = TestApp::spawn().await;
    let saved = run_.dir.path().join("run.stream-json.jsonl");
    std::fs::write(&saved, &out.stdout).unwrap();
    let mut ingest = Command::new(env!("CARGO_BIN_EXE_acd-collector"));
    ingest
        .args(["ingest", "claude-stream", "--endpoint", &app.api])
        .arg(&saved)
        .env_remove("DATABASE_URL")
        .env_remove("ACD_ENDPOINT");
    tokio::task::spawn_blocking(move || run(&mut ingest, Duration::from_secs(60)))
        .await
        .unwrap();
    let (session, _) = session_with_turns(&app, 2).await;
    let id = session["id"].as_str().unwrap().to_string();
    let (_, list) = app.get(&format!("/api/db/sessions/{id}/turns")).await;
    let side = list["side_calls"].as_array().cloned().unwrap_or_default();
    assert_eq!(side.len(), 1, "{list}");
    assert_eq!(side[0]["source"], "model_usage_unlisted", "{list}");
    assert_eq!(side[0]["input_tokens"], SIDE_CALL.input, "{list}");
    assert_eq!(side[0]["output_tokens"], SIDE_CALL.output, "{list}");
    assert_eq!(session["turn_count"], 2, "{session}");
    let main_input: i64 = answers.iter().map(|(c, _)| c.input).sum();
    assert_eq!(
        session["input_tokens"],
        main_input + SIDE_CALL.input,
        "{session}"
    );
    let main_output: i64 = answers.iter().map(|(c, _)| c.output).sum();
    assert_eq!(
        session["output_tokens"],
        main_output + SIDE_CALL.output,
        "{session}"
    );
    app.shutdown().await;
}
