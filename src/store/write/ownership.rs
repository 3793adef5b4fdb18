//! Session ownership, checked before the ledger: a session belongs to the first producer that
//! names it (see [`crate::domain::Producers`]), so a record of another producer that names it,
//! by `gen_ai.conversation.id` or by being in its trace, is refused as a conflict instead of
//! overwriting the session span or adding its tokens. Refused records never reach the ledger,
//! so they are not stored, not counted as duplicates, and their identity stays free.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::resolution::Resolution;
use crate::domain::{Conflict, RecordRef, SessionTarget, SpanBatch};
use crate::store::{Error, Tx};

/// What the ownership check decided for a batch.
pub(super) struct Ownership {
    pub(super) conflicts: Vec<Conflict>,
    /// The sessions some record of the batch was refused for.
    refused_sessions: HashSet<Uuid>,
}

impl Ownership {
    /// The batch's session targets, without those for a session it was refused: a target named
    /// by another producer's resource must not become the session's.
    pub(super) fn allowed_targets(&self, batch: &SpanBatch) -> Vec<SessionTarget> {
        batch
            .session_targets
            .iter()
            .filter(|t| !self.refused_sessions.contains(&t.session_id))
            .cloned()
            .collect()
    }
}

/// The session a record belongs to, and whether it named it itself (else: through its trace).
fn session_of(
    batch: &SpanBatch,
    resolution: &Resolution,
    record: RecordRef,
) -> (Option<Uuid>, bool) {
    match record {
        RecordRef::Session(i) => (Some(batch.sessions[i].id), true),
        RecordRef::Turn(i) => (resolution.turns[i], batch.turns[i].session_id.is_some()),
        RecordRef::Tool(i) => (resolution.tools[i], batch.tools[i].session_id.is_some()),
        RecordRef::Retry(i) => (resolution.retries[i], batch.retries[i].session_id.is_some()),
        RecordRef::TestRun(i) => (
            resolution.test_runs[i],
            batch.test_runs[i].session_id.is_some(),
        ),
    }
}

/// Refuses every record of a producer that names a session another producer owns. Sessions
/// nobody owns yet are claimed by the first record of the batch that names them (sessions
/// first, then in batch order); the claim is stored with the session row
/// (`harness_sessions.producer`). The batch holds the advisory locks of its sessions and
/// traces, so two producers cannot claim one session at once.
pub(super) async fn check(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    resolution: &Resolution,
) -> Result<Ownership, Error> {
    let named: Vec<(RecordRef, &str, Uuid, bool)> = batch
        .record_refs()
        .into_iter()
        .filter_map(|record| {
            let producer = batch.producer_of(record)?;
            let (session, own) = session_of(batch, resolution, record);
            Some((record, producer, session?, own))
        })
        .collect();
    let mut owners: HashMap<Uuid, Option<String>> = HashMap::new();
    if !named.is_empty() {
        let ids: Vec<Uuid> = named
            .iter()
            .map(|&(_, _, s, _)| s)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for row in sqlx::query!(
            "SELECT id, producer FROM harness_sessions WHERE id = ANY($1)",
            &ids
        )
        .fetch_all(&mut **tx)
        .await?
        {
            owners.insert(row.id, row.producer);
        }
    }
    let mut ownership = Ownership {
        conflicts: Vec::new(),
        refused_sessions: HashSet::new(),
    };
    for (record, producer, session, own) in named {
        let owner = owners.entry(session).or_insert(None);
        match owner {
            Some(owner) if owner.as_str() != producer => {
                let reason = if own {
                    format!(
                        "session {session} belongs to another producer: a session is owned by \
                         the first service (service.name, service.instance.id) that sends it, \
                         and this record comes from {producer}"
                    )
                } else {
                    format!(
                        "its trace belongs to session {session} of another producer (a session \
                         is owned by the first service that sends it); this record comes from \
                         {producer}"
                    )
                };
                ownership.conflicts.push(Conflict { record, reason });
                ownership.refused_sessions.insert(session);
            }
            Some(_) => {}
            None => *owner = Some(producer.to_string()),
        }
    }
    Ok(ownership)
}
