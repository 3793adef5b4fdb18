//! Claude Code's model calls that are not turns (issue 14): a WebFetch's summary call
//! (`query_source = web_fetch_apply`), a compaction (`compact`) and a subagent's call
//! (`agent:builtin`) between two main calls. They count in tokens and cost, not in
//! `turn_count`, turn numbering, the turn timing or the context rows; REST lists them per source
//! and `/metrics` counts them by kind. The order events arrive in changes nothing.

use crate::common;

use acd_collector::domain::TokenUsage;
use acd_collector::pricing::PriceTable;
use common::TestApp;
use common::claude_code::{Event, event, export, records};
use common::spans::{Transport, at};
use opentelemetry::KeyValue;
use serde_json::Value;

const SESSION: &str = "7b2c4e6a-1d3f-4a5b-9c8d-0e1f2a3b4c5d";
const MODEL: &str = "claude-sonnet-4-5-20250929";
const HAIKU: &str = "claude-haiku-4-5-20251001";

/// (request id, query source, model, input, output, at ms, duration ms, ttft ms)
type Call = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    u64,
    i64,
    i64,
);

const CALLS: [Call; 5] = [
    ("req_main_1", "sdk", MODEL, 100, 50, 3_000, 2_000, 400),
    (
        "req_fetch",
        "web_fetch_apply",
        HAIKU,
        900,
        80,
        4_500,
        1_000,
        150,
    ),
    (
        "req_agent",
        "agent:builtin",
        MODEL,
        300,
        40,
        6_000,
        1_200,
        200,
    ),
    (
        "req_compact",
        "compact",
        MODEL,
        5_000,
        600,
        9_000,
        2_500,
        900,
    ),
    ("req_main_2", "sdk", MODEL, 120, 30, 12_000, 1_500, 300),
];

fn events() -> Vec<Event> {
    let mut events: Vec<Event> = CALLS
        .iter()
        .map(
            |&(request, source, model, input, output, t, duration, ttft)| {
                event(
                    "claude_code.api_request",
                    at(t),
                    vec![
                        KeyValue::new("model", model),
                        KeyValue::new("input_tokens", input),
                        KeyValue::new("output_tokens", output),
                        KeyValue::new("cache_read_tokens", 0_i64),
                        KeyValue::new("cache_creation_tokens", 0_i64),
                        KeyValue::new("duration_ms", duration),
                        KeyValue::new("ttft_ms", ttft),
                        KeyValue::new("request_id", request),
                        KeyValue::new("query_source", source),
                    ],
                )
            },
        )
        .collect();
    // The WebFetch the first call asked for; it ran while its summary call was made.
    events.push(event(
        "claude_code.tool_result",
        at(5_600),
        vec![
            KeyValue::new("tool_name", "WebFetch"),
            KeyValue::new("tool_use_id", "toolu_fetch"),
            KeyValue::new("success", true),
            KeyValue::new("duration_ms", 2_500_i64),
            KeyValue::new("request_id", "req_main_1"),
        ],
    ));
    events
}

fn cost(model: &str, input: i64, output: i64) -> f64 {
    let usage = TokenUsage {
        input,
        output,
        cache_read: 0,
        cache_write: 0,
        cache_write_1h: 0,
    };
    PriceTable::shipped_default().cost(model, &usage).unwrap()
}

/// What the REST API says about the session, for comparing two arrival orders.
async fn answers(app: &TestApp) -> (Value, Value, Value, Value) {
    let get = |path: String| async move { app.get(&path).await.1 };
    let mut session = get(format!("/api/db/sessions/{SESSION}")).await;
    session.as_object_mut().unwrap().remove("updated_at");
    (
        session,
        get(format!("/api/db/sessions/{SESSION}/turns")).await,
        get(format!("/api/db/sessions/{SESSION}/timing")).await,
        get(format!("/api/db/context/{SESSION}")).await,
    )
}

