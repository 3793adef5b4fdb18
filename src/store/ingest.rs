//! Writes one OTLP batch in one transaction. Idempotency comes from the `otlp_spans` ledger:
//! every span is first inserted there with ON CONFLICT DO NOTHING, and only spans that were new
//! are written further, so a retried batch, or the same span sent to two replicas, changes nothing.
//! Turns and tools that arrive before their session are stored with no session and attached when
//! the session (or any span naming it) arrives in the same trace; session totals are then
//! recomputed from the detail rows, so the result does not depend on arrival order.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::resolution::{Resolution, attach_orphans, lock_traces, resolve_sessions};
use super::{
    Error, Store, context, details, file_access, retries, rollups, test_runs, usage_daily,
};
use crate::domain::{IngestReport, SessionRecord, SpanBatch, SpanKey};

type Key = (Vec<u8>, Vec<u8>);

fn key(k: &SpanKey) -> Key {
    (k.trace_id.clone(), k.span_id.clone())
}

impl Store {
    pub async fn write_spans(&self, batch: &SpanBatch) -> Result<IngestReport, Error> {
        let mut report = IngestReport::default();
        if batch.stored_span_count() == 0 {
            return Ok(report);
        }
        let mut tx = self.pool.begin().await?;
        lock_traces(&mut tx, batch).await?;
        let resolution = resolve_sessions(&mut tx, batch).await?;

        // 1. The ledger decides which spans are new.
        let mut seen = HashSet::new();
        let (mut trace_ids, mut span_ids, mut parents, mut kinds, mut sessions) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut push =
            |k: &SpanKey, parent: Option<&Vec<u8>>, kind: &str, session: Option<Uuid>| {
                if !seen.insert(key(k)) {
                    return false;
                }
                trace_ids.push(k.trace_id.clone());
                span_ids.push(k.span_id.clone());
                parents.push(parent.cloned());
                kinds.push(kind.to_string());
                sessions.push(session);
                true
            };
        let mut candidates = Vec::new();
        for (i, s) in batch.sessions.iter().enumerate() {
            if push(&s.key, None, "session", Some(s.id)) {
                candidates.push(('s', i, key(&s.key)));
            }
        }
        for (i, t) in batch.turns.iter().enumerate() {
            if push(
                &t.key,
                t.parent_span_id.as_ref(),
                "turn",
                resolution.turns[i],
            ) {
                candidates.push(('t', i, key(&t.key)));
            }
        }
        for (i, t) in batch.tools.iter().enumerate() {
            if push(
                &t.key,
                t.parent_span_id.as_ref(),
                "tool",
                resolution.tools[i],
            ) {
                candidates.push(('c', i, key(&t.key)));
            }
        }
        for (i, r) in batch.retries.iter().enumerate() {
            if push(&r.key, None, "retry", resolution.retries[i]) {
                candidates.push(('r', i, key(&r.key)));
            }
        }
        for (i, r) in batch.test_runs.iter().enumerate() {
            if push(&r.key, None, "test_run", resolution.test_runs[i]) {
                candidates.push(('x', i, key(&r.key)));
            }
        }
        let fresh: HashSet<Key> = sqlx::query!(
            r#"INSERT INTO otlp_spans (trace_id, span_id, parent_span_id, kind, session_id)
               SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::bytea[], $4::text[], $5::uuid[])
               ON CONFLICT DO NOTHING
               RETURNING trace_id, span_id"#,
            &trace_ids,
            &span_ids,
            &parents as &[Option<Vec<u8>>],
            &kinds,
            &sessions as &[Option<Uuid>],
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.trace_id, r.span_id))
        .collect();
        for (kind, i, k) in candidates {
            if fresh.contains(&k) {
                match kind {
                    's' => report.new_sessions.push(i),
                    't' => report.new_turns.push(i),
                    'c' => report.new_tools.push(i),
                    'r' => report.new_retries.push(i),
                    _ => report.new_test_runs.push(i),
                }
            }
        }
        report.duplicates = batch.stored_span_count() - report.new_span_count();
        if report.new_span_count() == 0 {
            tx.commit().await?;
            return Ok(report);
        }

        // 2. Targets and sessions, then the details that reference them.
        let new_sessions: Vec<&SessionRecord> = report
            .new_sessions
            .iter()
            .map(|&i| &batch.sessions[i])
            .collect();
        upsert_targets(&mut tx, &new_sessions).await?;
        ensure_placeholder_sessions(&mut tx, batch, &report, &resolution).await?;
        upsert_sessions(&mut tx, &new_sessions).await?;
        details::apply_reported(&mut tx, &new_sessions).await?;
        details::apply_session_targets(&mut tx, &batch.session_targets).await?;
        // Tools first: a turn is inserted with the tool calls already stored.
        details::insert_tools(&mut tx, batch, &report, &resolution.tools).await?;
        details::insert_turns(&mut tx, batch, &report, &resolution.turns).await?;
        context::insert_turns(&mut tx, batch, &report, &resolution.turns).await?;
        details::insert_retries(&mut tx, batch, &report, &resolution.retries).await?;
        test_runs::insert(&mut tx, batch, &report, &resolution.test_runs).await?;

        // 3. Attach earlier orphans of these traces, then recompute what changed.
        let mut touched: HashSet<Uuid> = new_sessions.iter().map(|s| s.id).collect();
        touched.extend(report.new_turns.iter().filter_map(|&i| resolution.turns[i]));
        touched.extend(report.new_tools.iter().filter_map(|&i| resolution.tools[i]));
        touched.extend(
            report
                .new_retries
                .iter()
                .filter_map(|&i| resolution.retries[i]),
        );
        let attached = attach_orphans(&mut tx, &resolution.traces).await?;
        file_access::count_attached(&mut tx, &attached.tool_calls).await?;
        // Sessions whose calls are not counted into file_access_log yet wait for a target: it
        // can only have come with a session span, a session target or an attachment.
        let mut targeted: Vec<Uuid> = new_sessions.iter().map(|s| s.id).collect();
        targeted.extend(batch.session_targets.iter().map(|t| t.session_id));
        targeted.extend(attached.sessions.iter().copied());
        targeted.sort_unstable();
        targeted.dedup();
        touched.extend(attached.sessions);
        let mut tested: Vec<Uuid> = report
            .new_test_runs
            .iter()
            .filter_map(|&i| resolution.test_runs[i])
            .collect();
        tested.extend(test_runs::attach_orphans(&mut tx, &resolution.traces).await?);
        touched.extend(tested.iter().copied());
        let touched: Vec<Uuid> = touched.into_iter().collect();
        let changed = rollups::ChangedTurns::of(batch, &report, attached.traces);
        rollups::recompute_sessions(&mut tx, &touched, &changed).await?;
        report.sessions_hit_max_retries = retries::recompute(&mut tx, &touched).await?;
        file_access::count_new_targets(&mut tx, &targeted).await?;
        context::recompute(&mut tx, &touched).await?;
        test_runs::recompute(&mut tx, &tested).await?;
        let targets = test_runs::targets(&mut tx, &tested).await?;
        report.test_run_targets = report
            .new_test_runs
            .iter()
            .map(|&i| resolution.test_runs[i].and_then(|s| targets.get(&s).cloned()))
            .collect();
        report.test_targets = targets.values().map(|t| t.id).collect();
        usage_daily::add(&mut tx, batch, &report).await?;

        tx.commit().await?;
        Ok(report)
    }
}

