//! The last stage of a batch: earlier orphans of its traces are attached to their session, then
//! everything derived from the detail rows of the sessions it touched is recomputed (turn
//! numbers and tool calls, totals, retry columns, file access counts, context, test figures,
//! daily usage). Recomputing rather than incrementing keeps the result independent of the order
//! spans arrive in.

use std::collections::HashSet;

use uuid::Uuid;

use super::resolution::{Resolution, attach_orphans};
use super::rollups;
use crate::domain::{IngestReport, SessionRecord, SpanBatch};
use crate::store::{Error, Tx, context, file_access, retries, test_runs, usage_daily};

pub(super) async fn recompute(
    tx: &mut Tx<'_>,
    batch: &SpanBatch,
    report: &mut IngestReport,
    resolution: &Resolution,
    new_sessions: &[&SessionRecord],
) -> Result<(), Error> {
    let mut touched = sessions_with_new_records(report, resolution, new_sessions);
    let attached = attach_orphans(tx, &resolution.traces).await?;
    file_access::count_attached(tx, &attached.tool_calls).await?;
    let targeted = sessions_that_may_gain_a_target(batch, new_sessions, &attached.sessions);
    touched.extend(attached.sessions);
    let mut tested: Vec<Uuid> = report
        .new_test_runs
        .iter()
        .filter_map(|&i| resolution.test_runs[i])
        .collect();
    tested.extend(test_runs::attach_orphans(tx, &resolution.traces).await?);
    touched.extend(tested.iter().copied());
    let touched: Vec<Uuid> = touched.into_iter().collect();

    let changed = rollups::ChangedTurns::of(batch, report, attached.traces);
    rollups::recompute_sessions(tx, &touched, &changed).await?;
    rollups::rebuild_all_tool_calls(tx, &report.moved_tool_sessions).await?;
    report.sessions_hit_max_retries = retries::recompute(tx, &touched).await?;
    file_access::count_new_targets(tx, &targeted).await?;
    context::recompute(tx, &touched).await?;
    recompute_tests(tx, report, resolution, &tested).await?;
    usage_daily::add(tx, batch, report).await?;
    Ok(())
}

/// The sessions that gained a session span, turn, tool call or retry in this batch.
fn sessions_with_new_records(
    report: &IngestReport,
    resolution: &Resolution,
    new_sessions: &[&SessionRecord],
) -> HashSet<Uuid> {
    let mut touched: HashSet<Uuid> = new_sessions.iter().map(|s| s.id).collect();
    touched.extend(report.completed_turn_sessions.iter().copied());
    touched.extend(report.moved_tool_sessions.iter().copied());
    touched.extend(report.new_turns.iter().filter_map(|&i| resolution.turns[i]));
    touched.extend(report.new_tools.iter().filter_map(|&i| resolution.tools[i]));
    touched.extend(
        report
            .new_retries
            .iter()
            .filter_map(|&i| resolution.retries[i]),
    );
    touched
}

/// Sessions whose calls are not counted into file_access_log yet wait for a target: it can only
/// have come with a session span, a session target or an attachment.
fn sessions_that_may_gain_a_target(
    batch: &SpanBatch,
    new_sessions: &[&SessionRecord],
    attached: &[Uuid],
) -> Vec<Uuid> {
    let mut targeted: Vec<Uuid> = new_sessions.iter().map(|s| s.id).collect();
    targeted.extend(batch.session_targets.iter().map(|t| t.session_id));
    targeted.extend(attached.iter().copied());
    targeted.sort_unstable();
    targeted.dedup();
    targeted
}

/// The test figures of the sessions with new or newly attached test runs, and the targets the
/// report names for them.
async fn recompute_tests(
    tx: &mut Tx<'_>,
    report: &mut IngestReport,
    resolution: &Resolution,
    tested: &[Uuid],
) -> Result<(), Error> {
    test_runs::recompute(tx, tested).await?;
    let targets = test_runs::targets(tx, tested).await?;
    report.test_run_targets = report
        .new_test_runs
        .iter()
        .map(|&i| resolution.test_runs[i].and_then(|s| targets.get(&s).cloned()))
        .collect();
    report.test_targets = targets.values().map(|t| t.id).collect();
    Ok(())
}
