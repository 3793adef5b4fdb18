//! Claude Code 2.1.328's beta spans together with its events, from the real CLI's own exports
//! (tests/fixtures/claude/cli-2.1.328__standin-retry-write.otlp-*.jsonl, posted unchanged as
//! OTLP/JSON): a call reported both ways is one turn whose every field comes from the source
//! that has it, in either arrival order; the retried attempt of the `llm_request` span is a
//! retry; `claude_code.tool` is one tool call keyed by its tool-use id, and
//! `claude_code.interaction` is not taken for the session.

use crate::common;

use common::TestApp;
use serde_json::Value;

const SESSION: &str = "c6112072-770b-478f-bcb8-50def3907c72";

async fn post(app: &TestApp, signal: &str) {
    let path = format!(
        "{}/tests/fixtures/claude/cli-2.1.328__standin-retry-write.otlp-{signal}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let response = app
            .http
            .post(format!("{}/v1/{signal}", app.otlp_http))
            .header("content-type", "application/json")
            .body(line.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
}

/// Session, turns and retries as REST serves them (without the bookkeeping time).
async fn answers(app: &TestApp) -> (Value, Value, Value) {
    let (_, mut session) = app.get(&format!("/api/db/sessions/{SESSION}")).await;
    session.as_object_mut().unwrap().remove("updated_at");
    let (_, turns) = app.get(&format!("/api/db/sessions/{SESSION}/turns")).await;
    let (_, retries) = app.get(&format!("/api/db/retries/{SESSION}")).await;
    (session, turns, retries)
}

#[tokio::test]
async fn events_and_beta_spans_of_the_real_cli_are_one_record_per_call_in_either_order() {
    let spans_first = TestApp::spawn().await;
    for signal in ["traces", "logs", "metrics"] {
        post(&spans_first, signal).await;
    }
    let (session, turns, retries) = answers(&spans_first).await;

    let (_, page) = spans_first.get("/api/db/sessions").await;
    assert_eq!(
        page["total"], 1,
        "the interaction span is no session: {page}"
    );
    assert_eq!(session["turn_count"], 2, "{session}");
    assert_eq!(session["input_tokens"], 102 + 103);
    assert_eq!(session["output_tokens"], 22 + 23);
    // The 5m/1h split and the CLI's own cost come from the events, TTFT from both.
    assert_eq!(session["cache_write_1h_tokens"], 400, "{session}");
    let reported = session["reported_cost_usd"].as_f64().unwrap();
    assert!((reported - (0.003148 + 0.003172)).abs() < 1e-9, "{session}");
    let list = turns["turns"].as_array().unwrap();
    let ttft: Vec<_> = list
        .iter()
        .map(|t| t["time_to_first_token_ms"].clone())
        .collect();
    assert_eq!(ttft, [328, 354], "{turns}");
    // The first call's time is its successful attempt's (the span covers both attempts and
    // the back-off: 2082 ms).
    assert_eq!(list[0]["duration_ms"], 586, "{turns}");
    assert_eq!(list[1]["duration_ms"], 441, "{turns}");
    // The Write, once (span and event), under the call that asked for it.
    assert_eq!(
        list[0]["tool_calls"].as_array().unwrap().len(),
        1,
        "{turns}"
    );
    assert_eq!(list[0]["tool_calls"][0]["name"], "Write");
    let tools: i64 = sqlx::query_scalar("SELECT count(*) FROM session_tool_calls")
        .fetch_one(&spans_first.db.pool)
        .await
        .unwrap();
    assert_eq!(tools, 1);
    // The 429 of attempt 1, retried; the CLI logged no api_error for it.
    let list = retries["retries"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{retries}");
    assert_eq!(list[0]["succeeded"], true, "{retries}");
    assert_eq!(list[0]["wait_duration_ms"], 1461, "{retries}");
    assert_eq!(session["retry_count"], 1, "{session}");
    spans_first.shutdown().await;

    let events_first = TestApp::spawn().await;
    for signal in ["logs", "metrics", "traces"] {
        post(&events_first, signal).await;
    }
    let (session2, turns2, retries2) = answers(&events_first).await;
    assert_eq!(turns2, turns);
    assert_eq!(retries2, retries);
    assert_eq!(session2, session);
    // Sent again: nothing changes.
    for signal in ["traces", "logs"] {
        post(&events_first, signal).await;
    }
    assert_eq!(answers(&events_first).await, (session, turns, retries));
    events_first.shutdown().await;
}