#[tokio::test]
async fn side_and_subagent_calls_count_in_tokens_and_cost_but_are_not_turns() {
    let app = TestApp::spawn().await;
    let records = records(SESSION, &events(), &[]);
    export(Transport::HttpProtobuf, &app, &records, vec![])
        .await
        .expect("export");
    let (session, turns, timing, context) = answers(&app).await;

    assert_eq!(session["turn_count"], 2, "{session}");
    let sum = |f: fn(&Call) -> i64| CALLS.iter().map(f).sum::<i64>();
    assert_eq!(session["input_tokens"], sum(|c| c.3), "{session}");
    assert_eq!(session["output_tokens"], sum(|c| c.4), "{session}");
    let total: f64 = CALLS.iter().map(|c| cost(c.2, c.3, c.4)).sum();
    let stored = session["cost_usd"].as_f64().unwrap();
    assert!((stored - total).abs() < 1e-9, "cost {stored} vs {total}");
    // Median TTFT of the two turns only (400, 300), not of all five calls.
    assert_eq!(session["time_to_first_token_ms"], 350, "{session}");

    let sources: Vec<(Value, Value, Value)> = session["model_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].clone(), s["source"].clone(), s["calls"].clone()))
        .collect();
    let want = |k: &str, s: &str, n: i64| (k.into(), s.into(), n.into());
    assert_eq!(
        sources,
        [
            want("main", "sdk", 2),
            want("subagent", "agent:builtin", 1),
            want("side", "compact", 1),
            want("side", "web_fetch_apply", 1),
        ],
        "{session}"
    );

    let list = turns["turns"].as_array().unwrap();
    let numbers: Vec<_> = list.iter().map(|t| t["turn_number"].clone()).collect();
    assert_eq!(numbers, [1, 2], "{turns}");
    assert_eq!(list[0]["input_tokens"], 100);
    assert_eq!(list[1]["input_tokens"], 120);
    // The WebFetch is under the call that asked for it, not its summary call.
    assert_eq!(list[0]["tool_calls"][0]["name"], "WebFetch", "{turns}");
    assert_eq!(list[1]["tool_calls"], serde_json::json!([]), "{turns}");
    let side: Vec<(Value, Value, Value)> = turns["side_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["source"].clone(),
                c["during_turn"].clone(),
                c["input_tokens"].clone(),
            )
        })
        .collect();
    let at = |s: &str, turn: i64, input: i64| (s.into(), turn.into(), input.into());
    assert_eq!(
        side,
        [
            at("web_fetch_apply", 1, 900),
            at("agent:builtin", 1, 300),
            at("compact", 1, 5_000),
        ],
        "{turns}"
    );

    assert_eq!(timing["turn_latency"]["samples"], 2, "{timing}");
    assert_eq!(timing["time_to_first_token"]["samples"], 2, "{timing}");
    assert_eq!(timing["turns"].as_array().unwrap().len(), 2, "{timing}");
    // API time is every call's.
    assert_eq!(timing["api_time_ms"], sum(|c| c.6), "{timing}");
    assert_eq!(
        context["turns"].as_array().map(Vec::len),
        Some(2),
        "{context}"
    );

    let requests = |kind: &'static str| {
        let app = &app;
        async move {
            app.metric("acd_model_requests_total", &[("kind", kind)])
                .await
        }
    };
    assert_eq!(requests("main").await, 2.0);
    assert_eq!(requests("side").await, 2.0);
    assert_eq!(requests("subagent").await, 1.0);
    assert_eq!(
        app.metric("acd_turn_duration_seconds_count", &[]).await,
        2.0
    );
    let input = app.metric("acd_tokens_total", &[("type", "input")]).await;
    assert_eq!(input, sum(|c| c.3) as f64);
    app.shutdown().await;

    // The same events in reverse order, one per export: the same answers.
    let again = TestApp::spawn().await;
    for record in records.iter().rev() {
        export(
            Transport::Grpc,
            &again,
            std::slice::from_ref(record),
            vec![],
        )
        .await
        .expect("export");
    }
    let reversed = answers(&again).await;
    assert_eq!(reversed.1, turns);
    assert_eq!(reversed.2, timing);
    assert_eq!(reversed.0["turn_count"], session["turn_count"]);
    assert_eq!(reversed.0["model_calls"], session["model_calls"]);
    assert_eq!(reversed.0["cost_usd"], session["cost_usd"]);
    again.shutdown().await;
}

