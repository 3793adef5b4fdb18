//! Retention: turn-level detail older than the window is deleted, while sessions, their totals and
//! the token-usage aggregates (served from the daily rollup) answer as before; one replica at a
//! time runs the job (advisory lock).

mod common;

use acd_collector::store::Store;
use chrono::{Duration, Utc};
use common::TestApp;
use common::spans::{self, Tokens, Transport};

const TOKENS: Tokens = Tokens {
    input: 4_000,
    output: 700,
    cache_read: 1_000,
    cache_write: 200,
};

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn old_detail_goes_and_aggregates_stay() {
    let app = TestApp::spawn().await;
    let trace = 0x7e7e_u128;
    spans::export(
        Transport::HttpProtobuf,
        &app,
        vec![
            spans::session(trace, 1, "retention-session", (0, 60_000)),
            spans::turn(trace, 2, 1, 1, (1_000, 3_000), TOKENS, 0.3),
            spans::turn(trace, 3, 1, 2, (4_000, 9_000), TOKENS, 0.5),
            spans::tool(trace, 4, 2, "Read", "src/lib.rs", (3_000, 3_100)),
        ],
    )
    .await
    .unwrap();
    let (_, session_list) = app.get("/api/db/sessions").await;
    let id = session_list["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before_session = app.get(&format!("/api/db/sessions/{id}")).await.1;
    let before_usage = app.get("/api/db/token-usage?days=7").await.1;
    let before_models = app.get("/api/db/token-usage/by-model?days=7").await.1;
    assert_eq!(before_usage["daily"][0]["requests"], 2);

    let store = Store::new(app.db.pool.clone());
    // Another replica holds the job's lock: this one skips.
    let mut other = app.db.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(2765, 9)")
        .execute(&mut *other)
        .await
        .unwrap();
    let cutoff = Utc::now() + Duration::days(1);
    assert_eq!(store.purge_detail(cutoff, 1).await.unwrap(), None);
    assert_eq!(count(&app, "session_turns").await, 2);
    sqlx::query("SELECT pg_advisory_unlock(2765, 9)")
        .execute(&mut *other)
        .await
        .unwrap();
    other.close().await.unwrap();

    // Everything is older than a cutoff in the future; batches of 1 row exercise the loop.
    let purged = store
        .purge_detail(cutoff, 1)
        .await
        .unwrap()
        .expect("lock free");
    assert_eq!((purged.turns, purged.tool_calls), (2, 1));
    assert_eq!(
        purged.ledger, 3,
        "turn and tool ledger rows; session rows stay"
    );
    assert_eq!(count(&app, "session_turns").await, 0);
    assert_eq!(count(&app, "session_tool_calls").await, 0);

    // The session keeps its totals; the aggregates answer from the daily rollup.
    assert_eq!(
        app.get(&format!("/api/db/sessions/{id}")).await.1,
        before_session
    );
    assert_eq!(app.get("/api/db/token-usage?days=7").await.1, before_usage);
    let after_models = app.get("/api/db/token-usage/by-model?days=7").await.1;
    assert_eq!(after_models, before_models);
    let (_, turns) = app.get(&format!("/api/db/sessions/{id}/turns")).await;
    assert_eq!(turns["turns"].as_array().unwrap().len(), 0);
    app.shutdown().await;
}
