//! `file_access_log` counts every tool call exactly once, whenever its session's target becomes
//! known: calls stored before the session span (which names the target) are counted when it
//! arrives, including calls in the same batch; calls after it at their insert; orphan calls of
//! another trace when they are attached to the already counted session; resending every batch
//! changes nothing.

use crate::common;

use common::TestApp;
use common::spans::{self, TARGET_ID, Tokens, Transport};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

const TRACE: u128 = 0xf11e_0000_0000_0000_0000_0000_0000_0001;
const OTHER_TRACE: u128 = 0xf11e_0000_0000_0000_0000_0000_0000_0002;
const CONVERSATION: &str = "file-access-session";

/// A tool call that names its session (but not its target).
fn named_tool(trace: u128, span_id: u64, path: &str, at: u64) -> SpanData {
    let mut tool = spans::tool(trace, span_id, 2, "Read", path, (at, at + 1));
    tool.attributes
        .push(KeyValue::new("gen_ai.conversation.id", CONVERSATION));
    tool
}

async fn counts(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT file_path, access_count::bigint FROM file_access_log
         WHERE target_id = $1::text::uuid ORDER BY file_path",
    )
    .bind(TARGET_ID)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

fn owned(files: &[(&str, i64)]) -> Vec<(String, i64)> {
    files.iter().map(|(f, n)| (f.to_string(), *n)).collect()
}

#[tokio::test]
async fn each_tool_call_is_counted_once_whenever_its_target_arrives() {
    let app = TestApp::spawn().await;
    let before_target = vec![
        named_tool(TRACE, 10, "src/a.rs", 10),
        named_tool(TRACE, 11, "src/a.rs", 20),
        named_tool(TRACE, 12, "src/b.rs", 30),
    ];
    // The session span, with one more call stored in the same transaction before it.
    let with_target = vec![
        named_tool(TRACE, 13, "src/b.rs", 40),
        spans::session(TRACE, 1, CONVERSATION, (0, 1_000)),
    ];
    let after_target = vec![named_tool(TRACE, 14, "src/c.rs", 50)];
    // Another trace of the session: calls that name nothing, then a turn that names the session.
    let orphans = vec![
        spans::tool(OTHER_TRACE, 20, 30, "Edit", "src/a.rs", (60, 61)),
        spans::tool(OTHER_TRACE, 21, 30, "Edit", "src/d.rs", (62, 63)),
    ];
    let mut turn = spans::turn(
        OTHER_TRACE,
        30,
        0,
        5,
        (55, 70),
        Tokens {
            input: 1_000,
            output: 10,
            cache_read: 0,
            cache_write: 0,
        },
        0.2,
    );
    turn.attributes
        .push(KeyValue::new("gen_ai.conversation.id", CONVERSATION));
    let attaching = vec![turn];

    spans::export(Transport::HttpProtobuf, &app, before_target.clone())
        .await
        .unwrap();
    assert_eq!(counts(&app).await, owned(&[]), "no target yet");
    spans::export(Transport::HttpProtobuf, &app, with_target.clone())
        .await
        .unwrap();
    let expected = owned(&[("src/a.rs", 2), ("src/b.rs", 2)]);
    assert_eq!(counts(&app).await, expected, "counted when the target came");
    spans::export(Transport::HttpProtobuf, &app, after_target.clone())
        .await
        .unwrap();
    spans::export(Transport::HttpProtobuf, &app, orphans.clone())
        .await
        .unwrap();
    let orphaned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM session_tool_calls WHERE session_id IS NULL")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        orphaned, 2,
        "the other trace's calls wait for their session"
    );
    spans::export(Transport::HttpProtobuf, &app, attaching.clone())
        .await
        .unwrap();
    let expected = owned(&[
        ("src/a.rs", 3),
        ("src/b.rs", 2),
        ("src/c.rs", 1),
        ("src/d.rs", 1),
    ]);
    assert_eq!(counts(&app).await, expected);

    for batch in [before_target, with_target, after_target, orphans, attaching] {
        spans::export(Transport::HttpProtobuf, &app, batch)
            .await
            .unwrap();
    }
    assert_eq!(
        counts(&app).await,
        expected,
        "a resent batch changes nothing"
    );
    app.shutdown().await;
}
