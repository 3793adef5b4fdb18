//! The `otlp_spans` ledger: every span of a batch is offered to it once, and the spans it had not
//! seen are the ones the rest of the pipeline writes. A span repeated within the batch is offered
//! once (its first occurrence).

use std::collections::HashSet;

use uuid::Uuid;

use super::resolution::Resolution;
use crate::domain::{IngestReport, SpanBatch, SpanKey, SpanKind};
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
    /// (kind, index in the batch's list of that kind, key), in offer order.
    records: Vec<(SpanKind, usize, Key)>,
}

impl Offer {
    fn push(
        &mut self,
        kind: SpanKind,
        index: usize,
        k: &SpanKey,
        parent: Option<&Vec<u8>>,
        session: Option<Uuid>,
    ) {
        if !self.seen.insert(key(k)) {
            return;
        }
        self.trace_ids.push(k.trace_id.clone());
        self.span_ids.push(k.span_id.clone());
        self.parents.push(parent.cloned());
        self.kinds.push(kind.as_str().to_string());
        self.sessions.push(session);
        self.records.push((kind, index, key(k)));
    }

    fn of(batch: &SpanBatch, resolution: &Resolution) -> Self {
        let mut offer = Offer::default();
        for (i, s) in batch.sessions.iter().enumerate() {
            offer.push(SpanKind::Session, i, &s.key, None, Some(s.id));
        }
        for (i, t) in batch.turns.iter().enumerate() {
            let parent = t.parent_span_id.as_ref();
            offer.push(SpanKind::Turn, i, &t.key, parent, resolution.turns[i]);
        }
        for (i, t) in batch.tools.iter().enumerate() {
            let parent = t.parent_span_id.as_ref();
            offer.push(SpanKind::Tool, i, &t.key, parent, resolution.tools[i]);
        }
        for (i, r) in batch.retries.iter().enumerate() {
            offer.push(SpanKind::Retry, i, &r.key, None, resolution.retries[i]);
        }
        for (i, r) in batch.test_runs.iter().enumerate() {
            offer.push(SpanKind::TestRun, i, &r.key, None, resolution.test_runs[i]);
        }
        offer
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

/// Inserts the batch's spans into the ledger and reports which records were new.
pub(super) async fn claim_new_spans(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    resolution: &Resolution,
) -> Result<IngestReport, Error> {
    let offer = Offer::of(batch, resolution);
    let fresh: HashSet<Key> = sqlx::query!(
        r#"INSERT INTO otlp_spans (trace_id, span_id, parent_span_id, kind, session_id)
           SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::bytea[], $4::text[], $5::uuid[])
           ON CONFLICT DO NOTHING
           RETURNING trace_id, span_id"#,
        &offer.trace_ids,
        &offer.span_ids,
        &offer.parents as &[Option<Vec<u8>>],
        &offer.kinds,
        &offer.sessions as &[Option<Uuid>],
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| (r.trace_id, r.span_id))
    .collect();
    let mut report = IngestReport::default();
    for (kind, i, k) in offer.records {
        if fresh.contains(&k) {
            new_of(&mut report, kind).push(i);
        }
    }
    report.duplicates = batch.stored_span_count() - report.new_span_count();
    Ok(report)
}
