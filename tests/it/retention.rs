//! Retention: turn-level detail older than the window is deleted, while sessions, their totals and
//! the token-usage aggregates (served from the daily rollup) answer as before; one replica at a
//! time runs the job (advisory lock).

use crate::common;

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
        without_call_sources(app.get(&format!("/api/db/sessions/{id}")).await.1),
        without_call_sources(before_session)
    );
    assert_eq!(app.get("/api/db/token-usage?days=7").await.1, before_usage);
    let after_models = app.get("/api/db/token-usage/by-model?days=7").await.1;
    assert_eq!(after_models, before_models);
    let (_, turns) = app.get(&format!("/api/db/sessions/{id}/turns")).await;
    assert_eq!(turns["turns"].as_array().unwrap().len(), 0);
    app.shutdown().await;
}

/// Issue 19, item 5: a late turn after retention used to recompute the session's totals from the
/// surviving rows (5 turns → 1, cost 0.0225 → 0.000066). What the purged turns contributed is
/// kept in `purged_turn_totals`, so the late turn adds to the totals instead of replacing them.
#[tokio::test]
async fn a_late_turn_after_retention_adds_to_the_totals_instead_of_rewriting_them() {
    let app = TestApp::spawn().await;
    let trace = 0x1a7e_u128;
    let mut batch = vec![spans::session(trace, 1, "late-turn", (0, 600_000))];
    for n in 0..5u64 {
        let start = 1_000 + n * 10_000;
        batch.push(spans::turn(
            trace,
            10 + n,
            1,
            n as i64 + 1,
            (start, start + 5_000),
            TOKENS,
            0.3,
        ));
    }
    spans::export(Transport::HttpProtobuf, &app, batch)
        .await
        .unwrap();
    let (_, list) = app.get("/api/db/sessions").await;
    let id = list["sessions"][0]["id"].as_str().unwrap().to_string();
    let before = app.get(&format!("/api/db/sessions/{id}")).await.1;
    assert_eq!(before["turn_count"], 5, "{before}");
    let cost_before = before["cost_usd"].as_f64().unwrap();
    assert!(cost_before > 0.0);

    let store = Store::new(app.db.pool.clone());
    let purged = store
        .purge_detail(Utc::now() + Duration::days(1), 2)
        .await
        .unwrap()
        .expect("lock free");
    assert_eq!(purged.turns, 5);
    assert_eq!(
        without_call_sources(app.get(&format!("/api/db/sessions/{id}")).await.1),
        without_call_sources(before.clone())
    );

    // The late sixth turn of the same session.
    let late = spans::turn(trace, 20, 1, 6, (60_000, 65_000), TOKENS, 0.3);
    spans::export(Transport::HttpProtobuf, &app, vec![late])
        .await
        .unwrap();
    let after = app.get(&format!("/api/db/sessions/{id}")).await.1;
    assert_eq!(after["turn_count"], 6, "{after}");
    // Six identical turns: every total is six fifths of the five-turn one.
    for field in [
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
    ] {
        let five = before[field].as_i64().unwrap();
        assert_eq!(
            after[field].as_i64().unwrap() * 5,
            five * 6,
            "{field}: {after}"
        );
    }
    let cost_after = after["cost_usd"].as_f64().unwrap();
    let expected = cost_before * 6.0 / 5.0;
    assert!(
        (cost_after - expected).abs() < 1e-6,
        "cost {cost_after}, expected {expected} (before: {cost_before})"
    );
    // The per-model usage of the session counts all six requests too.
    let models = after["models"].as_array().cloned().unwrap_or_default();
    let requests: i64 = models
        .iter()
        .map(|m| m["request_count"].as_i64().unwrap())
        .sum();
    assert_eq!(requests, 6, "{after}");
    app.shutdown().await;
}

/// A session without `model_calls`, which lists the calls still in the detail window (the
/// totals keep what retention purged; the per-source breakdown does not).
fn without_call_sources(mut session: serde_json::Value) -> serde_json::Value {
    session.as_object_mut().unwrap().remove("model_calls");
    session
}
