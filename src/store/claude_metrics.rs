//! Claude Code's metric series and data points (migration 0007), written in one transaction per
//! OTLP request. Temporality decides what is new: a DELTA point is inserted once (keyed by series,
//! start and time), a CUMULATIVE point replaces the stored one of its (series, start time) only
//! when it is newer and adds the difference. Series totals grow by exactly those increments, and
//! the report tells the caller which ones were committed, so Prometheus never double counts.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};
use crate::metric_points::{
    MetricBatch, MetricPoint, MetricReport, Temporality, cumulative_increment,
};

use super::Tx;

/// One series of a session, with what its committed points add up to.
#[derive(Debug)]
pub struct SeriesTotal {
    pub metric: String,
    pub unit: String,
    /// The data point attributes that name the series (sorted keys).
    pub attributes: serde_json::Value,
    /// Sum of the increments of all points received (delta values; cumulative differences).
    pub total: f64,
    /// Points that added to the total (retried exports are not counted).
    pub points: i32,
    pub first_point_at: Option<DateTime<Utc>>,
    pub last_point_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn write_metric_points(&self, batch: &MetricBatch) -> Result<MetricReport, Error> {
        let mut report = MetricReport::default();
        if batch.points.is_empty() {
            return Ok(report);
        }
        // A fixed lock order (series, start, time) keeps concurrent requests from deadlocking.
        let mut order: Vec<usize> = (0..batch.points.len()).collect();
        order.sort_by_key(|&i| {
            let p = &batch.points[i];
            (p.series_id, p.start, p.time)
        });
        let mut tx = self.pool.begin().await?;
        let mut series_done = std::collections::HashSet::new();
        for &i in &order {
            let point = &batch.points[i];
            if series_done.insert(point.series_id) {
                upsert_series(&mut tx, point).await?;
            }
            let increment = match point.temporality {
                Temporality::Delta => insert_delta(&mut tx, point).await?,
                Temporality::Cumulative => apply_cumulative(&mut tx, point).await?,
            };
            match increment {
                Some(increment) => {
                    add_to_series(&mut tx, point, increment).await?;
                    report.new_points.push((i, increment));
                }
                None => report.duplicates += 1,
            }
        }
        tx.commit().await?;
        report.new_points.sort_by_key(|&(i, _)| i);
        Ok(report)
    }

    /// Every series of a session with its total, ordered by metric and attributes.
    pub async fn claude_code_metrics(&self, session_id: Uuid) -> Result<Vec<SeriesTotal>, Error> {
        Ok(sqlx::query_as!(
            SeriesTotal,
            r#"SELECT metric, unit, attributes, total, points, first_point_at, last_point_at
               FROM claude_code_metric_series
               WHERE session_id = $1
               ORDER BY metric, attributes::text"#,
            session_id
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

async fn upsert_series(tx: &mut Tx<'_>, p: &MetricPoint) -> Result<(), Error> {
    sqlx::query!(
        r#"INSERT INTO claude_code_metric_series
               (id, metric, unit, session_id, session_external_id, attributes, resource)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO NOTHING"#,
        p.series_id,
        p.metric,
        p.unit,
        p.session_id,
        p.session_external_id,
        p.attributes,
        p.resource,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A delta point is its own increment, the first time it is seen.
async fn insert_delta(tx: &mut Tx<'_>, p: &MetricPoint) -> Result<Option<f64>, Error> {
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO claude_code_metric_deltas (series_id, start_time, time, value)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING
           RETURNING value"#,
        p.series_id,
        p.start,
        p.time,
        p.value,
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(inserted)
}

/// A cumulative point: inserted when its start time is new, else compared with the stored point
/// under a row lock (a concurrent request for the same series waits, then sees our value).
async fn apply_cumulative(tx: &mut Tx<'_>, p: &MetricPoint) -> Result<Option<f64>, Error> {
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO claude_code_metric_cumulatives (series_id, start_time, time, value)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING
           RETURNING value"#,
        p.series_id,
        p.start,
        p.time,
        p.value,
    )
    .fetch_optional(&mut **tx)
    .await?;
    if inserted.is_some() {
        return Ok(cumulative_increment(None, p.time, p.value));
    }
    let stored = sqlx::query!(
        r#"SELECT time, value FROM claude_code_metric_cumulatives
           WHERE series_id = $1 AND start_time = $2
           FOR UPDATE"#,
        p.series_id,
        p.start,
    )
    .fetch_one(&mut **tx)
    .await?;
    let increment = cumulative_increment(Some((stored.time, stored.value)), p.time, p.value);
    if increment.is_some() {
        sqlx::query!(
            r#"UPDATE claude_code_metric_cumulatives SET time = $3, value = $4, updated_at = NOW()
               WHERE series_id = $1 AND start_time = $2"#,
            p.series_id,
            p.start,
            p.time,
            p.value,
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(increment)
}

async fn add_to_series(tx: &mut Tx<'_>, p: &MetricPoint, increment: f64) -> Result<(), Error> {
    sqlx::query!(
        r#"UPDATE claude_code_metric_series
           SET total = total + $2, points = points + 1,
               first_point_at = LEAST(first_point_at, $3),
               last_point_at = GREATEST(last_point_at, $3)
           WHERE id = $1"#,
        p.series_id,
        increment,
        p.time,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
