//! `serve --read-database-url`: every REST GET reads from a second database (a streaming replica
//! in production), while OTLP ingest, uploads, target registration, reindex jobs and `/metrics`
//! stay on the primary. Proven three ways against the real server: through a PostgreSQL role
//! whose transactions are read-only (every documented GET answers 200 while the writes land),
//! through a second database holding other rows (the GETs answer from it, the writes land in the
//! primary; the real binary with the flag), and with an unreachable read database (`/readyz` says
//! so, ingest carries on).

mod second_database;

use crate::common;

use acd_collector::app::Settings;
use acd_collector::config::ReadDatabaseSettings;
use common::codebase_tree::{post, tree, wait_for_job};
use common::spans::{self, Tokens, Transport};
use common::{TestApp, TestDb, admin_url, database_url};
use opentelemetry_sdk::trace::SpanData;
use serde_json::json;
use sqlx::{ConnectOptions, Connection};

const TOKENS: Tokens = Tokens {
    input: 2_000,
    output: 300,
    cache_read: 500,
    cache_write: 0,
};

/// One session with two turns and a tool call, in its own trace.
fn session(trace: u128, conversation: &str) -> Vec<SpanData> {
    vec![
        spans::session(trace, 1, conversation, (0, 20_000)),
        spans::turn(trace, 2, 1, 1, (1_000, 3_000), TOKENS, 0.2),
        spans::tool(trace, 3, 2, "Read", "src/lib.rs", (3_100, 3_200)),
        spans::turn(trace, 4, 1, 2, (4_000, 6_000), TOKENS, 0.3),
    ]
}

/// A login role whose every transaction is read-only (`default_transaction_read_only = on`), as
/// a hot standby's connections are, allowed to SELECT the test database's tables.
struct ReadOnlyRole {
    name: String,
    password: String,
}

impl ReadOnlyRole {
    async fn create(db: &TestDb) -> Self {
        let name = format!(
            "acd_reader_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let password = uuid::Uuid::new_v4().simple().to_string();
        for sql in [
            format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"),
            format!("ALTER ROLE {name} SET default_transaction_read_only = on"),
            format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&db.pool)
                .await
                .expect("role set-up");
        }
        Self { name, password }
    }

    fn url(&self, db: &TestDb) -> String {
        database_url(&db.name, Some((&self.name, &self.password)))
    }

    /// Roles outlive databases: revoke what it was granted, then drop it.
    async fn drop_in(self, db: &TestDb) {
        for sql in [
            format!("DROP OWNED BY {}", self.name),
            format!("DROP ROLE {}", self.name),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&db.pool)
                .await
                .expect("role clean-up");
        }
    }
}

fn reading_from(url: String) -> Settings {
    Settings {
        read_database: Some(ReadDatabaseSettings {
            url,
            max_connections: 2,
        }),
        ..Settings::ephemeral()
    }
}

