//! The real CLI's stream-json: through `acd-collector run` with `--include-partial-messages`
//! (TTFT and latency measured, retries in order with their waits), saved without partial
//! messages and read by `ingest claude-stream`, and the transcript the same run wrote, read by
//! `ingest claude-transcript`.

use std::process::Command;

use serde_json::Value;

use super::cli::{Run, assert_times, assert_tokens, session_with_turns};
use crate::common::TestApp;

const BIN: &str = env!("CARGO_BIN_EXE_acd-collector");

async fn retries(app: &TestApp, session: &Value) -> Vec<Value> {
    let id = session["id"].as_str().unwrap();
    let (status, body) = app.get(&format!("/api/db/retries/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["retries"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn run_wrapper_on_partial_messages() {
    let app = TestApp::spawn().await;
    let run = Run::start().await;
    let cmd = run.command(&["run", "--endpoint", &app.api, "--"], &[]);
    let mut cmd = cmd;
    cmd.args([
        "--output-format",
        "stream-json",
        "--include-partial-messages",
    ]);
    run.finish(cmd).await;
    let answers = run.answers();
    let (session, turns) = session_with_turns(&app, 2).await;
    assert_tokens(&session, &turns, &answers);
    assert_times(&turns, &answers);
    assert_eq!(session["status"], "completed", "{session}");
    // One 429 before call 1, one 529 before call 2, each retried after the CLI's back-off.
    let retries = retries(&app, &session).await;
    let reasons: Vec<_> = retries.iter().map(|r| r["reason"].clone()).collect();
    assert_eq!(reasons, ["rate_limit", "overloaded"], "{retries:?}");
    let served = run.standin.served();
    let failures: Vec<_> = served.iter().filter(|s| s.status != 200).collect();
    for (retry, failure) in retries.iter().zip(failures) {
        let next = served
            .iter()
            .find(|s| s.call == failure.call && s.received > failure.done)
            .expect("the failed call was sent again");
        let wait = (next.received - failure.done).as_millis() as i64;
        let got = retry["wait_duration_ms"].as_i64();
        assert_eq!(retry["succeeded"], true, "retried, then answered: {retry}");
        eprintln!("retry wait: measured {got:?} ms, stand-in saw {wait} ms");
        assert!(
            got.is_some_and(|g| (g - wait).abs() <= super::cli::CLI_OVERHEAD_MS),
            "retry wait {got:?} vs {wait}: {retry}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn saved_stream_json_and_the_transcript() {
    let app = TestApp::spawn().await;
    let run = Run::start().await;
    let mut cmd = run.command(&[], &[]);
    cmd.args(["--output-format", "stream-json"]);
    let out = run.finish(cmd).await;
    let answers = run.answers();
    let saved = run.dir.path().join("run.stream-json.jsonl");
    std::fs::write(&saved, &out.stdout).unwrap();
    let ingest = |kind: &str, file: &std::path::Path| {
        let mut c = Command::new(BIN);
        c.args(["ingest", kind, "--endpoint", &app.api])
            .arg(file)
            .env_remove("DATABASE_URL")
            .env_remove("ACD_ENDPOINT");
        c
    };
    // Without partial messages per-call output is a placeholder: the total is reconciled with
    // the result line's usage, per turn only input and cache figures are exact.
    let mut c = ingest("claude-stream", &saved);
    tokio::task::spawn_blocking(move || {
        crate::common::process::run(&mut c, std::time::Duration::from_secs(60))
    })
    .await
    .unwrap();
    let (session, turns) = session_with_turns(&app, 2).await;
    let total: i64 = answers.iter().map(|(c, _)| c.output).sum();
    assert_eq!(session["output_tokens"], total, "{session}");
    let inputs: Vec<_> = turns.iter().map(|t| t["input_tokens"].clone()).collect();
    let want: Vec<_> = answers.iter().map(|(c, _)| c.input).collect();
    assert_eq!(inputs, want);
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(
        session["cache_write_1h_tokens"],
        answers.iter().map(|(c, _)| c.cache_write_1h).sum::<i64>()
    );
    app.shutdown().await;

    // The transcript of that same run carries the true output per call. Imported as a history:
    // no path means `$HOME/.claude/projects`; a second import stores nothing new.
    let app = TestApp::spawn().await;
    assert_eq!(run.transcripts().len(), 1, "{:?}", run.transcripts());
    let mut summaries = Vec::new();
    for _ in 0..2 {
        let mut c = Command::new(BIN);
        c.args(["ingest", "claude-transcript", "--endpoint", &app.api])
            .env_remove("DATABASE_URL")
            .env_remove("ACD_ENDPOINT")
            .env_remove("CLAUDE_CONFIG_DIR")
            .env("HOME", run.home());
        let out = tokio::task::spawn_blocking(move || {
            crate::common::process::run(&mut c, std::time::Duration::from_secs(60))
        })
        .await
        .unwrap();
        summaries.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    assert!(
        summaries[0].contains("1 files (0 failed), 1 sessions, 2 turns"),
        "{summaries:?}"
    );
    assert!(summaries[1].contains(" 0 records stored"), "{summaries:?}");
    let (session, turns) = session_with_turns(&app, 2).await;
    assert_tokens(&session, &turns, &answers);
    app.shutdown().await;
}
