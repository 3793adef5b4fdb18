//! Stores what can be stored of a batch that PostgreSQL refused for its content (a value a column
//! or a sum cannot hold, a string it cannot index, ...): the batch is bisected, each half in a
//! transaction of its own, until the records that fail alone are found. Those are reported back
//! (OTLP partial success, the REST answer, the spool's `failed/` directory); every other record
//! is stored. Halves may be written in any order and more than once because ingest is
//! idempotent and order-independent (records that arrive before their session are attached when
//! it comes). Transient failures are never bisected: the whole request is retried instead.

use super::{Error, Store};
use crate::domain::{IngestReport, RecordRef, SpanBatch};
use crate::metric_points::{MetricBatch, MetricReport};

/// What [`Store::write_spans_isolated`] did.
#[derive(Debug, Default)]
pub struct Stored {
    /// Indices into the written batch, as [`Store::write_spans`] reports them.
    pub report: IngestReport,
    /// The records the database refused, each with the reason.
    pub refused: Vec<Refused>,
}

/// One record of a batch that could not be stored.
#[derive(Debug, Clone)]
pub struct Refused {
    pub record: RecordRef,
    pub reason: String,
}

impl Store {
    /// [`Store::write_spans`], except that a batch refused for its content stores every record
    /// that can be stored and names the ones that cannot (see the module documentation).
    pub async fn write_spans_isolated(&self, batch: &SpanBatch) -> Result<Stored, Error> {
        let first = match self.write_spans(batch).await {
            Ok(report) => {
                return Ok(Stored {
                    report,
                    refused: Vec::new(),
                });
            }
            Err(err) if err.is_unavailable() => return Err(err),
            Err(err) => err,
        };
        let records = batch.record_refs();
        let (parts, refused) = isolate(records.len(), first, |indices| {
            let refs: Vec<RecordRef> = indices.iter().map(|&i| records[i]).collect();
            let part = batch.subset(&refs);
            async move { Ok((self.write_spans(&part).await?, refs)) }
        })
        .await?;
        let mut stored = Stored::default();
        for (report, refs) in parts {
            stored.report.absorb(report, &refs);
        }
        stored.refused = refused
            .into_iter()
            .map(|(i, reason)| Refused {
                record: records[i],
                reason,
            })
            .collect();
        Ok(stored)
    }
}

impl Store {
    /// [`Store::write_metric_points`] with the same isolation of refused points; `refused` holds
    /// the index of each refused point and the reason.
    pub async fn write_metric_points_isolated(
        &self,
        batch: &MetricBatch,
    ) -> Result<(MetricReport, Vec<(usize, String)>), Error> {
        let first = match self.write_metric_points(batch).await {
            Ok(report) => return Ok((report, Vec::new())),
            Err(err) if err.is_unavailable() => return Err(err),
            Err(err) => err,
        };
        let (parts, refused) = isolate(batch.points.len(), first, |indices| {
            let part = MetricBatch {
                points: indices.iter().map(|&i| batch.points[i].clone()).collect(),
                ..MetricBatch::default()
            };
            async move { Ok((self.write_metric_points(&part).await?, indices)) }
        })
        .await?;
        let mut report = MetricReport::default();
        for (part, indices) in parts {
            let points = part.new_points.into_iter();
            report
                .new_points
                .extend(points.map(|(i, increment)| (indices[i], increment)));
            report.duplicates += part.duplicates;
        }
        report.new_points.sort_by_key(|&(i, _)| i);
        Ok((report, refused))
    }
}

/// Bisects records `0..n` after the whole set failed with `first`: `write` stores a part (the
/// indices given) in a transaction of its own. Returns what each stored part gave back, and the
/// records that failed alone with the database's reason. A transient failure ends it: the
/// caller answers with the retryable status, and a retry of the whole request is harmless.
pub(super) async fn isolate<R, F, Fut>(
    n: usize,
    first: Error,
    mut write: F,
) -> Result<(Vec<R>, Vec<(usize, String)>), Error>
where
    F: FnMut(Vec<usize>) -> Fut,
    Fut: std::future::Future<Output = Result<R, Error>>,
{
    tracing::warn!(error = %first, records = n,
        "the database refused a batch; storing its records apart to find the bad ones");
    let (mut stored, mut refused) = (Vec::new(), Vec::new());
    // A stack, not recursion: async recursion needs boxing, and the depth is only log2(n).
    let mut work = vec![((0..n).collect::<Vec<usize>>(), first)];
    while let Some((indices, err)) = work.pop() {
        if let [index] = indices[..] {
            refused.push((index, db_reason(&err)));
            continue;
        }
        let (left, right) = indices.split_at(indices.len() / 2);
        for half in [left, right] {
            match write(half.to_vec()).await {
                Ok(result) => stored.push(result),
                Err(err) if err.is_unavailable() => return Err(err),
                Err(err) => work.push((half.to_vec(), err)),
            }
        }
    }
    refused.sort_by_key(|&(i, _)| i);
    Ok((stored, refused))
}

/// The database's own words, without sqlx's prefix.
fn db_reason(err: &Error) -> String {
    match err {
        Error::Sqlx(sqlx::Error::Database(db)) => match db.code() {
            Some(code) => format!("refused by the database ({code}): {}", db.message()),
            None => format!("refused by the database: {}", db.message()),
        },
        other => format!("not stored: {other}"),
    }
}
