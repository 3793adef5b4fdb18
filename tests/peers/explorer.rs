//! The built-in explorer in a real browser: sessions sent with the official OpenTelemetry SDK
//! (opentelemetry-otlp over OTLP/HTTP) and a JUnit report uploaded to the REST API, then
//! tests/peers/explorer/browser.mjs drives Debian's chromium through playwright-core (pinned by
//! assets/explorer/package-lock.json, installed by scripts/explorer-deps, which also proves the
//! vendored Chart.js equals the pinned package's file). The script checks each page loads with no
//! console error, that every number on the session page equals the REST answer, that filters and
//! paging change the table as the API says, and, against a second collector started with
//! `--api-token` and `--read-only`, the token prompt and the hidden reindex button. Screenshots go
//! to target/explorer-screenshots/.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use acd_collector::app::Settings;
use acd_collector::guard::{Guard, Token};
use common::TestApp;
use common::process::{INSTALL_TIMEOUT, node, repo, run};
use common::spans::{Tokens, Transport, export, session, tool, turn};
use opentelemetry::trace::Status;

/// The browser script loads every page a few times; well under a minute here.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(240);
const SESSIONS: u128 = 25;
const TOKEN: &str = "explorer-secret";

fn chromium() -> &'static str {
    "/usr/bin/chromium"
}

/// scripts/explorer-deps once per test binary: npm ci when the lock changed, vendor check.
fn node_modules() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = run(
            &mut Command::new(repo().join("scripts/explorer-deps")),
            INSTALL_TIMEOUT,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(stdout.lines().last().expect("node_modules path").trim())
    })
}

/// Session `n`: n % 5 + 1 turns, each with a tool call; every fourth session failed.
async fn send_sessions(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..SESSIONS {
        let trace = 0xe1a0_0000_0000_0000_0000_0000_0000_0000 + n;
        let id = format!("explorer-session-{n:02}");
        let base = n as u64 * 120_000;
        let turns = (n % 5 + 1) as u64;
        let mut root = session(trace, 1, &id, (base, base + turns * 10_000 + 2_000));
        if n % 4 == 3 {
            root.status = Status::error("harness gave up");
        }
        let mut spans = vec![root];
        for k in 0..turns {
            let start = base + 500 + k * 10_000;
            let tokens = Tokens {
                input: 1_200 + 100 * k as i64 + n as i64,
                output: 300 + 40 * k as i64,
                cache_read: 800 * k as i64,
                cache_write: 200,
            };
            let span = 10 + 2 * k;
            spans.push(turn(
                trace,
                span,
                1,
                k as i64 + 1,
                (start, start + 6_000),
                tokens,
                0.8,
            ));
            spans.push(tool(
                trace,
                span + 1,
                span,
                "Read",
                "src/lib.rs",
                (start + 6_500, start + 7_500),
            ));
        }
        // A side call (a summary made for a tool) in every other session: in the totals and in
        // its own table, not a turn.
        if n % 2 == 0 {
            let mut side = turn(
                trace,
                9,
                1,
                0,
                (base + 7_000, base + 7_800),
                Tokens {
                    input: 700 + n as i64,
                    output: 90,
                    cache_read: 0,
                    cache_write: 0,
                },
                0.2,
            );
            side.attributes
                .retain(|kv| kv.key.as_str() != "acd.turn.number");
            side.attributes
                .push(opentelemetry::KeyValue::new("acd.call.kind", "side"));
            side.attributes.push(opentelemetry::KeyValue::new(
                "acd.call.source",
                "web_fetch_apply",
            ));
            spans.push(side);
        }
        export(Transport::HttpProtobuf, app, spans)
            .await
            .expect("spans exported");
        ids.push(id);
    }
    ids
}

const JUNIT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="demo" tests="4" failures="1" errors="0" skipped="0" time="0.5">
<testcase classname="demo.math" name="adds" time="0.1"/>
<testcase classname="demo.math" name="subtracts" time="0.1"/>
<testcase classname="demo.io" name="reads" time="0.2"/>
<testcase classname="demo.io" name="writes" time="0.1"><failure message="disk full">disk full</failure></testcase>
</testsuite></testsuites>"#;

async fn upload_junit(app: &TestApp, session: &str) {
    let response = app
        .http
        .post(format!("{}/api/db/sessions/{session}/test-runs", app.api))
        .header("content-type", "application/xml")
        .body(JUNIT)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// The collector's id of the session the harness called `external`.
async fn uuid_of(app: &TestApp, external: &str) -> String {
    let (status, page) = app.get("/api/db/sessions?limit=500").await;
    assert_eq!(status, 200, "{page}");
    let sessions = page["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), SESSIONS as usize, "every session stored");
    let found = sessions.iter().find(|s| s["external_id"] == external);
    found.expect("session listed")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn browser(app: &TestApp, mode: &str, session: &str) {
    let shots = repo().join("target/explorer-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut cmd = Command::new(node());
    cmd.arg(repo().join("tests/peers/explorer/browser.mjs"))
        .env("NODE_PATH", node_modules())
        .env("EXPLORER_URL", &app.api)
        .env("EXPLORER_MODE", mode)
        .env("EXPLORER_SESSION", session)
        .env("EXPLORER_TOKEN", TOKEN)
        .env("EXPLORER_SCREENSHOTS", &shots)
        .env("CHROMIUM", chromium())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let out = run(&mut cmd, BROWSER_TIMEOUT);
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
async fn every_page_renders_the_rest_answers_in_a_real_browser() {
    let app = TestApp::spawn().await;
    let ids = send_sessions(&app).await;
    let id = uuid_of(&app, &ids[SESSIONS as usize - 1]).await;
    upload_junit(&app, &id).await;
    let (status, s) = app.get(&format!("/api/db/sessions/{id}")).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["tests_run"], 4, "{s}");
    let app = tokio::task::spawn_blocking(move || {
        browser(&app, "full", &id);
        app
    })
    .await
    .unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn the_token_prompt_and_read_only_mode_work_in_a_real_browser() {
    let app = TestApp::spawn_with(Settings {
        guard: Guard {
            api_token: Some(Token::new(TOKEN)),
            read_only: true,
            ..Guard::default()
        },
        ..Settings::ephemeral()
    })
    .await;
    let ids = send_sessions(&app).await;
    let app = tokio::task::spawn_blocking(move || {
        browser(&app, "guarded", &ids[0]);
        app
    })
    .await
    .unwrap();
    app.shutdown().await;
}
