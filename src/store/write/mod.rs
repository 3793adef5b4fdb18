//! Writes one OTLP batch in one transaction, as a pipeline of named stages:
//!
//! 1. [`lock_traces`] and [`resolve_sessions`]: serialise batches sharing a trace, and find the
//!    session each record belongs to; [`ownership::check`] refuses records naming a session
//!    another producer owns;
//! 2. [`ledger::claim_new_spans`]: the `otlp_spans` ledger decides which spans are new (and
//!    which known ones conflict with what is stored), and [`completion`] fills in what a second
//!    report of a known call adds;
//! 3. [`write_records`]: targets and sessions, then the detail rows of the new records;
//! 4. [`derive::recompute`]: attach earlier orphans, then recompute what the batch changed.
//!
//! Idempotency comes from the ledger: every span is first inserted there with ON CONFLICT DO
//! NOTHING, and only spans that were new are written further, so a retried batch, or the same
//! span sent to two replicas, changes nothing. Turns and tools that arrive before their session
//! are stored with no session and attached when the session (or any span naming it) arrives in
//! the same trace; session totals are then recomputed from the detail rows, so the result does
//! not depend on arrival order.

mod completion;
mod derive;
mod details;
mod ledger;
mod ownership;
mod resolution;
mod rollups;
mod sessions;
mod turns;

use self::resolution::{Resolution, lock_traces, resolve_sessions};
use super::{Error, Store, Tx, test_runs};
use crate::domain::{IngestReport, SessionRecord, SessionTarget, SpanBatch};

impl Store {
    pub async fn write_spans(&self, batch: &SpanBatch) -> Result<IngestReport, Error> {
        if batch.stored_span_count() == 0 {
            return Ok(IngestReport::default());
        }
        let mut tx = self.pool().begin().await?;
        lock_traces(&mut tx, batch).await?;
        let resolution = resolve_sessions(&mut tx, batch).await?;
        let ownership = ownership::check(&mut tx, batch, &resolution).await?;
        let targets = ownership.allowed_targets(batch);
        let mut report =
            ledger::claim_new_spans(&mut tx, batch, &resolution, ownership.conflicts).await?;
        let completed = completion::complete_known_turns(&mut tx, batch, &report).await?;
        report.completed_turn_sessions = completed.sessions;
        report.completed_cost = completed.cost_added;
        report.moved_tool_sessions =
            completion::complete_known_tools(&mut tx, batch, &report).await?;
        let completed =
            !report.completed_turn_sessions.is_empty() || !report.moved_tool_sessions.is_empty();
        if report.new_span_count() > 0 || completed {
            let new_sessions: Vec<&SessionRecord> = report
                .new_sessions
                .iter()
                .map(|&i| &batch.sessions[i])
                .collect();
            let records = Records {
                report: &report,
                resolution: &resolution,
                new_sessions: &new_sessions,
                targets: &targets,
            };
            write_records(&mut tx, batch, records).await?;
            derive::recompute(&mut tx, batch, &mut report, &resolution, &new_sessions).await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// What [`write_records`] writes of a batch.
struct Records<'a> {
    report: &'a IngestReport,
    resolution: &'a Resolution,
    new_sessions: &'a [&'a SessionRecord],
    /// The batch's session targets the ownership check allowed.
    targets: &'a [SessionTarget],
}

/// Targets and sessions first, then the details that reference them.
async fn write_records(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    records: Records<'_>,
) -> Result<(), Error> {
    let Records {
        report,
        resolution,
        new_sessions,
        targets,
    } = records;
    sessions::upsert_targets(tx, new_sessions).await?;
    sessions::ensure_placeholder_sessions(tx, batch, report, resolution).await?;
    sessions::upsert_sessions(tx, batch, new_sessions).await?;
    details::apply_reported(tx, new_sessions).await?;
    details::apply_session_targets(tx, targets).await?;
    // Tools first: a turn is inserted with the tool calls already stored.
    details::insert_tools(tx, batch, report, &resolution.tools).await?;
    turns::insert_turns(tx, batch, report, &resolution.turns).await?;
    details::insert_retries(tx, batch, report, &resolution.retries).await?;
    test_runs::insert(tx, batch, report, &resolution.test_runs).await?;
    Ok(())
}
