//! The `otlp_spans` ledger: every span of a batch is offered to it once, and the spans it had not
//! seen are the ones the rest of the pipeline writes. A span repeated within the batch is offered
//! once (its first occurrence); records refused by the ownership check are not offered.
//!
//! A span it had seen is a plain duplicate (a retry) when the same producer sent the same
//! content, or the second report of a call when it came through the other channel (Claude
//! Code's event and beta span, completed in [`super::completion`]). Anything else is a
//! conflict: the first report is kept and the later one is answered with the reason, never
//! dropped in silence. Rows without a producer, channel or digest (stored before these existed,
//! or sent without a producer) are not compared on that point.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::resolution::Resolution;
use crate::domain::{Conflict, IngestReport, RecordRef, SpanBatch, SpanKey, SpanKind};
use crate::store::{Error, Tx};

type Key = (Vec<u8>, Vec<u8>);

fn key(k: &SpanKey) -> Key {
    (k.trace_id.clone(), k.span_id.clone())
}

/// The ledger rows one batch offers, as UNNEST columns, and which record each one stands for.
#[derive(Default)]
struct Offer {
    seen: HashSet<Key>,
    trace_ids: Vec<Vec<u8>>,
    span_ids: Vec<Vec<u8>>,
    parents: Vec<Option<Vec<u8>>>,
    kinds: Vec<String>,
    sessions: Vec<Option<Uuid>>,
    producers: Vec<Option<String>>,
    digests: Vec<Option<Uuid>>,
    /// (kind, index in the batch's list of that kind, key), in offer order.
    records: Vec<(SpanKind, usize, Key)>,
}

impl Offer {
    fn push(
        &mut self,
        (batch, refused): (&SpanBatch, &HashSet<RecordRef>),
        (kind, index): (SpanKind, usize),
        k: &SpanKey,
        parent: Option<&Vec<u8>>,
        session: Option<Uuid>,
    ) {
        let record = record_ref(kind, index);
        if refused.contains(&record) || !self.seen.insert(key(k)) {
            return;
        }
        self.producers
            .push(batch.producer_of(record).map(str::to_string));
        self.digests.push(batch.digest(record));
        self.trace_ids.push(k.trace_id.clone());
        self.span_ids.push(k.span_id.clone());
        self.parents.push(parent.cloned());
        self.kinds.push(kind.as_str().to_string());
        self.sessions.push(session);
        self.records.push((kind, index, key(k)));
    }

    fn of(batch: &SpanBatch, resolution: &Resolution, refused: &HashSet<RecordRef>) -> Self {
        let mut offer = Offer::default();
        let b = (batch, refused);
        for (i, s) in batch.sessions.iter().enumerate() {
            offer.push(b, (SpanKind::Session, i), &s.key, None, Some(s.id));
        }
        for (i, t) in batch.turns.iter().enumerate() {
            let parent = t.parent_span_id.as_ref();
            offer.push(b, (SpanKind::Turn, i), &t.key, parent, resolution.turns[i]);
        }
        for (i, t) in batch.tools.iter().enumerate() {
            let parent = t.parent_span_id.as_ref();
            offer.push(b, (SpanKind::Tool, i), &t.key, parent, resolution.tools[i]);
        }
        for (i, r) in batch.retries.iter().enumerate() {
            offer.push(b, (SpanKind::Retry, i), &r.key, None, resolution.retries[i]);
        }
        for (i, r) in batch.test_runs.iter().enumerate() {
            let session = resolution.test_runs[i];
            offer.push(b, (SpanKind::TestRun, i), &r.key, None, session);
        }
        offer
    }
}

fn record_ref(kind: SpanKind, index: usize) -> RecordRef {
    match kind {
        SpanKind::Session => RecordRef::Session(index),
        SpanKind::Turn => RecordRef::Turn(index),
        SpanKind::Tool => RecordRef::Tool(index),
        SpanKind::Retry => RecordRef::Retry(index),
        SpanKind::TestRun => RecordRef::TestRun(index),
    }
}

/// The list of the report that holds the new records of `kind`.
fn new_of(report: &mut IngestReport, kind: SpanKind) -> &mut Vec<usize> {
    match kind {
        SpanKind::Session => &mut report.new_sessions,
        SpanKind::Turn => &mut report.new_turns,
        SpanKind::Tool => &mut report.new_tools,
        SpanKind::Retry => &mut report.new_retries,
        SpanKind::TestRun => &mut report.new_test_runs,
    }
}

