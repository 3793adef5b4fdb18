//! The session rows a batch writes before its details: the targets its session spans name, a
//! placeholder for every session that detail records name before its span arrived, and the
//! session spans themselves.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::resolution::Resolution;
use crate::domain::{IngestReport, SessionRecord, SpanBatch};
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
    let mut first: HashMap<Uuid, (String, DateTime<Utc>)> = HashMap::new();
    let mut note = |id: Option<Uuid>, external: &Option<String>, at: DateTime<Utc>| {
        if let Some(id) = id {
            let entry = first
                .entry(id)
                .or_insert_with(|| (external.clone().unwrap_or_else(|| id.to_string()), at));
            entry.1 = entry.1.min(at);
        }
    };
    for &i in &report.new_turns {
        let t = &batch.turns[i];
        note(resolution.turns[i], &t.session_external_id, t.started_at);
    }
    for &i in &report.new_tools {
        let t = &batch.tools[i];
        note(resolution.tools[i], &t.session_external_id, t.started_at);
    }
    for &i in &report.new_retries {
        let r = &batch.retries[i];
        note(resolution.retries[i], &r.session_external_id, r.at);
    }
    for &i in &report.new_test_runs {
        let r = &batch.test_runs[i];
        note(
            resolution.test_runs[i],
            &r.session_external_id,
            r.started_at,
        );
    }
    let mut ids = Vec::with_capacity(first.len());
    let mut externals = Vec::with_capacity(first.len());
    let mut starts = Vec::with_capacity(first.len());
    for (id, (external, start)) in first {
        ids.push(id);
        externals.push(external);
        starts.push(start);
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO harness_sessions (id, external_id, started_at)
           SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[])
           ON CONFLICT (id) DO NOTHING"#,
        &ids,
        &externals,
        &starts,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn upsert_sessions(
    tx: &mut Tx<'_>,
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
    let c = SessionColumns::of(by_id.into_values());
    sqlx::query!(
        r#"INSERT INTO harness_sessions (id, external_id, target_id, feature_id, status, started_at,
               ended_at, trace_id, span_id, status_message, attributes, features_completed,
               wall_clock_ms)
           SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[],
               $6::timestamptz[], $7::timestamptz[], $8::bytea[], $9::bytea[], $10::text[],
               $11::jsonb[], $12::int[], $13::int[])
           ON CONFLICT (id) DO UPDATE SET
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
}

impl SessionColumns {
    fn of<'a>(rows: impl Iterator<Item = &'a SessionRecord>) -> Self {
        let mut c = Self::default();
        for s in rows {
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