#[tokio::test]
async fn every_get_answers_through_a_read_only_role_while_writes_stay_on_the_primary() {
    let db = TestDb::new().await;
    let role = ReadOnlyRole::create(&db).await;
    let read_url = role.url(&db);
    // The role really cannot write: what a streaming replica would refuse, it refuses.
    let mut reader = read_url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .connect()
        .await
        .expect("the read-only role logs in");
    let refused = sqlx::query("INSERT INTO targets (id, name) VALUES (gen_random_uuid(), 'x')")
        .execute(&mut reader)
        .await
        .expect_err("a read-only transaction refuses an INSERT");
    let code = refused.as_database_error().and_then(|e| e.code());
    assert_eq!(code.as_deref(), Some("25006"), "{refused}");
    reader.close().await.ok();

    let app = TestApp::spawn_on(reading_from(read_url), db).await;
    // Writes: OTLP ingest, a test-report upload, a target registration and a reindex job.
    spans::export(
        Transport::HttpProtobuf,
        &app,
        session(0x5ead, "read-only-role"),
    )
    .await
    .expect("OTLP ingest works on the primary");
    let (_, list) = app.get("/api/db/sessions").await;
    let session_id = list["sessions"][0]["id"]
        .as_str()
        .expect("a session")
        .to_string();
    let junit = "<testsuite name=\"s\"><testcase name=\"a\"/><testcase name=\"b\">\
                 <failure message=\"no\"/></testcase></testsuite>";
    let upload = app
        .http
        .post(format!(
            "{}/api/db/sessions/{session_id}/test-runs",
            app.api
        ))
        .header("content-type", "application/xml")
        .body(junit)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201, "{}", upload.text().await.unwrap());
    let tree = tree();
    let (status, target) = post(
        &app,
        "/api/db/targets",
        json!({"name": "demo", "path": tree.root.to_str().unwrap()}),
    )
    .await;
    assert_eq!(status, 201, "{target}");
    let target_id = target["id"].as_str().unwrap().to_string();
    let (status, job) = post(
        &app,
        &format!("/api/db/codebase/{target_id}/reindex"),
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let job_id = job["job_id"].as_str().unwrap().to_string();
    let (done, _) = wait_for_job(&app, &job_id).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    // Reads: every GET the OpenAPI document lists, through the read-only role.
    let (_, doc) = app.get("/api/openapi.json").await;
    let mut gets = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() {
            continue;
        }
        let path = path
            .replace("{session_id}", &session_id)
            .replace("{target_id}", &target_id)
            .replace("{job_id}", &job_id);
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "GET {path} through the read-only role: {body}");
        gets += 1;
    }
    assert!(gets >= 20, "only {gets} GET endpoints documented");
    let (_, shown) = app.get(&format!("/api/db/sessions/{session_id}")).await;
    assert_eq!(shown["turn_count"], 2, "{shown}");
    let (_, history) = app
        .get(&format!("/api/db/tests/{}", spans::TARGET_ID))
        .await;
    assert_eq!(history["sessions"][0]["tests_passed"], 1, "{history}");

    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(
        (ready["database"].as_str(), ready["read_database"].as_str()),
        (Some("ok"), Some("ok"))
    );
    // The GETs came in as the role: its connections are the read pool's.
    let readers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND datname = $2",
    )
    .bind(&role.name)
    .bind(&app.db.name)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(readers >= 1, "no connection of the read pool is open");
    // Test runs and targets went to the primary's tables, next to the ingested session.
    let stored: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM session_test_runs), (SELECT count(*) FROM targets WHERE id = $1::uuid)",
    )
    .bind(&target_id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(stored, (1, 1));
    // The role is dropped before the database, while the grants it holds there can be revoked.
    let mut app = app;
    app.app
        .take()
        .unwrap()
        .shutdown()
        .await
        .expect("clean shutdown");
    role.drop_in(&app.db).await;
}

/// A read database that is down: `/readyz` answers 503 and says which one, GETs get the
/// retryable 503, and ingest and `/metrics`' database probe (the primary) carry on.
#[tokio::test]
async fn an_unreachable_read_database_fails_readiness_not_ingest() {
    let port = crate::common::serve::free_port(); // bound and released: nothing listens there
    let mut url = reqwest::Url::parse(&admin_url()).unwrap();
    url.set_port(Some(port)).unwrap();
    let app = TestApp::spawn_with(reading_from(url.into())).await;
    spans::export(
        Transport::HttpProtobuf,
        &app,
        session(0xdead, "reads-are-down"),
    )
    .await
    .expect("ingest does not need the read database");
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(
        (ready["database"].as_str(), ready["read_database"].as_str()),
        (Some("ok"), Some("unreachable")),
        "{ready}"
    );
    assert!(
        ready["error"]
            .as_str()
            .unwrap()
            .starts_with("read database unreachable")
    );
    let (status, body) = app.get("/api/db/sessions").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(app.metric("acd_database_up", &[]).await, 1.0);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM harness_sessions")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    app.shutdown().await;
}
