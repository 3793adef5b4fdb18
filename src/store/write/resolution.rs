//! Which session each record of a batch belongs to: its own session id, else the session of its
//! trace (a session span in the batch, or one already stored in the `otlp_spans` ledger).

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::domain::{SpanBatch, SpanKey};
use crate::store::{Error, Tx};

/// The session each span of the batch belongs to, where it can be known.
pub(super) struct Resolution {
    pub(super) turns: Vec<Option<Uuid>>,
    pub(super) tools: Vec<Option<Uuid>>,
    pub(super) retries: Vec<Option<Uuid>>,
    pub(super) test_runs: Vec<Option<Uuid>>,
    /// trace → session pairs learnt from this batch, used to attach earlier orphans.
    pub(super) traces: HashMap<Vec<u8>, Uuid>,
}

pub(super) async fn resolve_sessions(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
) -> Result<Resolution, Error> {
    // Session spans first: they are the authority for their trace.
    let mut traces: HashMap<Vec<u8>, Uuid> = HashMap::new();
    for s in &batch.sessions {
        traces.insert(s.key.trace_id.clone(), s.id);
    }
    let named = batch
        .turns
        .iter()
        .map(|t| (&t.key, t.session_id))
        .chain(batch.tools.iter().map(|t| (&t.key, t.session_id)))
        .chain(batch.retries.iter().map(|r| (&r.key, r.session_id)))
        .chain(batch.test_runs.iter().map(|r| (&r.key, r.session_id)));
    for (k, session) in named.clone() {
        if let Some(id) = session {
            traces.entry(k.trace_id.clone()).or_insert(id);
        }
    }
    let unknown: Vec<Vec<u8>> = named
        .filter(|(k, s)| s.is_none() && !traces.contains_key(&k.trace_id))
        .map(|(k, _)| k.trace_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if !unknown.is_empty() {
        let rows = sqlx::query!(
            r#"SELECT DISTINCT ON (trace_id) trace_id, session_id AS "session_id!"
               FROM otlp_spans
               WHERE trace_id = ANY($1) AND session_id IS NOT NULL
               ORDER BY trace_id, (kind = 'session') DESC"#,
            &unknown
        )
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            traces.insert(row.trace_id, row.session_id);
        }
    }
    let lookup = |k: &SpanKey, own: Option<Uuid>| own.or_else(|| traces.get(&k.trace_id).copied());
    Ok(Resolution {
        turns: batch
            .turns
            .iter()
            .map(|t| lookup(&t.key, t.session_id))
            .collect(),
        tools: batch
            .tools
            .iter()
            .map(|t| lookup(&t.key, t.session_id))
            .collect(),
        retries: batch
            .retries
            .iter()
            .map(|r| lookup(&r.key, r.session_id))
            .collect(),
        test_runs: batch
            .test_runs
            .iter()
            .map(|r| lookup(&r.key, r.session_id))
            .collect(),
        traces,
    })
}

