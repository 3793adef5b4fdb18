//! `acd-collector ingest claude-stream|claude-transcript` through the real binary, on the real
//! captured fixtures (tests/fixtures/claude/): into a fresh database, and with `--endpoint` into
//! a running collector; then the REST API shows the session. Re-ingesting changes nothing.
//!
//! Session totals must equal the `result` line exactly for input, cache and output tokens
//! (output after reconciliation with the result line, see src/claude/reconcile.rs); turn counts
//! are API responses, not the CLI's `num_turns` (which counts loop iterations).

use crate::common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use acd_collector::app::Settings;
use acd_collector::config::Limits;
use common::TestApp;
use serde_json::Value;

const CCAGENT: &str = "ccagent__claude_response1.stream-json.jsonl.gz";
const CCAGENT_SESSION: &str = "13fd3e32-9028-43ba-9306-4e08bca82525";
const LIGHTCYCLE: &str = "lightcycle__test_log_parser_excerpt.stream-json.jsonl";
const LIGHTCYCLE_SESSION: &str = "7c5f0968-d6de-4df9-b07f-7cdb41e507ea";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude")
        .join(name)
}

/// The URL of the test app's own database.
fn database_url(app: &TestApp) -> String {
    let admin = common::admin_url();
    let (server, _) = admin.rsplit_once('/').expect("admin URL has a database");
    format!("{server}/{}", app.db.name)
}

/// Runs the binary with `args`, feeding `stdin`; returns its output (stderr is the summary).
/// On a blocking thread, so the collector under test keeps serving meanwhile.
async fn acd(args: &[&str], stdin: Option<Vec<u8>>) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || run_binary(&args, stdin))
        .await
        .expect("the binary runs")
}

fn run_binary(args: &[String], stdin: Option<Vec<u8>>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_acd-collector"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ACD_ENDPOINT")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut pipe = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        if let Some(bytes) = stdin {
            pipe.write_all(&bytes).expect("write stdin");
        }
    });
    let output = child.wait_with_output().expect("the binary finishes");
    feeder.join().unwrap();
    output
}

fn ok(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "ingest failed: {stderr}");
    stderr
}

