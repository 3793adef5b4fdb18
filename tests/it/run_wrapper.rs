//! `acd-collector run`: the real binary wraps `tests/fixtures/fake-claude`, which replays a
//! captured stream-json file with scripted delays and exit codes, and records the run into a
//! running collector (`--endpoint`) or straight into a fresh database (`--database-url`).
//! Measured times are checked against the scripted delays within 50 ms: that tolerance is the
//! issue's acceptance criterion for the wrapper's clock, not a performance assertion.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{TestApp, admin_url};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_acd-collector");
/// `--include-partial-messages`: stream_event lines, one turn (message `msg_0125Spe…`).
const PARTIAL: &str = "guess-claude_code__scenario-b-partial.stream-json.jsonl";
const PARTIAL_SESSION: &str = "65f64773-6c3d-4f3b-8527-743ba724a8fd";
/// Two turns (`assistant` lines only), an `api_retry` line, result `error_during_execution`.
const TWO_TURNS: &str = "lightcycle__test_log_parser_excerpt.stream-json.jsonl";
/// The issue's acceptance tolerance for measured times.
const TOLERANCE_MS: i64 = 50;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude")
        .join(name)
}

fn fake_claude() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-claude")
}

/// What the fake CLI does (see the script's header).
#[derive(Default)]
struct Script {
    fixture: PathBuf,
    /// (1-based line, milliseconds slept before writing it)
    delays: Vec<(u32, u64)>,
    exit: i32,
    cut_at: Option<usize>,
    pause_after: Option<u32>,
}

impl Script {
    fn replay(name: &str) -> Self {
        Self {
            fixture: fixture(name),
            ..Self::default()
        }
    }
}

enum Sink<'a> {
    Endpoint(&'a str),
    Database(String),
}

/// The URL of a test database, from the admin URL the tests use.
fn database_url(name: &str) -> String {
    let admin = admin_url();
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base.to_string(), format!("?{query}")),
        None => (admin.clone(), String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{name}{query}")
}

/// Appends the fake CLI, with a real CLI's flags, to `cmd` and sets its script.
fn fake_claude_args(cmd: &mut Command, script: &Script) {
    let delays: Vec<String> = script
        .delays
        .iter()
        .map(|(l, ms)| format!("{l}:{ms}"))
        .collect();
    cmd.arg(fake_claude())
        .args(["-p", "count from 1 to 5", "--output-format", "stream-json"])
        .args(["--verbose", "--include-partial-messages"])
        .env_remove("DATABASE_URL")
        .env_remove("ACD_ENDPOINT")
        .env("RUST_LOG", "warn")
        .env("FAKE_CLAUDE_FIXTURE", &script.fixture)
        .env("FAKE_CLAUDE_EXIT", script.exit.to_string())
        .env("FAKE_CLAUDE_DELAYS", delays.join(","));
    if let Some(cut) = script.cut_at {
        cmd.env("FAKE_CLAUDE_CUT_AT", cut.to_string());
    }
    if let Some(line) = script.pause_after {
        cmd.env("FAKE_CLAUDE_PAUSE_AFTER", line.to_string());
    }
}

fn wrapper(sink: Sink<'_>, script: &Script) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.arg("run");
    match sink {
        Sink::Endpoint(url) => cmd.arg("--endpoint").arg(url),
        Sink::Database(url) => cmd.arg("--database-url").arg(url),
    };
    cmd.arg("--");
    fake_claude_args(&mut cmd, script);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the acd-collector binary starts")
}