/// Polls the session until its status is no longer `running` (the idle job runs every 250 ms).
async fn closed(app: &TestApp, session: &str) -> Value {
    for _ in 0..100 {
        let (_, s) = app.get(&format!("/api/db/sessions/{session}")).await;
        if s["status"] != "running" {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("session {session} never closed");
}

#[tokio::test]
async fn event_only_sessions_end_when_idle_completed_or_abandoned() {
    let mut settings = acd_collector::app::Settings::ephemeral();
    settings.session_idle = Some(std::time::Duration::from_secs(1));
    let app = TestApp::spawn_with(settings).await;
    // The session above: its last call answered and nothing ran after it.
    let records = records(SESSION, &events(), &[]);
    export(Transport::HttpProtobuf, &app, &records, vec![])
        .await
        .expect("export");
    // Another one stopped while its tool ran: a call, then a tool that started after it.
    let stopped = "0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f";
    let mut cut = events();
    cut.retain(|e| {
        e.name == "claude_code.tool_result" || e.attributes[7].value.as_str() == "req_main_1"
    });
    let records = common::claude_code::records(stopped, &cut, &[]);
    export(Transport::HttpProtobuf, &app, &records, vec![])
        .await
        .expect("export");

    let done = closed(&app, SESSION).await;
    assert_eq!(done["status"], "completed", "{done}");
    // From the first call's start (1 s) to the last call's end (12 s).
    assert_eq!(done["wall_clock_ms"], 11_000, "{done}");
    assert_eq!(
        done["ended_at"].as_str(),
        Some("2026-12-03T01:00:12Z"),
        "{done}"
    );
    let cut = closed(&app, stopped).await;
    assert_eq!(cut["status"], "abandoned", "{cut}");
    // Until the WebFetch ended (5.6 s): tool time counts.
    assert_eq!(cut["wall_clock_ms"], 4_600, "{cut}");
    let completed = [("status", "completed")];
    assert_eq!(app.metric("acd_sessions_total", &completed).await, 1.0);
    let abandoned = [("status", "abandoned")];
    assert_eq!(app.metric("acd_sessions_total", &abandoned).await, 1.0);

    // The stopped one resumes: a late call reopens it, and it closes again, now completed, with
    // its wall clock to the new last call (20 s).
    let late = vec![event(
        "claude_code.api_request",
        at(20_000),
        vec![
            KeyValue::new("model", MODEL),
            KeyValue::new("input_tokens", 10_i64),
            KeyValue::new("output_tokens", 5_i64),
            KeyValue::new("duration_ms", 1_000_i64),
            KeyValue::new("request_id", "req_resumed"),
            KeyValue::new("query_source", "sdk"),
        ],
    )];
    let records = common::claude_code::records(stopped, &late, &[]);
    export(Transport::HttpProtobuf, &app, &records, vec![])
        .await
        .expect("export");
    let (_, reopened) = app.get(&format!("/api/db/sessions/{stopped}")).await;
    assert_eq!(reopened["status"], "running", "{reopened}");
    assert_eq!(reopened["ended_at"], Value::Null, "{reopened}");
    let resumed = closed(&app, stopped).await;
    assert_eq!(resumed["status"], "completed", "{resumed}");
    assert_eq!(resumed["wall_clock_ms"], 19_000, "{resumed}");
    app.shutdown().await;
}
