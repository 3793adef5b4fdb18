//! The read URL names another database than the primary, holding other rows, and the real
//! binary runs with `--read-database-url`: the GETs answer what the read database holds, the
//! writes land in the primary.

use crate::common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::codebase_tree::tree;
use common::spans::{self, Transport};
use common::{TestApp, TestDb, database_url};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use serde_json::{Value, json};

use super::session;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `acd-collector serve` with `--read-database-url`, as an operator runs it; killed when dropped.
struct Serve {
    child: Child,
    api: String,
    otlp_http: String,
}

impl Serve {
    async fn start(primary: &str, reads: &str) -> Self {
        let (api, http, grpc) = (free_port(), free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_acd-collector"))
            .args([
                "serve",
                "--database-url",
                primary,
                "--read-database-url",
                reads,
            ])
            .args(["--db-max-connections", "2", "--spool-max-bytes", "0"])
            .args(["--api", &format!("127.0.0.1:{api}")])
            .args(["--otlp-http", &format!("127.0.0.1:{http}")])
            .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the collector binary starts");
        let mut serve = Self {
            child,
            api: format!("http://127.0.0.1:{api}"),
            otlp_http: format!("http://127.0.0.1:{http}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(format!("{}/readyz", serve.api))
            .await
            .map_or(true, |r| r.status() != 200)
        {
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!("collector exited early ({status})");
            }
            assert!(Instant::now() < deadline, "collector not ready after 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        serve
    }

    async fn export(&self, spans: Vec<SpanData>) {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/traces", self.otlp_http))
            .with_timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        exporter.export(spans).await.expect("export acknowledged");
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}{path}", self.api)).await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

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
    let serve = Serve::start(
        &database_url(&primary.name, None),
        &database_url(&replica.db.name, None),
    )
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