struct Finished {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Reads all of the wrapper's output (stdout first: it is read while the child runs).
async fn finish(mut child: Child, mut stdout: Vec<u8>) -> Finished {
    let mut out = child.stdout.take().expect("piped stdout");
    out.read_to_end(&mut stdout).await.expect("read stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let mut stderr = String::new();
    err.read_to_string(&mut stderr).await.expect("read stderr");
    let status = child.wait().await.expect("the wrapper exits");
    Finished {
        code: status.code(),
        stdout,
        stderr,
    }
}

async fn run(sink: Sink<'_>, script: &Script) -> Finished {
    finish(wrapper(sink, script), Vec::new()).await
}

/// Bytes in the first `n` lines.
fn lines_len(bytes: &[u8], n: usize) -> usize {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .take(n)
        .map(<[u8]>::len)
        .sum()
}

fn assert_within(what: &str, measured: &Value, scripted_ms: i64) {
    let measured = measured
        .as_i64()
        .unwrap_or_else(|| panic!("{what} was not measured: {measured}"));
    assert!(
        (measured - scripted_ms).abs() <= TOLERANCE_MS,
        "{what}: measured {measured} ms, scripted {scripted_ms} ms (±{TOLERANCE_MS})"
    );
}

async fn session(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/api/db/sessions/{id}")).await;
    assert_eq!(status, 200, "session {id} was recorded: {body}");
    body
}

async fn turns(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/api/db/sessions/{id}/turns")).await;
    assert_eq!(status, 200, "{body}");
    body["turns"].as_array().expect("a turn list").clone()
}

/// The only session in the database (runs whose stream names none get a fresh id).
/// `stderr` is the wrapper's, shown when the session is missing.
async fn only_session(app: &TestApp, stderr: &str) -> Value {
    let (status, page) = app.get("/api/db/sessions").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["total"], 1,
        "exactly one session: {page}; stderr: {stderr}"
    );
    let id = page["sessions"][0]["id"].as_str().unwrap().to_string();
    session(app, &id).await
}

#[tokio::test]
async fn measures_ttft_and_turn_latency_of_a_partial_messages_stream_via_endpoint() {
    let app = TestApp::spawn().await;
    // Line 2 is system/init (the request goes out after it), 3 message_start, 5 the first
    // content_block_delta (first token), 11 message_stop (the turn ends), 12 the result.
    let script = Script {
        delays: vec![(3, 150), (5, 250), (11, 200)],
        ..Script::replay(PARTIAL)
    };
    let done = run(Sink::Endpoint(&app.api), &script).await;

    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let expected = std::fs::read(fixture(PARTIAL)).unwrap();
    assert!(
        done.stdout == expected,
        "stdout is the child's, byte for byte"
    );

    let turns = turns(&app, PARTIAL_SESSION).await;
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_within("TTFT", &turns[0]["time_to_first_token_ms"], 150 + 250);
    assert_within("turn latency", &turns[0]["duration_ms"], 150 + 250 + 200);

    let session = session(&app, PARTIAL_SESSION).await;
    let wall = session["wall_clock_ms"].as_i64().expect("wall clock");
    assert!(
        wall >= 600,
        "wall clock {wall} ms covers the scripted delays"
    );
    assert_eq!(session["status"], "completed");
    let run = &session["attributes"]["acd.run"];
    assert_eq!(run["exit_code"], 0, "{session}");
    let command: Vec<&str> = run["command"]
        .as_array()
        .expect("the command line is recorded")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        command.contains(&"--include-partial-messages"),
        "{command:?}"
    );
    assert!(
        !command.iter().any(|a| a.contains("count from 1 to 5")),
        "the prompt is not stored: {command:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn writes_a_failed_two_turn_run_to_the_database_and_keeps_the_exit_code() {
    let app = TestApp::spawn().await;
    // Turn 1: requested after line 4, first (and only) token lines 5–7. Turn 2: requested after
    // line 11, its single assistant line is 12.
    let script = Script {
        delays: vec![(5, 200), (7, 100), (12, 300)],
        exit: 3,
        ..Script::replay(TWO_TURNS)
    };
    let done = run(Sink::Database(database_url(&app.db.name)), &script).await;

    assert_eq!(done.code, Some(3), "the child's exit code: {}", done.stderr);
    assert!(done.stdout == std::fs::read(fixture(TWO_TURNS)).unwrap());

    let session = only_session(&app, &done.stderr).await;
    let id = session["id"].as_str().unwrap();
    assert_eq!(session["status"], "failed", "{session}");
    assert_eq!(session["attributes"]["acd.run"]["exit_code"], 3);
    assert_eq!(session["retry_count"], 1, "the api_retry line");
    let turns = turns(&app, id).await;
    assert_eq!(turns.len(), 2, "{turns:?}");
    assert_within("turn 1 TTFT", &turns[0]["time_to_first_token_ms"], 200);
    assert_within("turn 1 latency", &turns[0]["duration_ms"], 300);
    assert_within("turn 2 TTFT", &turns[1]["time_to_first_token_ms"], 300);
    assert_within("turn 2 latency", &turns[1]["duration_ms"], 300);
    assert!(session["wall_clock_ms"].as_i64().unwrap() >= 600);
    app.shutdown().await;
}

#[tokio::test]
async fn sigint_reaches_the_child_and_the_interrupted_run_is_recorded() {
    let app = TestApp::spawn().await;
    let script = Script {
        pause_after: Some(8),
        ..Script::replay(PARTIAL)
    };
    let mut child = wrapper(Sink::Endpoint(&app.api), &script);
    // Wait until the fake CLI has written line 8 and is waiting: its handler is installed.
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for _ in 0..8 {
        let n = reader.read_until(b'\n', &mut seen).await.unwrap();
        assert!(n > 0, "the wrapper passes line after line");
    }
    // Only the wrapper is signalled, as `kill -INT <pid>` would.
    let pid = child.id().expect("running").to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill(1) runs");
    assert!(kill.success());
    child.stdout = Some(reader.into_inner());
    let done = finish(child, seen).await;

    assert_eq!(done.code, Some(130), "the child's code: {}", done.stderr);
    let expected = std::fs::read(fixture(PARTIAL)).unwrap();
    let first_8 = lines_len(&expected, 8);
    let (head, marker) = done.stdout.split_at(first_8);
    assert!(head == &expected[..first_8]);
    assert_eq!(
        String::from_utf8_lossy(marker).trim(),
        r#"{"type": "fake_claude", "signal": "SIGINT"}"#,
        "the child got SIGINT and the wrapper still passed its output on"
    );

    let session = session(&app, PARTIAL_SESSION).await;
    assert_eq!(session["status"], "failed");
    let run = &session["attributes"]["acd.run"];
    assert_eq!(run["exit_code"], 130, "{session}");
    assert_eq!(run["signals_received"], serde_json::json!(["SIGINT"]));
    assert_eq!(run["signals_forwarded"], serde_json::json!(["SIGINT"]));
    assert_eq!(turns(&app, PARTIAL_SESSION).await.len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_terminal_ctrl_c_reaches_the_child_once_and_the_run_is_recorded() {
    let app = TestApp::spawn().await;
    // On a pseudo-terminal, Ctrl-C makes the kernel signal the whole foreground process group:
    // the child gets it directly, so the wrapper must not forward it a second time.
    let pty_run = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pty-run");
    let mut cmd = Command::new(pty_run);
    cmd.args(["8", BIN, "run", "--endpoint", &app.api, "--"]);
    let script = Script {
        pause_after: Some(8),
        ..Script::replay(PARTIAL)
    };
    fake_claude_args(&mut cmd, &script);
    let output = cmd
        .output()
        .await
        .expect("python3 runs tests/fixtures/pty-run");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{shown}");
    assert!(shown.contains(r#""signal": "SIGINT""#), "{shown}");

    let session = session(&app, PARTIAL_SESSION).await;
    let run = &session["attributes"]["acd.run"];
    assert_eq!(run["exit_code"], 130, "{session}");
    assert_eq!(run["signals_received"], serde_json::json!(["SIGINT"]));
    assert_eq!(run["signals_forwarded"], serde_json::json!([]), "{session}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_child_that_prints_nothing_and_fails_is_still_recorded() {
    let app = TestApp::spawn().await;
    let script = Script {
        fixture: PathBuf::from("/dev/null"),
        exit: 2,
        ..Script::default()
    };
    let done = run(Sink::Endpoint(&app.api), &script).await;
    assert_eq!(done.code, Some(2), "{}", done.stderr);
    assert!(done.stdout.is_empty());

    let session = only_session(&app, &done.stderr).await;
    assert_eq!(session["status"], "failed");
    assert_eq!(session["turn_count"], 0);
    assert_eq!(session["attributes"]["acd.run"]["exit_code"], 2);
    app.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_mid_line_is_passed_on_as_is_and_recorded() {
    let app = TestApp::spawn().await;
    let expected = std::fs::read(fixture(PARTIAL)).unwrap();
    // Cut in the middle of line 8, the assistant line.
    let cut = lines_len(&expected, 7) + 40;
    let script = Script {
        cut_at: Some(cut),
        exit: 1,
        ..Script::replay(PARTIAL)
    };
    let done = run(Sink::Endpoint(&app.api), &script).await;
    assert_eq!(done.code, Some(1), "{}", done.stderr);
    assert!(
        done.stdout == expected[..cut],
        "the partial line too, unchanged"
    );

    let session = session(&app, PARTIAL_SESSION).await;
    assert_eq!(session["status"], "failed");
    assert_eq!(session["attributes"]["acd.run"]["ended_mid_line"], true);
    app.shutdown().await;
}

#[tokio::test]
async fn a_command_that_cannot_start_exits_127_with_a_clear_error() {
    let output = Command::new(BIN)
        .args(["run", "--endpoint", "http://127.0.0.1:9", "--"])
        .arg("/nonexistent/claude")
        .arg("-p")
        .arg("hello")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot start") && stderr.contains("/nonexistent/claude"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_recording_failure_is_reported_but_the_exit_code_is_the_childs() {
    // Nothing listens on the discard port: the run cannot be sent.
    let script = Script::replay(PARTIAL);
    let done = run(Sink::Endpoint("http://127.0.0.1:9"), &script).await;
    assert_eq!(done.code, Some(0));
    assert!(done.stdout == std::fs::read(fixture(PARTIAL)).unwrap());
    assert!(
        done.stderr.contains("not recorded"),
        "says so on stderr: {}",
        done.stderr
    );
}