/// Inserts the batch's spans into the ledger and reports which records were new, and which
/// known ones conflict with what is stored. `conflicts` are the records the ownership check
/// refused: they are not offered, and are reported with the ledger's own.
pub(super) async fn claim_new_spans(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    resolution: &Resolution,
    conflicts: Vec<Conflict>,
) -> Result<IngestReport, Error> {
    let refused: HashSet<RecordRef> = conflicts.iter().map(|c| c.record).collect();
    let offer = Offer::of(batch, resolution, &refused);
    let fresh: HashSet<Key> = sqlx::query!(
        r#"INSERT INTO otlp_spans (trace_id, span_id, parent_span_id, kind, session_id, producer,
               channel, digest)
           SELECT u.trace_id, u.span_id, u.parent, u.kind, u.session, u.producer, $7::text,
                  u.digest
           FROM UNNEST($1::bytea[], $2::bytea[], $3::bytea[], $4::text[], $5::uuid[],
                       $6::text[], $8::uuid[])
             AS u(trace_id, span_id, parent, kind, session, producer, digest)
           ON CONFLICT DO NOTHING
           RETURNING trace_id, span_id"#,
        &offer.trace_ids,
        &offer.span_ids,
        &offer.parents as &[Option<Vec<u8>>],
        &offer.kinds,
        &offer.sessions as &[Option<Uuid>],
        &offer.producers as &[Option<String>],
        batch.channel.as_deref(),
        &offer.digests as &[Option<Uuid>],
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| (r.trace_id, r.span_id))
    .collect();
    let mut report = IngestReport {
        conflicts,
        ..IngestReport::default()
    };
    let known = known_spans(tx, &offer, &fresh).await?;
    for (n, (kind, i, k)) in offer.records.iter().enumerate() {
        if fresh.contains(k) {
            new_of(&mut report, *kind).push(*i);
        } else if let Some(stored) = known.get(k) {
            let record = record_ref(*kind, *i);
            let sent = (offer.producers[n].as_deref(), offer.digests[n]);
            if let Some(reason) = stored.conflict(sent, batch.channel.as_deref()) {
                let reason = format!("{} {reason}", batch.describe(record));
                report.conflicts.push(Conflict { record, reason });
            }
        }
    }
    report.duplicates =
        batch.stored_span_count() - report.new_span_count() - report.conflicts.len();
    Ok(report)
}

/// What the ledger holds about a span that was offered again.
struct Known {
    producer: Option<String>,
    channel: Option<String>,
    digest: Option<Uuid>,
}

impl Known {
    /// Why a span sent again with this (producer, digest) through `channel` conflicts with the
    /// stored one, or None for a retry or the second report of a call.
    fn conflict(
        &self,
        (producer, digest): (Option<&str>, Option<Uuid>),
        channel: Option<&str>,
    ) -> Option<&'static str> {
        if let (Some(stored), Some(sent)) = (self.producer.as_deref(), producer)
            && stored != sent
        {
            return Some(
                "is already stored from another producer; the first one is kept (span \
                 identities must be unique to their sender)",
            );
        }
        let same_channel =
            matches!((self.channel.as_deref(), channel), (Some(a), Some(b)) if a == b);
        match (self.digest, digest) {
            (Some(stored), Some(sent)) if same_channel && stored != sent => Some(
                "is already stored with different content; the first one is kept (a resent \
                 span must be identical)",
            ),
            _ => None,
        }
    }
}

/// The ledger rows of the offered spans that were not new.
async fn known_spans(
    tx: &mut Tx<'_>,
    offer: &Offer,
    fresh: &HashSet<Key>,
) -> Result<HashMap<Key, Known>, Error> {
    let (trace_ids, span_ids): (Vec<Vec<u8>>, Vec<Vec<u8>>) = offer
        .records
        .iter()
        .map(|(_, _, k)| k)
        .filter(|k| !fresh.contains(*k))
        .cloned()
        .unzip();
    if trace_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"SELECT o.trace_id, o.span_id, o.producer, o.channel, o.digest
           FROM otlp_spans o
           JOIN UNNEST($1::bytea[], $2::bytea[]) AS k(trace_id, span_id)
             ON o.trace_id = k.trace_id AND o.span_id = k.span_id"#,
        &trace_ids,
        &span_ids,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let known = Known {
                producer: r.producer,
                channel: r.channel,
                digest: r.digest,
            };
            ((r.trace_id, r.span_id), known)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(producer: Option<&str>, channel: Option<&str>, digest: u128) -> Known {
        Known {
            producer: producer.map(str::to_string),
            channel: channel.map(str::to_string),
            digest: (digest != 0).then(|| Uuid::from_u128(digest)),
        }
    }

    #[test]
    fn only_another_producer_or_other_content_through_one_channel_conflicts() {
        let d = |n| Some(Uuid::from_u128(n));
        let stored = known(Some("a"), Some("event"), 1);
        assert_eq!(
            stored.conflict((Some("a"), d(1)), Some("event")),
            None,
            "a retry"
        );
        assert_eq!(
            stored.conflict((Some("a"), d(2)), Some("span")),
            None,
            "second report"
        );
        assert!(stored.conflict((Some("b"), d(1)), Some("event")).is_some());
        assert!(stored.conflict((Some("a"), d(2)), Some("event")).is_some());
        assert_eq!(
            stored.conflict((None, d(2)), Some("span")),
            None,
            "unscoped sender"
        );
        let legacy = known(None, None, 0);
        assert_eq!(legacy.conflict((Some("b"), d(2)), Some("event")), None);
    }
}
