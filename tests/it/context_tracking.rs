//! Context tracking end to end: turns sent as OTLP spans with `acd.context.*` attributes (and
//! without, from usage), and a Claude stream-json run with file tool calls, a compaction boundary
//! and `modelUsage.contextWindow`, give per-turn rows, overflows, hot files with paths relative
//! to the root, and context metrics; resending changes nothing.

use crate::common;

use std::time::Duration;

use acd_collector::claude::StreamParser;
use chrono::{DateTime, Utc};
use common::TestApp;
use common::spans::{self, MODEL, TARGET_ID, Tokens, Transport};
use opentelemetry::KeyValue;
use opentelemetry::trace::Status;
use serde_json::{Value, json};

const TRACE: u128 = 0xc0de_0000_0000_0000_0000_0000_0000_0006;

fn tokens(input: i64, cache_read: i64, cache_write: i64) -> Tokens {
    Tokens {
        input,
        output: 100,
        cache_read,
        cache_write,
    }
}

fn spans_of_session() -> Vec<opentelemetry_sdk::trace::SpanData> {
    let conversation = "ctx-session-1";
    let mut with_segments = spans::turn(TRACE, 2, 1, 1, (10, 20), tokens(95_000, 0, 0), 0.5);
    for (k, v) in [
        ("acd.context.system_tokens", 2_000_i64),
        ("acd.context.feature_tokens", 3_000),
        ("acd.context.file_tokens", 40_000),
        ("acd.context.conversation_tokens", 50_000),
        ("acd.context.limit", 200_000),
    ] {
        with_segments.attributes.push(KeyValue::new(k, v));
    }
    // Usage only: prompt = uncached input + cache read + cache write = 150K of the model's window.
    let from_usage = spans::turn(
        TRACE,
        3,
        1,
        2,
        (30, 40),
        tokens(150_000, 100_000, 20_000),
        0.5,
    );
    // Over an explicit, smaller limit.
    let mut over = spans::turn(TRACE, 4, 1, 3, (50, 60), tokens(160_000, 0, 0), 0.5);
    over.attributes
        .push(KeyValue::new("acd.context.limit", 128_000_i64));
    // A call the API refused as too long.
    let mut refused = spans::turn(TRACE, 5, 1, 4, (70, 80), tokens(0, 0, 0), 0.5);
    refused.status = Status::error("prompt is too long: 212000 tokens > 200000 maximum");
    vec![
        spans::session(TRACE, 1, conversation, (0, 1_000)),
        with_segments,
        from_usage,
        over,
        refused,
        spans::tool(TRACE, 10, 2, "Read", "/srv/demo/src/lib.rs", (11, 12)),
        spans::tool(TRACE, 11, 3, "Edit", "./src/lib.rs", (31, 32)),
        spans::tool(TRACE, 12, 3, "Grep", "src/lib.rs", (33, 34)),
        spans::tool(TRACE, 13, 4, "Write", "/srv/demo/src/new.rs", (51, 52)),
    ]
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn turns_from_spans_give_usage_overflows_hot_files_and_metrics() {
    let app = TestApp::spawn().await;
    // The target's root is known before the tool calls arrive: paths become relative to it.
    sqlx::query("INSERT INTO targets (id, name, root_path) VALUES ($1::uuid, 'demo', '/srv/demo')")
        .bind(TARGET_ID)
        .execute(&app.db.pool)
        .await
        .unwrap();
    for _ in 0..2 {
        spans::export(Transport::HttpProtobuf, &app, spans_of_session())
            .await
            .unwrap();
    }
    let session = acd_collector::domain::session_uuid("ctx-session-1");
    let (status, body) = app.get(&format!("/api/db/context/{session}")).await;
    assert_eq!(status, 200, "{body}");
    let turns = body["turns"].as_array().unwrap();
    assert_eq!(
        turns.len(),
        4,
        "one row per turn, resent batch ignored: {body}"
    );
    let t1 = &turns[0];
    assert_eq!(
        (
            t1["turn_number"].as_i64(),
            t1["segments_reported"].as_bool()
        ),
        (Some(1), Some(true))
    );
    assert_eq!(t1["file_tokens"], 40_000);
    assert_eq!(t1["total_tokens"], 95_000);
    assert!((t1["utilization"].as_f64().unwrap() - 0.475).abs() < 1e-9);
    let t2 = &turns[1];
    assert_eq!(
        (
            t2["total_tokens"].as_i64(),
            t2["segments_reported"].as_bool()
        ),
        (Some(150_000), Some(false))
    );
    assert_eq!(
        t2["context_limit"], 200_000,
        "the model's window from the price table"
    );
    assert_eq!(t2["overflow"], false);
    assert_eq!(
        (
            turns[2]["overflow_reason"].as_str(),
            turns[2]["context_limit"].as_i64()
        ),
        (Some("over_limit"), Some(128_000))
    );
    assert_eq!(turns[3]["overflow_reason"], "prompt_too_long");
    assert_eq!(body["overflow_turns"], json!([3, 4]));
    assert_eq!(body["peak"]["turn_number"], 3);

    let (status, hot) = app
        .get(&format!("/api/db/context/hot-files/{TARGET_ID}"))
        .await;
    assert_eq!(status, 200, "{hot}");
    let files = hot["files"].as_array().unwrap();
    assert_eq!(files[0]["file_path"], "src/lib.rs", "{hot}");
    assert_eq!(
        files[0]["access_count"], 3,
        "absolute, ./ and relative paths are one file"
    );
    assert_eq!(files[1]["file_path"], "src/new.rs");
    assert_eq!(files[1]["access_count"], 1);
    assert_eq!(files.len(), 2);

    let model = [("model", MODEL)];
    assert_eq!(
        app.metric("acd_context_utilization_ratio_count", &model)
            .await,
        4.0
    );
    assert_eq!(app.metric("acd_context_overflows_total", &model).await, 2.0);
    for segment in ["system", "feature", "files", "conversation"] {
        assert_eq!(
            app.metric("acd_context_tokens_count", &[("segment", segment)])
                .await,
            1.0
        );
    }
    assert_eq!(
        app.metric("acd_context_tokens_sum", &[("segment", "files")])
            .await,
        40_000.0
    );
    assert_eq!(count(&app, "SELECT count(*) FROM context_usage").await, 4);
    app.shutdown().await;
}

#[tokio::test]
async fn the_lru_flag_follows_the_most_accessed_files() {
    let app = TestApp::spawn().await;
    spans::export(Transport::Grpc, &app, spans_of_session())
        .await
        .unwrap();
    let target: uuid::Uuid = TARGET_ID.parse().unwrap();
    app.app.as_ref().unwrap();
    let store = acd_collector::store::Store::new(app.db.pool.clone());
    store.update_lru(target, 1).await.unwrap();
    let (_, hot) = app
        .get(&format!("/api/db/context/hot-files/{TARGET_ID}?limit=10"))
        .await;
    let flags: Vec<(String, bool)> = hot["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file_path"].as_str().unwrap().to_string(),
                f["is_cached"].as_bool().unwrap(),
            )
        })
        .collect();
    // No root registered: paths are kept as sent, minus a leading "./".
    assert_eq!(flags[0], ("src/lib.rs".to_string(), true), "{hot}");
    assert!(flags[1..].iter().all(|(_, cached)| !cached), "{hot}");
    store.update_lru(target, 20).await.unwrap();
    let (_, hot) = app
        .get(&format!("/api/db/context/hot-files/{TARGET_ID}"))
        .await;
    assert!(
        hot["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["is_cached"] == true)
    );

    for (path, status) in [
        ("/api/db/context/not-a-uuid", 400),
        (
            &format!("/api/db/context/{}", uuid::Uuid::nil()) as &str,
            404,
        ),
        (
            &format!("/api/db/context/hot-files/{TARGET_ID}?limit=0"),
            400,
        ),
        (
            &format!("/api/db/context/hot-files/{}", uuid::Uuid::nil()),
            404,
        ),
    ] {
        let (got, body) = app.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body["error"].is_string());
    }
    app.shutdown().await;
}

