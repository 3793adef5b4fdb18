//! Load generator of `scripts/bench-ingest`: sends a harness workload to a running collector over
//! OTLP/HTTP protobuf in batches of 512 spans from several concurrent exporters, measures
//! acknowledged (hence committed) spans/s and per-request latency, checks that the database holds
//! every span, loads the same rows with raw COPY as the baseline, reads the collector's peak RSS,
//! and prints the figures; the last line is one JSON object.

mod copy;
mod workload;

use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

#[derive(Parser)]
struct Args {
    /// The collector's OTLP/HTTP base URL.
    #[arg(long)]
    endpoint: String,
    /// The collector's database (to check every acknowledged span is stored).
    #[arg(long)]
    database_url: String,
    /// Where the COPY baseline creates its scratch database (same server).
    #[arg(long)]
    admin_url: String,
    /// The collector's process id, for its peak RSS.
    #[arg(long)]
    collector_pid: u32,
    #[arg(long, default_value_t = 200_000)]
    spans: usize,
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Exporters sending at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

fn request(spans: &[Span]) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("bench-harness".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: spans.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM for pid {pid}"))?;
    Ok(kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Sessions spread over the last week, so the 7-day aggregates see them.
    let now_ns = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_nanos() as u64;
    let week_ns = 7 * 86_400 * 1_000_000_000;
    // Each exporter is one harness with its own sessions, one after another, batched as its
    // batch span processor would: consecutive batches of one exporter share a session, batches
    // of different exporters do not (as with several harnesses in production).
    let mut rng = workload::Rng::new(42);
    let mut streams: Vec<Vec<Span>> = vec![Vec::new(); args.concurrency];
    let mut spans = Vec::new();
    let mut sessions = 0;
    while spans.len() < args.spans {
        let start = now_ns - week_ns + rng.next() % (week_ns - 86_400 * 1_000_000_000);
        let session = workload::session(&mut rng, sessions, start);
        streams[sessions as usize % args.concurrency].extend(session.iter().cloned());
        spans.extend(session);
        sessions += 1;
    }
    let queues: Vec<Vec<Vec<u8>>> = streams
        .iter()
        .map(|stream| stream.chunks(args.batch).map(request).collect())
        .collect();
    let batch_count: usize = queues.iter().map(Vec::len).sum();
    eprintln!(
        "workload: {} spans in {sessions} sessions, {batch_count} batches of up to {} from {} \
         exporters",
        spans.len(),
        args.batch,
        args.concurrency
    );

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let url = format!("{}/v1/traces", args.endpoint.trim_end_matches('/'));
    // A database seeded with history (BENCH_HISTORY) holds ledger rows already.
    let history = ledger_spans(&args.database_url).await?;
    let clock = Instant::now();
    let mut workers = Vec::new();
    for queue in queues {
        let (http, url) = (http.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for (i, body) in queue.into_iter().enumerate() {
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                let text = response.bytes().await?;
                anyhow::ensure!(status.is_success(), "batch {i}: HTTP {status}: {text:?}");
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = clock.elapsed();
    latencies.sort_by(f64::total_cmp);
    let spans_per_s = spans.len() as f64 / elapsed.as_secs_f64();
    let peak_rss_mb = peak_rss_mb(args.collector_pid)?;

    // Acknowledged means committed: the ledger must hold every span now (retry events on turns
    // have ledger rows of their own), beside the history it held before.
    let stored = ledger_spans(&args.database_url).await? - history;
    anyhow::ensure!(
        stored as usize == spans.len(),
        "{stored} spans stored, {} acknowledged",
        spans.len()
    );

    let (copied, copy_time) = copy::copy_rows(&args.admin_url, &spans).await?;
    let copy_rows_per_s = copied as f64 / copy_time.as_secs_f64();
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    println!(
        "collector: {} spans acknowledged and stored in {:.2} s = {spans_per_s:.0} spans/s \
         ({} exporters, {} spans per batch); export latency p50 {p50:.1} ms, p99 {p99:.1} ms; \
         peak RSS {peak_rss_mb:.1} MB",
        spans.len(),
        elapsed.as_secs_f64(),
        args.concurrency,
        args.batch
    );
    println!(
        "raw COPY: {copied} rows in {:.2} s = {copy_rows_per_s:.0} rows/s; ratio {:.3}",
        copy_time.as_secs_f64(),
        spans_per_s / copy_rows_per_s
    );
    // The field order, so the line reads the same as its specification.
    println!(
        "{{\"spans_per_s\": {spans_per_s:.0}, \"copy_rows_per_s\": {copy_rows_per_s:.0}, \
         \"ratio\": {:.3}, \"peak_rss_mb\": {peak_rss_mb:.1}, \"p50_ms\": {p50:.1}, \
         \"p99_ms\": {p99:.1}}}",
        spans_per_s / copy_rows_per_s
    );
    Ok(())
}

/// Span rows of the ledger, retry events on turns aside (they have rows of their own).
async fn ledger_spans(database_url: &str) -> anyhow::Result<i64> {
    let pool = sqlx::PgPool::connect(database_url).await?;
    let n = sqlx::query_scalar("SELECT count(*) FROM otlp_spans WHERE kind <> 'retry'")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(n)
}