/// Serialises batches that share a trace or a session, so that two replicas (or two requests of
/// one) never resolve the same trace at once: each would miss the other's uncommitted session
/// span or orphan, and the orphan would stay unattached. Transaction-scoped advisory locks, taken
/// in key order so batches never deadlock.
///
/// The number of locks one transaction holds is bounded: PostgreSQL keeps them in a shared table
/// of `max_locks_per_transaction × max_connections` entries, and a request with 20,000 traces
/// used to exhaust it (SQLSTATE 53200, which looks transient and so was retried for ever).
/// Traces and sessions hash into [`LOCK_SLOTS`] slots; a batch that needs more than
/// [`MAX_SLOT_LOCKS`] of them takes the one batch-wide lock exclusively instead, while every
/// other batch holds it shared first.
pub(super) async fn lock_traces(tx: &mut Tx<'_>, batch: &SpanBatch) -> Result<(), Error> {
    let slots = lock_slots(batch);
    if slots.len() > MAX_SLOT_LOCKS {
        sqlx::query!(
            "SELECT pg_advisory_xact_lock($1, $2)",
            INGEST_LOCK_CLASS,
            BATCH_WIDE_LOCK
        )
        .fetch_all(&mut **tx)
        .await?;
        return Ok(());
    }
    // unnest yields the array in order, and the locks are taken row by row as it does.
    sqlx::query!(
        r#"SELECT pg_advisory_xact_lock_shared($1, $2),
                  (SELECT count(pg_advisory_xact_lock($1, k)) FROM unnest($3::int[]) AS k)"#,
        INGEST_LOCK_CLASS,
        BATCH_WIDE_LOCK,
        &slots
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(())
}

/// Advisory-lock class of ingest's slots (retention's jobs use another, see `retention.rs`).
const INGEST_LOCK_CLASS: i32 = 0x0ace;
/// Slots the trace and session ids hash into (first 8 bytes of the random ids, modulo).
const LOCK_SLOTS: i64 = 4096;
/// Most slot locks one batch takes before it locks batch-wide instead.
const MAX_SLOT_LOCKS: usize = 64;
/// The batch-wide lock's key, outside the slots' range.
const BATCH_WIDE_LOCK: i32 = -1;

fn lock_slots(batch: &SpanBatch) -> Vec<i32> {
    let slot = |bytes: &[u8]| {
        let mut key = [0u8; 8];
        let n = bytes.len().min(8);
        key[..n].copy_from_slice(&bytes[..n]);
        i64::from_be_bytes(key).rem_euclid(LOCK_SLOTS) as i32
    };
    batch
        .sessions
        .iter()
        .map(|s| (&s.key, Some(s.id)))
        .chain(batch.turns.iter().map(|t| (&t.key, t.session_id)))
        .chain(batch.tools.iter().map(|t| (&t.key, t.session_id)))
        .chain(batch.retries.iter().map(|r| (&r.key, r.session_id)))
        .chain(batch.test_runs.iter().map(|r| (&r.key, r.session_id)))
        .flat_map(|(k, session)| [Some(slot(&k.trace_id)), session.map(|s| slot(s.as_bytes()))])
        .flatten()
        .collect::<std::collections::BTreeSet<i32>>()
        .into_iter()
        .collect()
}

/// What [`attach_orphans`] attached.
pub(super) struct Attached {
    /// The sessions that gained rows.
    pub(super) sessions: Vec<Uuid>,
    /// The traces whose turns or tools were attached (their turns' `tool_calls` must be rebuilt).
    pub(super) traces: Vec<Vec<u8>>,
    /// The tool calls attached (for `file_access_log`).
    pub(super) tool_calls: Vec<Uuid>,
}

/// Gives stored turns and tools of these traces that had no session their session now, except
/// those another producer than the session's owner sent (see [`super::ownership`]): being in
/// a session's trace does not make a record of someone else part of it.
pub(super) async fn attach_orphans(
    tx: &mut Tx<'_>,
    traces: &HashMap<Vec<u8>, Uuid>,
) -> Result<Attached, Error> {
    let (trace_ids, session_ids): (Vec<Vec<u8>>, Vec<Uuid>) =
        traces.iter().map(|(t, s)| (t.clone(), *s)).unzip();
    let mut touched = Vec::new();
    let mut attached = HashSet::new();
    let mut tool_calls = Vec::new();
    for row in sqlx::query!(
        r#"UPDATE session_turns t SET session_id = m.session_id
           FROM UNNEST($1::bytea[], $2::uuid[]) AS m(trace_id, session_id)
           WHERE t.trace_id = m.trace_id AND t.session_id IS NULL
             AND NOT EXISTS (SELECT 1 FROM otlp_spans o JOIN harness_sessions h ON h.id = m.session_id
                             WHERE o.trace_id = t.trace_id AND o.span_id = t.span_id
                               AND o.producer <> h.producer)
           RETURNING t.session_id AS "session_id!", t.trace_id"#,
        &trace_ids,
        &session_ids,
    )
    .fetch_all(&mut **tx)
    .await?
    {
        touched.push(row.session_id);
        attached.insert(row.trace_id);
    }
    for row in sqlx::query!(
        r#"UPDATE session_tool_calls t SET session_id = m.session_id
           FROM UNNEST($1::bytea[], $2::uuid[]) AS m(trace_id, session_id)
           WHERE t.trace_id = m.trace_id AND t.session_id IS NULL
             AND NOT EXISTS (SELECT 1 FROM otlp_spans o JOIN harness_sessions h ON h.id = m.session_id
                             WHERE o.trace_id = t.trace_id AND o.span_id = t.span_id
                               AND o.producer <> h.producer)
           RETURNING t.id, t.session_id AS "session_id!", t.trace_id"#,
        &trace_ids,
        &session_ids,
    )
    .fetch_all(&mut **tx)
    .await?
    {
        touched.push(row.session_id);
        attached.insert(row.trace_id);
        tool_calls.push(row.id);
    }
    touched.extend(
        sqlx::query_scalar!(
            r#"UPDATE session_retries r SET session_id = m.session_id
               FROM UNNEST($1::bytea[], $2::uuid[]) AS m(trace_id, session_id)
               WHERE r.trace_id = m.trace_id AND r.session_id IS NULL
                 AND NOT EXISTS (SELECT 1 FROM otlp_spans o JOIN harness_sessions h ON h.id = m.session_id
                                     WHERE o.trace_id = r.trace_id AND o.span_id = r.span_id
                                       AND o.producer <> h.producer)
               RETURNING r.session_id AS "session_id!""#,
            &trace_ids,
            &session_ids,
        )
        .fetch_all(&mut **tx)
        .await?,
    );
    sqlx::query!(
        r#"UPDATE otlp_spans o SET session_id = m.session_id
           FROM UNNEST($1::bytea[], $2::uuid[]) AS m(trace_id, session_id)
           WHERE o.trace_id = m.trace_id AND o.trace_id = ANY($1) AND o.session_id IS NULL
             AND NOT EXISTS (SELECT 1 FROM harness_sessions h
                             WHERE h.id = m.session_id AND o.producer <> h.producer)"#,
        &trace_ids,
        &session_ids,
    )
    .execute(&mut **tx)
    .await?;
    Ok(Attached {
        sessions: touched,
        traces: attached.into_iter().collect(),
        tool_calls,
    })
}
