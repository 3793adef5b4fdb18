//! The baseline: the same spans' rows (one per span: a session, turn, tool call or test run row)
//! loaded with raw `COPY ... FROM STDIN` into a fresh database with the collector's schema and
//! indexes — what PostgreSQL on this machine can write at best, with none of the collector's work
//! (decoding, idempotency ledger, session resolution, rollups).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use acd_collector::store::MIGRATOR;
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use uuid::Uuid;

/// COPY text rows, per table, built before the clock starts.
#[derive(Default)]
struct Rows {
    targets: String,
    sessions: String,
    /// Turns, tools and test runs, in two halves loaded on two connections (this machine has two
    /// cores; the collector uses both too).
    details: [Vec<(&'static str, String)>; 2],
    count: usize,
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}
fn text(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(Value::StringValue(s)) => s.clone(),
        _ => String::new(),
    }
}
fn int(span: &Span, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::IntValue(n)) => *n,
        Some(Value::DoubleValue(d)) => (*d * 1000.0) as i64,
        _ => 0,
    }
}
fn time(ns: u64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns as i64).to_rfc3339()
}
fn hex(bytes: &[u8]) -> String {
    let mut out = String::from("\\\\x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
/// The span's attributes as a JSON object, escaped for COPY's text format.
fn json(attributes: &[KeyValue]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => serde_json::json!(s),
                Some(Value::IntValue(n)) => serde_json::json!(n),
                Some(Value::DoubleValue(d)) => serde_json::json!(d),
                _ => serde_json::Value::Null,
            };
            (kv.key.clone(), v)
        })
        .collect();
    serde_json::Value::Object(map)
        .to_string()
        .replace('\\', "\\\\")
}

fn rows(spans: &[Span]) -> Rows {
    let mut rows = Rows::default();
    let mut targets = std::collections::BTreeSet::new();
    let mut half = 0;
    for span in spans {
        rows.count += 1;
        let session = text(span, "gen_ai.conversation.id");
        let (start, end) = (
            time(span.start_time_unix_nano),
            time(span.end_time_unix_nano),
        );
        let ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1_000_000;
        let (trace, id, parent) = (
            hex(&span.trace_id),
            hex(&span.span_id),
            hex(&span.parent_span_id),
        );
        let row_id = Uuid::new_v4();
        let (table, line) = match span.name.as_str() {
            "invoke_agent harness" => {
                let target = text(span, "acd.target.id");
                if targets.insert(target.clone()) {
                    let _ = writeln!(rows.targets, "{target}\t{}", text(span, "acd.target.name"));
                }
                let _ = writeln!(
                    rows.sessions,
                    "{session}\t{session}\t{target}\tcompleted\t{start}\t{end}\t{trace}\t{id}\t{}\t{ms}",
                    json(&span.attributes)
                );
                half = 1 - half;
                continue;
            }
            "chat" => (
                "session_turns (id, session_id, turn_number, started_at, finished_at, input_tokens, \
                 output_tokens, cache_read_tokens, cache_write_tokens, trace_id, span_id, \
                 parent_span_id, model, duration_ms, time_to_first_token_ms, attributes)",
                format!(
                    "{row_id}\t{session}\t{}\t{start}\t{end}\t{}\t{}\t{}\t{}\t{trace}\t{id}\t{parent}\t{}\t{ms}\t{}\t{}\n",
                    int(span, "acd.turn.number"),
                    int(span, "gen_ai.usage.input_tokens")
                        - int(span, "gen_ai.usage.cache_read.input_tokens"),
                    int(span, "gen_ai.usage.output_tokens"),
                    int(span, "gen_ai.usage.cache_read.input_tokens"),
                    int(span, "gen_ai.usage.cache_creation.input_tokens"),
                    text(span, "gen_ai.request.model"),
                    int(span, "gen_ai.response.time_to_first_chunk"),
                    json(&span.attributes),
                ),
            ),
            "execute_tool" => (
                "session_tool_calls (id, session_id, trace_id, span_id, parent_span_id, tool_name, \
                 file_path, started_at, duration_ms, attributes)",
                format!(
                    "{row_id}\t{session}\t{trace}\t{id}\t{parent}\t{}\t{}\t{start}\t{ms}\t{}\n",
                    text(span, "gen_ai.tool.name"),
                    text(span, "acd.tool.file_path"),
                    json(&span.attributes),
                ),
            ),
            _ => (
                "session_test_runs (id, session_id, test_suite, total_tests, passed, failed, \
                 duration_ms, trace_id, span_id, started_at)",
                format!(
                    "{row_id}\t{session}\t{}\t{}\t{}\t{}\t{ms}\t{trace}\t{id}\t{start}\n",
                    text(span, "acd.test.suite"),
                    span.events.len(),
                    span.events.len(),
                    0,
                ),
            ),
        };
        let bucket = &mut rows.details[half];
        match bucket.iter_mut().find(|(t, _)| *t == table) {
            Some((_, data)) => data.push_str(&line),
            None => bucket.push((table, line)),
        }
    }
    rows
}

/// Loads the rows of `spans` into a scratch database on `admin_url`'s server: rows and time.
pub async fn copy_rows(admin_url: &str, spans: &[Span]) -> anyhow::Result<(usize, Duration)> {
    let admin: PgConnectOptions = admin_url.parse()?;
    let name = format!("acd_bench_copy_{}", std::process::id());
    let mut conn = admin.connect().await?;
    let drop_db = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop_db.clone()))
        .execute(&mut conn)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let result = async {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(admin.clone().database(&name))
            .await?;
        MIGRATOR.run(&pool).await?;
        let rows = rows(spans);
        let mut first = pool.acquire().await?;
        let mut second = pool.acquire().await?;
        let clock = Instant::now();
        let mut copy = first
            .copy_in_raw("COPY targets (id, name) FROM STDIN")
            .await?;
        copy.send(rows.targets.as_bytes()).await?;
        copy.finish().await?;
        let mut copy = first
            .copy_in_raw(
                "COPY harness_sessions (id, external_id, target_id, status, started_at, ended_at, \
                 trace_id, span_id, attributes, wall_clock_ms) FROM STDIN",
            )
            .await?;
        copy.send(rows.sessions.as_bytes()).await?;
        copy.finish().await?;
        tokio::try_join!(
            load(&mut first, &rows.details[0]),
            load(&mut second, &rows.details[1])
        )?;
        let elapsed = clock.elapsed();
        drop((first, second));
        pool.close().await;
        Ok::<_, anyhow::Error>((rows.count, elapsed))
    }
    .await;
    sqlx::query(sqlx::AssertSqlSafe(drop_db))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    result
}

async fn load(conn: &mut sqlx::PgConnection, tables: &[(&str, String)]) -> Result<(), sqlx::Error> {
    for (table, data) in tables {
        let mut copy = conn
            .copy_in_raw(&format!("COPY {table} FROM STDIN"))
            .await?;
        copy.send(data.as_bytes()).await?;
        copy.finish().await?;
    }
    Ok(())
}