async fn session(app: &TestApp, external_id: &str) -> Value {
    let id = acd_collector::domain::session_uuid(external_id);
    let (status, body) = app.get(&format!("/api/db/sessions/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn assert_ccagent_totals(s: &Value) {
    assert_eq!(s["turn_count"], 54);
    assert_eq!(s["input_tokens"], 193);
    assert_eq!(s["output_tokens"], 35_620);
    assert_eq!(s["cache_read_tokens"], 4_940_732);
    assert_eq!(s["cache_write_tokens"], 118_318);
    assert_eq!(s["totals_source"], "turns");
    assert_eq!(s["status"], "completed");
    assert_eq!(s["reported_num_turns"], 139);
    assert!((s["reported_cost_usd"].as_f64().unwrap() - 2.463_793_5).abs() < 1e-6);
    let ours = s["cost_usd"].as_f64().unwrap();
    // Per-turn costs are stored with 6 decimals: 54 roundings.
    assert!((ours - 2.460_791_1).abs() < 1e-4, "{ours}");
}

#[tokio::test]
async fn a_gzipped_stream_file_lands_in_the_database_and_re_ingest_changes_nothing() {
    let app = TestApp::spawn().await;
    let url = database_url(&app);
    let file = fixture(CCAGENT);
    let args = [
        "ingest",
        "claude-stream",
        file.to_str().unwrap(),
        "--database-url",
        &url,
    ];
    let stderr = ok(&acd(&args, None).await);
    assert!(
        stderr.contains("turns 54 (result num_turns 139)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stored: 108 new records, 0 already stored"),
        "{stderr}"
    );
    let first = session(&app, CCAGENT_SESSION).await;
    assert_ccagent_totals(&first);
    let id = first["id"].as_str().unwrap().to_string();
    let (_, turns) = app.get(&format!("/api/db/sessions/{id}/turns")).await;

    let stderr = ok(&acd(&args, None).await);
    assert!(
        stderr.contains("stored: 0 new records, 108 already stored"),
        "{stderr}"
    );
    let mut again = session(&app, CCAGENT_SESSION).await;
    let mut before = first.clone();
    for s in [&mut again, &mut before] {
        s.as_object_mut().unwrap().remove("updated_at");
    }
    assert_eq!(again, before);
    assert_eq!(
        app.get(&format!("/api/db/sessions/{id}/turns")).await.1,
        turns
    );
    app.shutdown().await;
}

#[tokio::test]
async fn stdin_stream_with_an_incomplete_excerpt_falls_back_to_result_totals() {
    let app = TestApp::spawn().await;
    let url = database_url(&app);
    let bytes = std::fs::read(fixture(LIGHTCYCLE)).unwrap();
    let target = "the-grid";
    let args = [
        "ingest",
        "claude-stream",
        "-",
        "--database-url",
        &url,
        "--target",
        target,
    ];
    let stderr = ok(&acd(&args, Some(bytes)).await);
    assert!(
        stderr.contains("session totals from the result line"),
        "{stderr}"
    );
    let s = session(&app, LIGHTCYCLE_SESSION).await;
    assert_eq!(s["totals_source"], "result");
    assert_eq!(s["status"], "failed");
    assert_eq!(s["cache_read_tokens"], 315_283);
    assert_eq!(s["output_tokens"], 1_633);
    assert_eq!(s["retry_count"], 1);
    let target_id = acd_collector::domain::session_uuid(target);
    assert_eq!(s["target_id"], target_id.to_string());
    assert!((s["reported_cost_usd"].as_f64().unwrap() - 0.235_851_9).abs() < 1e-6);
    app.shutdown().await;
}

#[tokio::test]
async fn endpoint_mode_posts_the_parsed_run_to_a_running_collector() {
    let app = TestApp::spawn().await;
    let file = fixture(CCAGENT);
    let args = [
        "ingest",
        "claude-stream",
        file.to_str().unwrap(),
        "--endpoint",
        &app.api,
    ];
    let stderr = ok(&acd(&args, None).await);
    assert!(stderr.contains("stored: 108 new records"), "{stderr}");
    assert_ccagent_totals(&session(&app, CCAGENT_SESSION).await);
    assert_eq!(app.metric("acd_model_requests_total", &[]).await, 54.0);
    let stderr = ok(&acd(&args, None).await);
    assert!(
        stderr.contains("stored: 0 new records, 108 already stored"),
        "{stderr}"
    );
    assert_eq!(
        app.metric("acd_model_requests_total", &[]).await,
        54.0,
        "counted once"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn transcripts_ingest_one_session_per_file() {
    let app = TestApp::spawn().await;
    let url = database_url(&app);
    let (a, b) = (
        fixture("ccagent__clean_poem_haiku_session.transcript.jsonl"),
        fixture("spotter__short.transcript.jsonl"),
    );
    let args = [
        "ingest",
        "claude-transcript",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ];
    ok(&acd(&[&args[..], &["--database-url", &url]].concat(), None).await);
    let s = session(&app, "c67db2d7-5c9f-46ff-88df-7f65093ae583").await;
    assert_eq!(s["turn_count"], 2);
    assert_eq!(
        (s["input_tokens"].as_i64(), s["output_tokens"].as_i64()),
        (Some(9), Some(855))
    );
    assert_eq!(s["started_at"], "2025-11-15T20:13:28.555Z");
    let s = session(&app, "55604662-cf2a-4331-851a-ec234028f8ca").await;
    assert_eq!(s["cache_write_1h_tokens"], 13_835);
    assert_eq!(s["turn_count"], 1);
    app.shutdown().await;
}

#[tokio::test]
async fn the_ingest_endpoint_answers_bad_input_with_json_4xx() {
    let app = TestApp::spawn_with(Settings {
        limits: Limits {
            max_body_bytes: 4096,
            ..Limits::default()
        },
        ..Settings::ephemeral()
    })
    .await;
    let url = format!("{}/api/db/ingest/claude-run", app.api);
    let post = |body: Vec<u8>, content_type: &'static str| {
        let request = app
            .http
            .post(&url)
            .header("content-type", content_type)
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("JSON error body");
            (status, body)
        }
    };
    let negative = r#"{"turns":[{"message_id":"m","usage":{"input":-5}}]}"#;
    for (body, content_type, status) in [
        (b"{not json".to_vec(), "application/json", 400),
        (br#"{"turns":"many"}"#.to_vec(), "application/json", 400),
        (b"{}".to_vec(), "text/plain", 415),
        (vec![b' '; 10_000], "application/json", 413),
    ] {
        let (got, body) = post(body, content_type).await;
        assert_eq!(got, status, "{body}");
        assert!(body["error"].is_string(), "{body}");
    }
    // A turn past the limits is refused alone: the run is stored, the turn named with why.
    let (got, body) = post(negative.as_bytes().to_vec(), "application/json").await;
    assert_eq!(got, 200, "{body}");
    assert_eq!(body["turns"], 0, "{body}");
    let rejected = body["rejected"][0].as_str().unwrap_or_default();
    assert!(rejected.contains("negative"), "{body}");
    let bad_target = app
        .http
        .post(format!("{url}?target_id=nope"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_target.status().as_u16(), 400);

    let (_, doc) = app.get("/api/openapi.json").await;
    assert!(doc["paths"]["/api/db/ingest/claude-run"]["post"].is_object());
    assert!(doc["components"]["schemas"]["ParsedRun"].is_object());
    app.shutdown().await;
}

#[test]
fn the_gzipped_fixture_is_intact() {
    let mut text = String::new();
    let file = std::fs::File::open(fixture(CCAGENT)).unwrap();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.lines().count(), 142);
}

#[tokio::test]
async fn a_cut_off_stream_without_result_is_still_recorded() {
    let app = TestApp::spawn().await;
    let url = database_url(&app);
    let text = std::fs::read_to_string(fixture(
        "guess-claude_code__scenario-b-partial.stream-json.jsonl",
    ))
    .unwrap();
    let cut: String = text.lines().take(9).collect::<Vec<_>>().join("\n");
    let cut = cut[..cut.len() - 30].to_string();
    let args = ["ingest", "claude-stream", "-", "--database-url", &url];
    let stderr = ok(&acd(&args, Some(cut.into_bytes())).await);
    assert!(stderr.contains("last line 9 is truncated"), "{stderr}");
    let s = session(&app, "65f64773-6c3d-4f3b-8527-743ba724a8fd").await;
    assert_eq!(s["status"], "failed");
    assert_eq!(s["turn_count"], 1);
    assert_eq!(s["cache_write_tokens"], 12_069);
    assert_eq!(
        s["totals_source"], "turns",
        "no result line to fall back on"
    );
    app.shutdown().await;
}

/// A history directory as Claude Code 2.1.328 leaves it: the session's transcript and, under
/// `<session>/subagents/`, a subagent's, whose lines are a sidechain of the same `sessionId`.
/// The subagent's call lands in the parent session as a subagent call, not a turn.
#[tokio::test]
async fn a_history_directory_puts_subagent_calls_in_their_parent_session_as_no_turns() {
    const SESSION: &str = "c6112072-770b-478f-bcb8-50def3907c72";
    let app = TestApp::spawn().await;
    let history = tempfile::tempdir().unwrap();
    let project = history.path().join("-tmp-spike-work");
    let subagents = project.join(SESSION).join("subagents");
    std::fs::create_dir_all(&subagents).unwrap();
    let parent =
        std::fs::read_to_string(fixture("cli-2.1.328__standin-retry-write.transcript.jsonl"))
            .unwrap();
    std::fs::write(project.join(format!("{SESSION}.jsonl")), &parent).unwrap();
    // The subagent's one call: the parent's last assistant line, made a sidechain call of its own.
    let last = parent
        .lines()
        .rfind(|l| l.contains(r#""type":"assistant""#))
        .unwrap();
    let mut line: Value = serde_json::from_str(last).unwrap();
    line["isSidechain"] = true.into();
    line["agentId"] = "a1b2c3".into();
    line["uuid"] = "5f0e7d2c-0000-4000-8000-00000000a1b2".into();
    line["requestId"] = "req_subagent_1".into();
    line["message"]["id"] = "msg_subagent_1".into();
    line["message"]["usage"]["input_tokens"] = 50.into();
    line["message"]["usage"]["output_tokens"] = 5.into();
    std::fs::write(subagents.join("agent-a1b2c3.jsonl"), format!("{line}\n")).unwrap();

    let url = database_url(&app);
    let dir = history.path().to_str().unwrap();
    ok(&acd(
        &["ingest", "claude-transcript", dir, "--database-url", &url],
        None,
    )
    .await);
    let s = session(&app, SESSION).await;
    assert_eq!(s["turn_count"], 2, "{s}");
    assert_eq!(s["input_tokens"], 102 + 103 + 50, "{s}");
    let (_, turns) = app.get(&format!("/api/db/sessions/{SESSION}/turns")).await;
    let numbers: Vec<_> = turns["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["turn_number"].clone())
        .collect();
    assert_eq!(numbers, [1, 2], "{turns}");
    let side = turns["side_calls"].as_array().unwrap();
    assert_eq!(side.len(), 1, "{turns}");
    assert_eq!(side[0]["kind"], "subagent", "{turns}");
    assert_eq!(side[0]["input_tokens"], 50, "{turns}");
    // Imported again: nothing new.
    ok(&acd(
        &["ingest", "claude-transcript", dir, "--database-url", &url],
        None,
    )
    .await);
    assert_eq!(session(&app, SESSION).await["input_tokens"], 255);
    app.shutdown().await;
}
