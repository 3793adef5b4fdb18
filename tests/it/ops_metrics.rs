//! The series added for the dashboards and alert rules: `acd_database_up` follows the database
//! (probed at each scrape), and `acd_features_completed_total` counts each session's completed
//! features once, however often its batch is resent.

use crate::common;

use acd_collector::app::{Settings, spawn};
use acd_collector::store::Store;
use common::TestApp;
use common::spans::{self, Tokens, Transport};
use sqlx::postgres::PgConnectOptions;

fn parse(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid")
}

fn value(scrape: &prometheus_parse::Scrape, name: &str) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name)
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is not a scalar"),
        })
}

#[tokio::test]
async fn database_up_is_one_while_postgres_answers() {
    let app = TestApp::spawn().await;
    let scrape = app.scrape().await;
    assert_eq!(value(&scrape, "acd_database_up"), Some(1.0));
    app.shutdown().await;
}

#[tokio::test]
async fn alerted_counters_exist_at_zero_before_their_first_event() {
    // increase() needs two samples: a series born at 1 would hide its first event from alerts.
    let app = TestApp::spawn().await;
    let scrape = app.scrape().await;
    let zero = |name: &str, label: &str, values: &[&str]| {
        for v in values {
            let found = scrape
                .samples
                .iter()
                .find(|s| s.metric == name && s.labels.get(label) == Some(*v))
                .unwrap_or_else(|| panic!("{name}{{{label}=\"{v}\"}} is exported"));
            assert!(matches!(found.value, prometheus_parse::Value::Counter(0.0)));
        }
    };
    zero(
        "acd_otlp_request_failures_total",
        "reason",
        &["unavailable", "invalid", "too_large", "internal"],
    );
    zero(
        "acd_retry_outcomes_total",
        "outcome",
        &["succeeded", "exhausted"],
    );
    zero("acd_sessions_total", "status", &["completed", "failed"]);
    app.shutdown().await;
}

#[tokio::test]
async fn database_up_is_zero_when_postgres_is_unreachable() {
    // Nothing listens on this port: every probe fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(closed.port())
        .username("postgres");
    let app = spawn(Settings::ephemeral(), Store::connect_lazy(options, 2))
        .await
        .unwrap();
    let text = reqwest::get(format!("http://{}/metrics", app.api_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(value(&parse(&text), "acd_database_up"), Some(0.0));
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn completed_features_are_counted_once_per_session() {
    let app = TestApp::spawn().await;
    let conversation = uuid::Uuid::new_v4().to_string();
    let tokens = Tokens {
        input: 1000,
        output: 200,
        cache_read: 600,
        cache_write: 100,
    };
    // spans::session reports two completed features.
    let batch = vec![
        spans::session(7, 1, &conversation, (0, 5_000)),
        spans::turn(7, 2, 1, 1, (100, 2_000), tokens, 0.3),
    ];
    assert_eq!(
        value(&app.scrape().await, "acd_features_completed_total"),
        Some(0.0)
    );
    spans::export(Transport::HttpProtobuf, &app, batch.clone())
        .await
        .unwrap();
    assert_eq!(
        value(&app.scrape().await, "acd_features_completed_total"),
        Some(2.0)
    );
    // A retried delivery adds nothing.
    spans::export(Transport::HttpProtobuf, &app, batch)
        .await
        .unwrap();
    assert_eq!(
        value(&app.scrape().await, "acd_features_completed_total"),
        Some(2.0)
    );
    app.shutdown().await;
}
