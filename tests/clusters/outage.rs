//! No acknowledged data lost across a PostgreSQL outage (a private cluster really stopped with
//! `pg_ctl stop` and restarted), with the official Rust OTLP exporter at its default settings
//! sending steadily over HTTP and gRPC: with the spool, every request is acknowledged and
//! sent = stored, no duplicates; without it, the outage is answered with the retryable status.
//! `ACD_OUTAGE_SECONDS` sets the outage (default 60, longer than any exporter retries).
//! The binary under SIGKILL and SIGTERM: outage/signals.rs.

mod isolation;
mod signals;

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use acd_collector::app::{Settings, SpoolSettings, spawn};
use acd_collector::store::Store;
use common::cluster::Cluster;
use common::spans;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SpanExporter as _;

fn outage() -> Duration {
    let seconds = std::env::var("ACD_OUTAGE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

/// Requests waiting in a spool directory.
fn spooled(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "otlp")
        })
        .count()
}

async fn sessions_stored(store: &Store) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM harness_sessions")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_exporters_retry_loses_nothing_acknowledged() {
    let mut cluster = Cluster::start().await;
    let store = Store::connect_lazy(cluster.options.clone(), 4);
    store.migrate().await.unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let app = spawn(
        Settings {
            spool: Some(SpoolSettings {
                dir: spool_dir.path().to_path_buf(),
                max_bytes: 64 << 20,
            }),
            ..Settings::ephemeral()
        },
        store.clone(),
    )
    .await
    .unwrap();

    // Official exporters, default retry and time-out; one session span per export, 5 per second.
    let http = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("http://{}/v1/traces", app.http_addr))
        .build()
        .unwrap();
    let grpc = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", app.grpc_addr))
        .build()
        .unwrap();
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(tokio::sync::Notify::new());
    let sender = {
        let (acknowledged, failed, stop) = (acknowledged.clone(), failed.clone(), stop.clone());
        tokio::spawn(async move {
            let mut sent = 0u64;
            loop {
                sent += 1;
                let span = spans::session(u128::from(sent), sent, &format!("s{sent}"), (0, 10));
                let exporter = if sent.is_multiple_of(2) { &http } else { &grpc };
                match exporter.export(vec![span]).await {
                    Ok(()) => acknowledged.fetch_add(1, Ordering::SeqCst),
                    Err(_) => failed.fetch_add(1, Ordering::SeqCst),
                };
                tokio::select! {
                    _ = stop.notified() => return sent,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.stop().await;
    let before = acknowledged.load(Ordering::SeqCst);
    tokio::time::sleep(outage()).await;
    let during = acknowledged.load(Ordering::SeqCst) - before;
    assert!(
        during >= 2,
        "requests are acknowledged from the spool during the outage"
    );
    assert!(
        spooled(spool_dir.path()) > 0,
        "the outage's requests are in the spool"
    );
    cluster.restart().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.notify_one();
    let sent = sender.await.unwrap() as usize;

    // Replay drains the spool in the background; wait for it, bounded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while (sessions_stored(&store).await as usize) < sent && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(failed.load(Ordering::SeqCst), 0, "no export failed");
    assert_eq!(acknowledged.load(Ordering::SeqCst), sent);
    assert_eq!(
        sessions_stored(&store).await as usize,
        sent,
        "sent = stored"
    );
    let distinct: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT external_id) FROM harness_sessions")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(distinct as usize, sent, "no duplicates");
    assert_eq!(
        spooled(spool_dir.path()),
        0,
        "replayed requests are deleted"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_spool_refused_requests_get_retryable_statuses_and_land_when_retried() {
    let mut cluster = Cluster::start().await;
    let store = Store::connect_lazy(cluster.options.clone(), 4);
    store.migrate().await.unwrap();
    let app = spawn(Settings::ephemeral(), store.clone()).await.unwrap();
    let url = format!("http://{}/v1/traces", app.http_addr);
    cluster.stop().await;

    // A client that retries as exporters do: on 503 after Retry-After (shortened here).
    let client = reqwest::Client::new();
    let sent = 3;
    let mut refusals = 0;
    let restart_after = 2;
    for n in 1..=sent {
        let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
            resource_spans: vec![opentelemetry_proto::tonic::trace::v1::ResourceSpans {
                scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                    spans: vec![opentelemetry_proto::tonic::trace::v1::Span {
                        trace_id: vec![n; 16],
                        span_id: vec![n; 8],
                        name: "s".into(),
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_001_000_000_000,
                        attributes: vec![opentelemetry_proto::tonic::common::v1::KeyValue {
                            key: "gen_ai.operation.name".into(),
                            value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                                value: Some(
                                    opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                        "invoke_agent".into(),
                                    ),
                                ),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let body = serde_json::to_vec(&request).unwrap();
        loop {
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                break;
            }
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()["retry-after"], "5");
            refusals += 1;
            if refusals == restart_after {
                cluster.restart().await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    assert!(refusals >= restart_after);
    assert_eq!(
        sessions_stored(&store).await,
        i64::from(sent),
        "sent = stored"
    );
    app.shutdown().await.unwrap();
}