fn stamped(lines: &[Value]) -> acd_collector::claude::ParsedRun {
    let base: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
    let mut parser = StreamParser::new();
    for (i, line) in lines.iter().enumerate() {
        parser.push_line(
            &line.to_string(),
            Some(base + Duration::from_secs(i as u64 * 10)),
        );
    }
    parser.finish()
}

fn assistant(
    id: &str,
    tool: Option<(&str, &str, Value)>,
    input_tokens: i64,
    cache_read: i64,
) -> Value {
    let content = match tool {
        Some((tool_id, name, input)) => {
            json!([{"type": "tool_use", "id": tool_id, "name": name, "input": input}])
        }
        None => json!([{"type": "text", "text": "done"}]),
    };
    json!({"type": "assistant", "session_id": "claude-ctx", "message": {
        "model": "claude-sonnet-4-6", "id": id, "type": "message", "role": "assistant",
        "content": content, "stop_reason": "tool_use",
        "usage": {"input_tokens": input_tokens, "cache_read_input_tokens": cache_read,
                  "cache_creation_input_tokens": 0, "output_tokens": 50}}})
}

fn tool_result(id: &str) -> Value {
    json!({"type": "user", "session_id": "claude-ctx", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": id, "content": "ok"}]}})
}

#[tokio::test]
async fn a_claude_run_tracks_files_compactions_and_its_context_window() {
    let app = TestApp::spawn().await;
    let run = stamped(&[
        json!({"type": "system", "subtype": "init", "cwd": "/home/dev/proj", "session_id": "claude-ctx",
               "model": "claude-sonnet-4-6", "tools": ["Read", "Edit", "Grep"]}),
        assistant(
            "m1",
            Some((
                "t1",
                "Read",
                json!({"file_path": "/home/dev/proj/src/app.py"}),
            )),
            1_000,
            40_000,
        ),
        tool_result("t1"),
        assistant(
            "m2",
            Some((
                "t2",
                "Edit",
                json!({"file_path": "/home/dev/proj/src/app.py",
            "old_string": "a", "new_string": "b"}),
            )),
            2_000,
            150_000,
        ),
        tool_result("t2"),
        json!({"type": "system", "subtype": "compact_boundary", "session_id": "claude-ctx",
               "compact_metadata": {"trigger": "auto", "pre_tokens": 152_000}}),
        assistant(
            "m3",
            Some((
                "t3",
                "Grep",
                json!({"pattern": "def", "path": "/home/dev/proj/src/util.py"}),
            )),
            500,
            20_000,
        ),
        tool_result("t3"),
        assistant("m4", None, 100, 21_000),
        json!({"type": "result", "subtype": "success", "is_error": false, "session_id": "claude-ctx",
               "num_turns": 4, "usage": {"input_tokens": 3_600, "cache_read_input_tokens": 231_000,
               "cache_creation_input_tokens": 0, "output_tokens": 200},
               "modelUsage": {"claude-sonnet-4-6": {"inputTokens": 3_600, "outputTokens": 200,
               "cacheReadInputTokens": 231_000, "cacheCreationInputTokens": 0, "contextWindow": 1_000_000}}}),
    ]);
    let target = uuid::Uuid::new_v4();
    let url = format!("{}/api/db/ingest/claude-run?target_id={target}", app.api);
    for _ in 0..2 {
        let response = app.http.post(&url).json(&run).send().await.unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    let (_, sessions) = app.get("/api/db/sessions").await;
    let session = sessions["sessions"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = app.get(&format!("/api/db/context/{session}")).await;
    assert_eq!(status, 200, "{body}");
    let turns = body["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 4, "{body}");
    assert!(
        turns.iter().all(|t| t["context_limit"] == 1_000_000),
        "contextWindow from modelUsage"
    );
    assert_eq!(turns[1]["total_tokens"], 152_000);
    assert_eq!(body["compactions"], 1);
    assert_eq!(
        body["overflow_turns"],
        json!([2]),
        "the turn before the compaction boundary: {body}"
    );
    assert_eq!(turns[1]["overflow_reason"], "compaction");

    let (_, hot) = app
        .get(&format!("/api/db/context/hot-files/{target}"))
        .await;
    let files: Vec<(&str, i64)> = hot["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file_path"].as_str().unwrap(),
                f["access_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [("src/app.py", 2), ("src/util.py", 1)],
        "relative to the run's cwd: {hot}"
    );
    assert_eq!(
        app.metric(
            "acd_context_overflows_total",
            &[("model", "claude-sonnet-4-6")]
        )
        .await,
        1.0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn turns_that_arrive_before_their_session_are_attached_later() {
    let app = TestApp::spawn().await;
    let mut all = spans_of_session();
    let session_span = all.remove(0);
    spans::export(Transport::HttpJson, &app, all).await.unwrap();
    let orphans = count(
        &app,
        "SELECT count(*) FROM context_usage WHERE session_id IS NULL",
    )
    .await;
    assert_eq!(
        orphans, 4,
        "rows are written with the turns, before the session is known"
    );
    spans::export(Transport::HttpJson, &app, vec![session_span])
        .await
        .unwrap();
    let session = acd_collector::domain::session_uuid("ctx-session-1");
    let (_, body) = app.get(&format!("/api/db/context/{session}")).await;
    let numbers: Vec<i64> = body["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["turn_number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4], "{body}");
    assert_eq!(body["overflow_turns"], json!([3, 4]));
    let (_, hot) = app
        .get(&format!("/api/db/context/hot-files/{TARGET_ID}"))
        .await;
    assert_eq!(hot["files"].as_array().unwrap().len(), 3, "no root: {hot}");
    app.shutdown().await;
}
