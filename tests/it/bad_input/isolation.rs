//! One bad record never costs the rest (issue 18, and the spool half of issue 19): values past
//! the documented limits are refused per span; a value PostgreSQL itself refuses (here a real
//! CHECK constraint and a real trigger added to the test's own database) costs only its span,
//! over HTTP and gRPC, and through the spool; a spooled request that keeps failing while the
//! database is up never blocks the ones behind it; a request with 20,000 traces does not exhaust
//! PostgreSQL's lock table.

use std::time::Duration;

use acd_collector::app::{Settings, SpoolSettings};
use common::TestApp;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use super::{common, int, post, request, session, span, string};

pub(super) fn turn(trace: u8, id: u8, conversation: &str, model: &str, tokens: i64) -> Span {
    span(
        trace,
        id,
        "chat",
        vec![
            string("gen_ai.operation.name", "chat"),
            string("gen_ai.conversation.id", conversation),
            string("gen_ai.request.model", model),
            int("gen_ai.usage.input_tokens", tokens),
            int("gen_ai.usage.output_tokens", tokens),
            int("gen_ai.usage.cache_read.input_tokens", tokens),
            int("gen_ai.usage.cache_creation.input_tokens", tokens),
        ],
    )
}

/// A real refusal by PostgreSQL for a value our validation lets through: turns of model
/// `poison` violate a CHECK constraint (SQLSTATE 23514); turns of model `stuck`, or any turn
/// while `acd_test_switch.outage` is on, fail with "out of shared memory" (53200), which the
/// collector takes for a transient failure.
pub(super) async fn add_refusals(app: &TestApp) {
    for sql in [
        "ALTER TABLE session_turns ADD CONSTRAINT acd_test_poison CHECK (model <> 'poison')",
        "CREATE TABLE acd_test_switch (outage boolean NOT NULL)",
        "INSERT INTO acd_test_switch VALUES (false)",
        r#"CREATE FUNCTION acd_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF NEW.model = 'stuck' OR (SELECT outage FROM acd_test_switch) THEN
               RAISE EXCEPTION 'simulated lock table exhaustion' USING ERRCODE = '53200';
             END IF;
             RETURN NEW;
           END $$"#,
        "CREATE TRIGGER acd_test_fail BEFORE INSERT ON session_turns
         FOR EACH ROW EXECUTE FUNCTION acd_test_fail()",
    ] {
        sqlx::query(sql).execute(&app.db.pool).await.unwrap();
    }
}