use super::Tx;

async fn upsert_targets(tx: &mut Tx<'_>, sessions: &[&SessionRecord]) -> Result<(), Error> {
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
async fn ensure_placeholder_sessions(
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

async fn upsert_sessions(tx: &mut Tx<'_>, sessions: &[&SessionRecord]) -> Result<(), Error> {
    // One row per id: the same session named by two spans of one batch keeps the later-ending one.
    let mut by_id: HashMap<Uuid, &SessionRecord> = HashMap::new();
    for s in sessions {
        let slot = by_id.entry(s.id).or_insert(s);
        if s.ended_at > slot.ended_at {
            *slot = s;
        }
    }
    let rows: Vec<&SessionRecord> = by_id.into_values().collect();
    if rows.is_empty() {
        return Ok(());
    }
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
        &rows.iter().map(|s| s.id).collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|s| s.external_id.clone())
            .collect::<Vec<_>>(),
        &rows.iter().map(|s| s.target_id).collect::<Vec<_>>() as &[Option<Uuid>],
        &rows
            .iter()
            .map(|s| s.feature_id.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &rows
            .iter()
            .map(|s| s.status.as_str().to_string())
            .collect::<Vec<_>>(),
        &rows.iter().map(|s| s.started_at).collect::<Vec<_>>(),
        &rows.iter().map(|s| s.ended_at).collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|s| s.key.trace_id.clone())
            .collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|s| s.key.span_id.clone())
            .collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|s| s.status_message.clone())
            .collect::<Vec<_>>() as &[Option<String>],
        &rows
            .iter()
            .map(|s| s.attributes.clone())
            .collect::<Vec<_>>(),
        &rows
            .iter()
            .map(|s| s.features_completed)
            .collect::<Vec<_>>() as &[Option<i32>],
        &rows
            .iter()
            .map(|s| i32::try_from(s.wall_clock_ms()).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
