//! Shared test set-up: a fresh, migrated PostgreSQL database per test, and the real collector on
//! random ports in front of it (as zero-to-production's `spawn_app`).
#![allow(dead_code)]

pub mod claude_code;
pub mod claude_metrics;
pub mod cluster;
pub mod codebase_tree;
pub mod process;
pub mod scenario;
pub mod serve;
pub mod spans;
pub mod test_reports;

use std::time::Duration;

use acd_collector::app::{RunningApp, Settings, spawn};
use acd_collector::store::{MIGRATOR, Store};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Where test databases are created: `ACD_TEST_DATABASE_URL`, default the local server.
pub fn admin_url() -> String {
    std::env::var("ACD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the test server, as `user` (default: the admin URL's).
pub fn database_url(name: &str, user: Option<(&str, &str)>) -> String {
    let mut url = reqwest::Url::parse(&admin_url()).expect("ACD_TEST_DATABASE_URL is a URL");
    url.set_path(name);
    if let Some((user, password)) = user {
        url.set_username(user).unwrap();
        url.set_password(Some(password)).unwrap();
    }
    url.into()
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub pool: PgPool,
    admin: PgConnectOptions,
}

impl TestDb {
    pub async fn new() -> Self {
        Self::migrated_to(i64::MAX).await
    }

    /// A database with the migrations up to `version` only (for tests of a later migration).
    pub async fn migrated_to(version: i64) -> Self {
        let admin: PgConnectOptions = admin_url()
            .parse()
            .expect("ACD_TEST_DATABASE_URL is a valid URL");
        let name = format!("acd_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin.connect().await.unwrap_or_else(|e| {
            panic!(
                "tests need PostgreSQL at {} ({e}); run scripts/test",
                admin_url()
            )
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(admin.clone().database(&name))
            .await
            .expect("connect to test database");
        MIGRATOR
            .run_to(version, &pool)
            .await
            .expect("migrations apply to a fresh database");
        Self { name, pool, admin }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs outside async: use a private runtime on another thread. The pool is not
        // closed here: its sockets belong to the test's runtime, which this thread blocks;
        // DROP DATABASE ... WITH (FORCE) ends those sessions on the server side.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async move {
                    if let Ok(mut conn) = admin.connect().await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                    }
                })
        })
        .join();
    }
}

pub struct TestApp {
    pub db: TestDb,
    pub app: Option<RunningApp>,
    pub http: reqwest::Client,
    pub api: String,
    pub otlp_http: String,
    pub otlp_grpc: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Settings::ephemeral()).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        Self::spawn_on(settings, TestDb::new().await).await
    }

    /// On a database made beforehand (its name goes into settings such as the read URL).
    pub async fn spawn_on(settings: Settings, db: TestDb) -> Self {
        let app = spawn(settings, Store::new(db.pool.clone()))
            .await
            .expect("the collector starts");
        Self {
            api: format!("http://{}", app.api_addr),
            otlp_http: format!("http://{}", app.http_addr),
            otlp_grpc: format!("http://{}", app.grpc_addr),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            app: Some(app),
            db,
        }
    }

    /// GET a REST path; returns the status and the JSON body.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .expect("REST request");
        let status = response.status().as_u16();
        let body = response.json().await.expect("REST bodies are JSON");
        (status, body)
    }

    /// The Prometheus text exposition of /metrics.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.api))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .unwrap()
    }

    /// Samples of /metrics parsed with a real Prometheus text parser.
    pub async fn scrape(&self) -> prometheus_parse::Scrape {
        let text = self.metrics_text().await;
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
            .expect("valid exposition")
    }

    /// The value of one sample, or 0 if the series does not exist.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let scrape = self.scrape().await;
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => panic!("{name} is not a scalar"),
            })
            .sum()
    }

    pub async fn shutdown(mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await.expect("clean shutdown");
        }
    }
}