async fn outage(app: &TestApp, on: bool) {
    sqlx::query("UPDATE acd_test_switch SET outage = $1")
        .bind(on)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

/// Twenty sessions of two turns each (trace `base + i`), and a poison turn in the eighth.
fn twenty_sessions_and_a_poison(base: u8, prefix: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    for i in 0..20u8 {
        let conversation = format!("{prefix}-{i}");
        spans.push(session(base + i, 1, &conversation));
        spans.push(turn(base + i, 2, &conversation, "claude-sonnet-4-5", 100));
        spans.push(turn(base + i, 3, &conversation, "claude-sonnet-4-5", 100));
    }
    spans.push(turn(base + 7, 4, &format!("{prefix}-7"), "poison", 100));
    spans
}

async fn turns_of(app: &TestApp, conversation: &str) -> i64 {
    let id = acd_collector::domain::session_uuid(conversation);
    sqlx::query_scalar("SELECT count(*) FROM session_turns WHERE session_id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn stored_sessions(app: &TestApp, prefix: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM harness_sessions WHERE external_id LIKE $1 || '-%'")
        .bind(prefix)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn export_http(app: &TestApp, spans: Vec<Span>) -> ExportTraceServiceResponse {
    let response = post(
        app,
        "application/x-protobuf",
        request(spans).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200, "never a 5xx for a bad value");
    ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn token_counts_past_the_limit_are_refused_per_span_and_the_rest_lands() {
    let app = TestApp::spawn().await;
    // The reported case: four chat spans of one session, each with 2^31 − 1 of every token kind.
    let mut spans = vec![session(1, 1, "huge")];
    for id in 2..6 {
        spans.push(turn(
            1,
            id,
            "huge",
            "claude-sonnet-4-5",
            i64::from(i32::MAX),
        ));
    }
    spans.push(turn(1, 9, "huge", "claude-sonnet-4-5", 1000));
    let answer = export_http(&app, spans).await;
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 4);
    assert!(
        partial.error_message.contains("implausibly large"),
        "{}",
        partial.error_message
    );
    assert_eq!(turns_of(&app, "huge").await, 1);
    // A fifth alone: partial success again, and the session keeps accepting good turns.
    let answer = export_http(&app, vec![turn(1, 6, "huge", "m", i64::MAX)]).await;
    assert_eq!(answer.partial_success.unwrap().rejected_spans, 1);
    let answer = export_http(&app, vec![turn(1, 7, "huge", "claude-sonnet-4-5", 5)]).await;
    assert!(answer.partial_success.is_none());
    let (_, body) = app
        .get(&format!(
            "/api/db/sessions/{}",
            acd_collector::domain::session_uuid("huge")
        ))
        .await;
    assert_eq!(body["turn_count"], 2, "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_value_the_database_refuses_costs_only_its_own_span_over_both_transports() {
    let app = TestApp::spawn().await;
    add_refusals(&app).await;

    let answer = export_http(&app, twenty_sessions_and_a_poison(10, "http")).await;
    let partial = answer
        .partial_success
        .expect("partial success names the poison");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("23514"),
        "{}",
        partial.error_message
    );
    assert_eq!(stored_sessions(&app, "http").await, 20);
    for i in 0..20 {
        assert_eq!(turns_of(&app, &format!("http-{i}")).await, 2);
    }
    // Resent (an exporter retrying): the same answer, nothing counted twice.
    let again = export_http(&app, twenty_sessions_and_a_poison(10, "http")).await;
    assert_eq!(again.partial_success.unwrap().rejected_spans, 1);
    assert_eq!(turns_of(&app, "http-7").await, 2);
    // The session that received the bad record keeps accepting good ones.
    let good = export_http(&app, vec![turn(17, 5, "http-7", "claude-sonnet-4-5", 1)]).await;
    assert!(good.partial_success.is_none());
    assert_eq!(turns_of(&app, "http-7").await, 3);

    let mut grpc = TraceServiceClient::connect(app.otlp_grpc.clone())
        .await
        .unwrap();
    let answer = grpc
        .export(request(twenty_sessions_and_a_poison(40, "grpc")))
        .await
        .expect("OK, not INTERNAL")
        .into_inner();
    assert_eq!(answer.partial_success.unwrap().rejected_spans, 1);
    assert_eq!(stored_sessions(&app, "grpc").await, 20);
    assert_eq!(turns_of(&app, "grpc-7").await, 2);
    app.shutdown().await;
}

/// Files in the spool's `failed/` whose name ends with `suffix`.
fn failed_files(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir.join("failed")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn with_spool(dir: &std::path::Path) -> Settings {
    Settings {
        spool: Some(SpoolSettings {
            dir: dir.to_path_buf(),
            max_bytes: 64 << 20,
        }),
        ..Settings::ephemeral()
    }
}

#[tokio::test]
async fn spool_replay_stores_the_innocent_and_keeps_only_the_bad_record_in_failed() {
    let spool = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(with_spool(spool.path())).await;
    add_refusals(&app).await;
    // The database "goes away" for turns: the request is spooled and acknowledged.
    outage(&app, true).await;
    let answer = export_http(&app, twenty_sessions_and_a_poison(70, "spooled")).await;
    assert!(
        answer.partial_success.is_none(),
        "acknowledged from the spool"
    );
    outage(&app, false).await;

    eventually("replay stores the twenty sessions", async || {
        failed_files(spool.path(), ".refused.txt").len() == 1
    })
    .await;
    assert_eq!(stored_sessions(&app, "spooled").await, 20);
    for i in 0..20 {
        assert_eq!(turns_of(&app, &format!("spooled-{i}")).await, 2);
    }
    let refused = std::fs::read_to_string(&failed_files(spool.path(), ".refused.txt")[0]).unwrap();
    assert_eq!(refused.lines().count(), 1, "{refused}");
    assert!(
        refused.contains("23514") && refused.contains("poison"),
        "{refused}"
    );
    assert!(
        failed_files(spool.path(), ".otlp").is_empty(),
        "the request itself is not kept"
    );
    assert_eq!(app.metric("acd_spool_failed_records_total", &[]).await, 1.0);
    assert_eq!(app.metric("acd_spool_requests", &[]).await, 0.0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_spooled_request_failing_while_the_database_is_up_never_blocks_the_ones_behind() {
    let spool = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(with_spool(spool.path())).await;
    add_refusals(&app).await;
    // Fails as if the database were unavailable, every time: spooled, acknowledged.
    let stuck = export_http(&app, vec![turn(90, 1, "stuck", "stuck", 1)]).await;
    assert!(stuck.partial_success.is_none());
    // Queued behind it in the spool.
    let behind = export_http(&app, vec![session(91, 1, "behind")]).await;
    assert!(behind.partial_success.is_none());

    eventually("the request behind is stored", async || {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM harness_sessions WHERE external_id = 'behind'",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    let reasons = failed_files(spool.path(), ".reason.txt");
    assert_eq!(reasons.len(), 1);
    let reason = std::fs::read_to_string(&reasons[0]).unwrap();
    assert!(reason.contains("while the database was up"), "{reason}");
    assert_eq!(
        failed_files(spool.path(), ".otlp").len(),
        1,
        "kept for a person"
    );
    assert_eq!(
        app.metric("acd_spool_failed_requests_total", &[]).await,
        1.0
    );
    assert_eq!(app.metric("acd_spool_requests", &[]).await, 0.0);
    app.shutdown().await;
}

#[tokio::test]
async fn twenty_thousand_traces_in_one_request_do_not_exhaust_the_lock_table() {
    let app = TestApp::spawn().await;
    let spans: Vec<Span> = (0..20_000u32)
        .map(|i| {
            let mut tool = span(
                0,
                1,
                "execute_tool",
                vec![
                    string("gen_ai.operation.name", "execute_tool"),
                    string("gen_ai.tool.name", "Read"),
                ],
            );
            tool.trace_id = [i.to_be_bytes().to_vec(), vec![7; 12]].concat();
            tool
        })
        .collect();
    let answer = export_http(&app, spans).await;
    assert!(answer.partial_success.is_none());
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM session_tool_calls")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 20_000);
    app.shutdown().await;
}

#[tokio::test]
async fn junit_reports_with_extreme_numbers_are_stored_never_a_500() {
    let app = TestApp::spawn().await;
    export_http(&app, vec![session(95, 1, "junit-extremes")]).await;
    let id = acd_collector::domain::session_uuid("junit-extremes");
    let report = r#"<testsuites tests="99999999999999999999" time="1e309">
        <testsuite name="s" tests="-5" failures="2147483648" errors="NaN" time="NaN">
          <testcase name="huge" time="1e300"/>
          <testcase name="negative" time="-1"/>
          <testcase name="nan" time="NaN"><failure message="x"/></testcase>
          <testcase name="fine" time="0.25"/>
        </testsuite></testsuites>"#;
    let response = app
        .http
        .post(format!("{}/api/db/sessions/{id}/test-runs", app.api))
        .header("content-type", "application/xml")
        .body(report)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    // The counts come from the cases, not from the attributes that claim otherwise.
    assert_eq!(body["total"], 4, "{body}");
    assert!(
        body["duration_ms"].is_null(),
        "an implausible duration is dropped"
    );
    assert_eq!(body["failed"], 1, "{body}");
    app.shutdown().await;
}
