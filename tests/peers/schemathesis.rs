//! The REST API fuzzed from its own OpenAPI document with schemathesis (from PyPI, in the tests'
//! venv, `scripts/python-venv`): coverage, fuzzing and stateful phases against the real server and
//! PostgreSQL, with sessions, turns, tools and retries already stored so that ids resolve. It fails
//! on any 5xx, any undocumented status code, and any response that does not match its schema.
//! `ACD_SCHEMATHESIS_SECONDS` bounds the run (default 60; `scripts/schemathesis-long` runs 30 min).
//! Out-of-range dates and NULs in the known fields are tested directly in tests/it/bad_input/rest.rs.
//!
//! Not fuzzed: target registration and reindex. They read the collector host's filesystem by
//! design (a registered root is walked), so random paths such as `/` would index the CI machine;
//! their edge cases are tested in codebase_api.rs.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::TestApp;
use common::process::{python, run};
use common::spans::{self, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rest_endpoint_survives_schemathesis() {
    let st = python().with_file_name("schemathesis");
    let app = TestApp::spawn().await;
    let trace = 0x5eed_u128;
    let tokens = spans::Tokens {
        input: 100,
        output: 20,
        cache_read: 10,
        cache_write: 5,
    };
    let batch = vec![
        spans::session(trace, 1, "fuzzed-session", (0, 60_000)),
        spans::turn(trace, 2, 1, 1, (1_000, 5_000), tokens, 0.4),
        spans::tool(trace, 3, 2, "Edit", "src/lib.rs", (2_000, 3_000)),
    ];
    spans::export(Transport::HttpProtobuf, &app, batch)
        .await
        .unwrap();

    let seconds: u64 = std::env::var("ACD_SCHEMATHESIS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let workdir = tempfile::tempdir().unwrap();
    let mut command = Command::new(st);
    command
        .current_dir(workdir.path())
        .arg("run")
        .arg(format!("{}/api/openapi.json", app.api))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
            "--exclude-path-regex",
            r"^/api/db/(targets|codebase/\{target_id\}/reindex)$",
            "--max-time",
            &seconds.to_string(),
            "--request-timeout",
            "20",
            "--workers",
            "2",
            // NUL characters in strings (PostgreSQL refuses them: issue 19, item 8).
            "--generation-allow-x00",
            "true",
            "--no-color",
        ])
        .env("SCHEMATHESIS_TELEMETRY", "false");
    let api = app.api.clone();
    // Blocking: schemathesis runs while this runtime's worker threads serve the collector.
    let output =
        tokio::task::spawn_blocking(move || run(&mut command, Duration::from_secs(seconds + 180)))
            .await
            .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("passed"), "{api}: {text}");
    app.shutdown().await;
}
