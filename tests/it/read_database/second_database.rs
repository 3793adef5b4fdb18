//! The read URL names another database than the primary, holding other rows, and the real
//! binary runs with `--read-database-url`: the GETs answer what the read database holds, the
//! writes land in the primary.

use crate::common;

use common::codebase_tree::tree;
use common::serve::ServeProcess;
use common::spans::{self, Transport};
use common::{TestApp, TestDb, database_url};
use serde_json::{Value, json};

use super::session;

/// The read URL names a different database holding different rows: the GETs answer what that
/// one holds, never what was just written to the primary, which is where the writes are.
#[tokio::test]
async fn gets_answer_from_the_read_database_and_writes_land_in_the_primary() {
    // The "replica": a database with one session of its own, written by a plain collector.
    let replica = TestApp::spawn().await;
    spans::export(
        Transport::HttpProtobuf,
        &replica,
        session(0xb0, "only-on-the-replica"),
    )
    .await
    .unwrap();
    let primary = TestDb::new().await;
    let (primary_url, read_url) = (
        database_url(&primary.name, None),
        database_url(&replica.db.name, None),
    );
    let serve = ServeProcess::start(&[
        "--database-url",
        &primary_url,
        "--read-database-url",
        &read_url,
        "--db-max-connections",
        "2",
        "--spool-max-bytes",
        "0",
    ])
    .await;
    serve.export(session(0xa0, "only-on-the-primary")).await;
    let tree = tree();
    let (status, target) = {
        let response = reqwest::Client::new()
            .post(format!("{}/api/db/targets", serve.api))
            .json(&json!({"name": "primary-only", "path": tree.root.to_str().unwrap()}))
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    };
    assert_eq!(status, 201, "{target}");

    // The writes are in the primary, and only there.
    let on_primary: Vec<String> = sqlx::query_scalar("SELECT external_id FROM harness_sessions")
        .fetch_all(&primary.pool)
        .await
        .unwrap();
    assert_eq!(on_primary, ["only-on-the-primary"]);
    let registered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM targets WHERE name = 'primary-only'")
            .fetch_one(&primary.pool)
            .await
            .unwrap();
    assert_eq!(registered, 1);

    // The GETs answer from the read database.
    let (_, list) = serve.get("/api/db/sessions").await;
    let external: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(external, ["only-on-the-replica"], "{list}");
    let (_, targets) = serve.get("/api/db/targets").await;
    assert!(
        targets["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "primary-only"),
        "{targets}"
    );
    let primary_session: uuid::Uuid = sqlx::query_scalar("SELECT id FROM harness_sessions")
        .fetch_one(&primary.pool)
        .await
        .unwrap();
    let (status, _) = serve
        .get(&format!("/api/db/sessions/{primary_session}"))
        .await;
    assert_eq!(
        status, 404,
        "the primary's session is read from the read database"
    );
    let (status, ready) = serve.get("/readyz").await;
    assert_eq!(
        (status, ready["read_database"].as_str()),
        (200, Some("ok")),
        "{ready}"
    );
    drop(serve);
    replica.shutdown().await;
}
