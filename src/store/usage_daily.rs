//! `turn_usage_daily`: token usage per UTC day and model, added to in the ingest transaction from
//! the batch's new turns (a turn is new exactly once, thanks to the ledger, so adding is exact).
//! The token-usage queries read whole days here and the partial first day of their window from
//! `session_turns` ([`first_full_day`]); see docs/scaling.md.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::Error;
use crate::domain::{IngestReport, SpanBatch};

use super::Tx;

/// Rows of one (day, model) that concurrent batches spread over.
const SHARDS: u8 = 8;

/// Adds the batch's new turns. Run last in the transaction, so the row locks it takes are held
/// briefly, and in (day, model, shard) order, so two batches never wait on each other in a cycle.
pub async fn add(tx: &mut Tx<'_>, batch: &SpanBatch, report: &IngestReport) -> Result<(), Error> {
    let Some(&first) = report.new_turns.first() else {
        return Ok(());
    };
    let shard = i16::from(batch.turns[first].key.span_id.last().copied().unwrap_or(0) % SHARDS);
    let ids: Vec<uuid::Uuid> = report
        .new_turns
        .iter()
        .map(|&i| batch.turns[i].key.local_row_id())
        .collect();
    sqlx::query!(
        r#"INSERT INTO turn_usage_daily AS d (day, model, shard, input_tokens, output_tokens,
               cache_read_tokens, cache_write_tokens, requests, cost_usd, utilization_sum,
               utilization_n)
           SELECT (started_at AT TIME ZONE 'UTC')::date, model, $2,
                  COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0),
                  sum(cache_read_tokens), sum(cache_write_tokens), count(*), sum(cost_usd),
                  COALESCE(sum((input_tokens + cache_read_tokens + cache_write_tokens)::float8
                               / NULLIF(context_window, 0)), 0),
                  count(NULLIF(context_window, 0))
           FROM session_turns WHERE id = ANY($1)
           GROUP BY 1, 2
           ORDER BY 1, 2
           ON CONFLICT (day, model, shard) DO UPDATE SET
               input_tokens = d.input_tokens + EXCLUDED.input_tokens,
               output_tokens = d.output_tokens + EXCLUDED.output_tokens,
               cache_read_tokens = d.cache_read_tokens + EXCLUDED.cache_read_tokens,
               cache_write_tokens = d.cache_write_tokens + EXCLUDED.cache_write_tokens,
               requests = d.requests + EXCLUDED.requests,
               cost_usd = d.cost_usd + EXCLUDED.cost_usd,
               utilization_sum = d.utilization_sum + EXCLUDED.utilization_sum,
               utilization_n = d.utilization_n + EXCLUDED.utilization_n"#,
        &ids,
        shard,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Where a window starting at `since` switches from turns to the rollup: the first UTC midnight
/// at or after `since` (as a time, for the turns, and as a day, for the rollup).
pub fn first_full_day(since: DateTime<Utc>) -> (DateTime<Utc>, NaiveDate) {
    let day = since.date_naive();
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    if midnight == since {
        (since, day)
    } else {
        (midnight + Duration::days(1), day + Duration::days(1))
    }
}
