//! Migrations of databases that already hold data: every row a later migration moves must
//! arrive, and the collector must answer from the migrated database as before.

use acd_collector::store::MIGRATOR;
use serde_json::json;
use sqlx::Row;

use crate::common::{TestApp, TestDb};

/// Migration 0024 moves `context_usage` rows onto their turns and leaves a view of the same name
/// and columns; a turn's figures, overflow and segments must read back unchanged.
#[tokio::test]
async fn context_rows_move_onto_their_turns() {
    let db = TestDb::migrated_to(23).await;
    sqlx::raw_sql(
        r#"
        INSERT INTO harness_sessions (id, external_id, status, started_at)
        VALUES ('00000000-0000-4000-8000-000000000001', 'migrated', 'completed',
                '2026-11-01T10:00:00Z');
        INSERT INTO session_turns (id, session_id, turn_number, started_at, trace_id, span_id,
                                   model, call_kind, input_tokens, cache_read_tokens)
        SELECT ('00000000-0000-4000-8000-00000000010' || n)::uuid,
               '00000000-0000-4000-8000-000000000001', n,
               '2026-11-01T10:00:00Z'::timestamptz + n * interval '1 minute',
               '\x0102'::bytea, int4send(n), 'claude-sonnet-4-5',
               CASE WHEN n = 3 THEN 'side' ELSE 'main' END, 1000 * n, 500
        FROM generate_series(1, 3) n;
        -- Turn 1: segments reported; turn 2: overflowed by compaction; turn 3 (a side call) has
        -- no row; one row whose turn retention deleted.
        INSERT INTO context_usage (id, turn_id, session_id, turn_number, model, system_tokens,
                                   feature_tokens, file_tokens, conversation_tokens, total_tokens,
                                   context_limit, utilization, utilization_ratio,
                                   overflow_occurred, overflow_reason, segments_reported)
        VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000101',
                '00000000-0000-4000-8000-000000000001', 1, 'claude-sonnet-4-5', 100, 200, 300,
                900, 1500, 200000, 0.0075, 0.0075, FALSE, NULL, TRUE),
               (gen_random_uuid(), '00000000-0000-4000-8000-000000000102',
                '00000000-0000-4000-8000-000000000001', 2, 'claude-sonnet-4-5', 0, 0, 0, 0,
                250000, 200000, 1.25, 1.25, TRUE, 'compaction', FALSE),
               (gen_random_uuid(), '00000000-0000-4000-8000-000000000999',
                '00000000-0000-4000-8000-000000000001', 9, 'claude-sonnet-4-5', 0, 0, 0, 0, 10,
                200000, 0.0001, 0.00005, FALSE, NULL, FALSE);
        "#,
    )
    .execute(&db.pool)
    .await
    .expect("seed the database as migration 0023 left it");

    MIGRATOR
        .run(&db.pool)
        .await
        .expect("the later migrations apply to a database holding data");

    let rows = sqlx::query(
        "SELECT turn_id::text, session_id::text, turn_number, system_tokens, feature_tokens,
                file_tokens, conversation_tokens, total_tokens, context_limit,
                utilization::float8, utilization_ratio, overflow_occurred, overflow_reason,
                segments_reported, model
         FROM context_usage ORDER BY turn_number",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let read: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!([
                r.get::<String, _>(0).ends_with("101") || r.get::<String, _>(0).ends_with("102"),
                r.get::<i32, _>(2),
                [
                    r.get::<i32, _>(3),
                    r.get::<i32, _>(4),
                    r.get::<i32, _>(5),
                    r.get::<i32, _>(6)
                ],
                r.get::<i32, _>(7),
                r.get::<i32, _>(8),
                r.get::<f64, _>(9),
                r.get::<f64, _>(10),
                r.get::<bool, _>(11),
                r.get::<Option<String>, _>(12),
                r.get::<bool, _>(13),
                r.get::<String, _>(14),
            ])
        })
        .collect();
    assert_eq!(
        read,
        vec![
            json!([
                true,
                1,
                [100, 200, 300, 900],
                1500,
                200000,
                0.0075,
                0.0075,
                false,
                null,
                true,
                "claude-sonnet-4-5"
            ]),
            json!([
                true,
                2,
                [0, 0, 0, 0],
                250000,
                200000,
                1.25,
                1.25,
                true,
                "compaction",
                false,
                "claude-sonnet-4-5"
            ]),
        ],
        "both rows of stored turns, as they were; none for the side call or the deleted turn"
    );

    // The collector serves the migrated rows through the context API.
    let app = TestApp::spawn_on(acd_collector::app::Settings::ephemeral(), db).await;
    let (status, body) = app
        .get("/api/db/context/00000000-0000-4000-8000-000000000001")
        .await;
    assert_eq!(status, 200, "{body}");
    let turns = body["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 2, "{body}");
    assert_eq!(turns[0]["file_tokens"], 300, "{body}");
    assert_eq!(turns[1]["overflow_reason"], "compaction", "{body}");
    app.shutdown().await;
}
