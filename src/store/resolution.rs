//! Which session each record of a batch belongs to: its own session id, else the session of its
//! trace (a session span in the batch, or one already stored in the `otlp_spans` ledger).

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::Error;
use crate::domain::{SpanBatch, SpanKey};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

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
