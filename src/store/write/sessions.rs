//! The session rows a batch writes before its details: the targets its session spans name, a
//! placeholder for every session that detail records name before its span arrived, and the
//! session spans themselves.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::resolution::Resolution;
use crate::domain::{IngestReport, RecordRef, SessionRecord, SpanBatch};
use crate::store::{Error, Tx};

pub(super) async fn upsert_targets(
    tx: &mut Tx<'_>,
    sessions: &[&SessionRecord],
) -> Result<(), Error> {
    let mut targets: HashMap<Uuid, Option<String>> = HashMap::new();
    for s in sessions {
        if let Some(id) = s.target_id {
            let name = targets.entry(id).or_default();
            if name.is_none() {
                name.clone_from(&s.target_name);
            }
        }
    }
    let (ids, names): (Vec<Uuid>, Vec<Option<String>>) = targets.into_iter().unzip();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO targets (id, name)
           SELECT * FROM UNNEST($1::uuid[], $2::text[])
           ON CONFLICT (id) DO UPDATE
           SET name = COALESCE(EXCLUDED.name, targets.name), updated_at = NOW()"#,
        &ids,
        &names as &[Option<String>],
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A session row for every session that turns or tools name before its own span has arrived.
pub(super) async fn ensure_placeholder_sessions(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &IngestReport,
    resolution: &Resolution,
) -> Result<(), Error> {
    let mut first: HashMap<Uuid, Placeholder> = HashMap::new();
    let mut note = |id: Option<Uuid>, external: &Option<String>, at, record| {
        if let Some(id) = id {
            let entry = first.entry(id).or_insert_with(|| Placeholder {
                external: external.clone().unwrap_or_else(|| id.to_string()),
                start: at,
                producer: None,
            });
            entry.start = entry.start.min(at);
            // The ownership check let only the owner's records (or unscoped ones) through.
            if entry.producer.is_none() {
                entry.producer = batch.producer_of(record).map(str::to_string);
            }
        }
    };
    for &i in &report.new_turns {
        let t = &batch.turns[i];
        let turn = RecordRef::Turn(i);
        note(
            resolution.turns[i],
            &t.session_external_id,
            t.started_at,
            turn,
        );
    }
    for &i in &report.new_tools {
        let t = &batch.tools[i];
        let tool = RecordRef::Tool(i);
        note(
            resolution.tools[i],
            &t.session_external_id,
            t.started_at,
            tool,
        );
    }
    for &i in &report.new_retries {
        let r = &batch.retries[i];
        let retry = RecordRef::Retry(i);
        note(resolution.retries[i], &r.session_external_id, r.at, retry);
    }
    for &i in &report.new_test_runs {
        let r = &batch.test_runs[i];
        let run = RecordRef::TestRun(i);
        note(
            resolution.test_runs[i],
            &r.session_external_id,
            r.started_at,
            run,
        );
    }
    let mut ids = Vec::with_capacity(first.len());
    let mut externals = Vec::with_capacity(first.len());
    let mut starts = Vec::with_capacity(first.len());
    let mut producers = Vec::with_capacity(first.len());
    for (id, p) in first {
        ids.push(id);
        externals.push(p.external);
        starts.push(p.start);
        producers.push(p.producer);
    }
    if ids.is_empty() {
        return Ok(());
    }
    // A session nobody owned yet (stored before ownership, or by an unscoped import) is
    // claimed by the first producer that sends a record of it.
    sqlx::query!(
        r#"INSERT INTO harness_sessions AS h (id, external_id, started_at, producer)
           SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::text[])
           ON CONFLICT (id) DO UPDATE SET producer = EXCLUDED.producer
           WHERE h.producer IS NULL AND EXCLUDED.producer IS NOT NULL"#,
        &ids,
        &externals,
        &starts,
        &producers as &[Option<String>],
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The first session record of a session named before its span arrived in this batch.
struct Placeholder {
    external: String,
    start: DateTime<Utc>,
    producer: Option<String>,
}

pub(super) async fn upsert_sessions(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    sessions: &[&SessionRecord],
) -> Result<(), Error> {
    // One row per id: the same session named by two spans of one batch keeps the later-ending one.
    let mut by_id: HashMap<Uuid, &SessionRecord> = HashMap::new();
    for s in sessions {
        let slot = by_id.entry(s.id).or_insert(s);
        if s.ended_at > slot.ended_at {
            *slot = s;
        }
    }
    if by_id.is_empty() {
        return Ok(());
    }
    let c = SessionColumns::of(batch, by_id.into_values());
    sqlx::query!(
        r#"INSERT INTO harness_sessions (id, external_id, target_id, feature_id, status, started_at,
               ended_at, trace_id, span_id, status_message, attributes, features_completed,
               wall_clock_ms, producer)
           SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[],
               $6::timestamptz[], $7::timestamptz[], $8::bytea[], $9::bytea[], $10::text[],
               $11::jsonb[], $12::int[], $13::int[], $14::text[])
           ON CONFLICT (id) DO UPDATE SET
               -- The ownership check let only the owner's (or unscoped) session spans here.
               producer = COALESCE(harness_sessions.producer, EXCLUDED.producer),
               external_id = EXCLUDED.external_id,
               target_id = COALESCE(EXCLUDED.target_id, harness_sessions.target_id),
               feature_id = COALESCE(EXCLUDED.feature_id, harness_sessions.feature_id),
               status = EXCLUDED.status,
               started_at = EXCLUDED.started_at,
               ended_at = EXCLUDED.ended_at,
               trace_id = EXCLUDED.trace_id,
               span_id = EXCLUDED.span_id,
               status_message = EXCLUDED.status_message,
               attributes = EXCLUDED.attributes,
               features_completed = COALESCE(EXCLUDED.features_completed,
                                             harness_sessions.features_completed),
               wall_clock_ms = EXCLUDED.wall_clock_ms,
               updated_at = NOW()"#,
        &c.ids,
        &c.external_ids,
        &c.target_ids as &[Option<Uuid>],
        &c.feature_ids as &[Option<String>],
        &c.statuses,
        &c.started_at,
        &c.ended_at,
        &c.trace_ids,
        &c.span_ids,
        &c.status_messages as &[Option<String>],
        &c.attributes,
        &c.features_completed as &[Option<i32>],
        &c.wall_clock_ms,
        &c.producers as &[Option<String>],
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The UNNEST columns of [`upsert_sessions`], one entry per session.
#[derive(Default)]
struct SessionColumns {
    ids: Vec<Uuid>,
    external_ids: Vec<String>,
    target_ids: Vec<Option<Uuid>>,
    feature_ids: Vec<Option<String>>,
    statuses: Vec<String>,
    started_at: Vec<DateTime<Utc>>,
    ended_at: Vec<DateTime<Utc>>,
    trace_ids: Vec<Vec<u8>>,
    span_ids: Vec<Vec<u8>>,
    status_messages: Vec<Option<String>>,
    attributes: Vec<serde_json::Value>,
    features_completed: Vec<Option<i32>>,
    wall_clock_ms: Vec<i32>,
    producers: Vec<Option<String>>,
}

impl SessionColumns {
    fn of<'a>(batch: &SpanBatch, rows: impl Iterator<Item = &'a SessionRecord>) -> Self {
        let mut c = Self::default();
        for s in rows {
            c.producers.push(batch.producers.get(&s.key).cloned());
            c.ids.push(s.id);
            c.external_ids.push(s.external_id.clone());
            c.target_ids.push(s.target_id);
            c.feature_ids.push(s.feature_id.clone());
            c.statuses.push(s.status.as_str().to_string());
            c.started_at.push(s.started_at);
            c.ended_at.push(s.ended_at);
            c.trace_ids.push(s.key.trace_id.clone());
            c.span_ids.push(s.key.span_id.clone());
            c.status_messages.push(s.status_message.clone());
            c.attributes.push(s.attributes.clone());
            c.features_completed.push(s.features_completed);
            c.wall_clock_ms
                .push(i32::try_from(s.wall_clock_ms()).unwrap_or(i32::MAX));
        }
        c
    }
}
