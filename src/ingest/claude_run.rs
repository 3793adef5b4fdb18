//! A parsed Claude CLI run (stream-json or transcript, [`ParsedRun`]) through the service:
//! mapped to domain records by [`crate::claude::to_batch`], committed in one transaction, and
//! summed up in an [`IngestSummary`] (the REST answer and the command line's report).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::IngestService;
use crate::claude::ParsedRun;
use crate::claude::to_batch::{MapOptions, aggregate_only, to_batch};

/// What storing one run did; also the endpoint's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestSummary {
    pub session_id: Uuid,
    /// The CLI's session id, or the content-derived one when the stream had none.
    pub external_id: String,
    pub turns: usize,
    pub tool_calls: usize,
    pub retries: usize,
    /// Records (session, turns, tools, retries) stored now.
    pub new_records: usize,
    /// Records that were already stored (a re-ingest changes nothing).
    pub duplicates: usize,
    /// Session totals come from the result line, not the turns.
    pub aggregate_only: bool,
    /// Our cost from the price table (sum of the turns).
    pub cost_usd: f64,
    /// The CLI's own `total_cost_usd`.
    pub reported_cost_usd: Option<f64>,
    /// Records refused (each named, with the reason): past the limits of `domain::limits`, or
    /// refused by the database; everything else of the run is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
}

impl IngestService {
    /// Maps and commits one run; re-sending the same run changes nothing.
    pub async fn commit_run(
        &self,
        run: &ParsedRun,
        options: &MapOptions,
    ) -> Result<IngestSummary, crate::store::Error> {
        let mut batch = to_batch(run, &self.prices, options);
        let committed = self
            .commit(&mut batch, crate::domain::IMPORT_CHANNEL)
            .await?;
        let report = committed.report;
        let session = &batch.sessions[0];
        Ok(IngestSummary {
            session_id: session.id,
            external_id: session.external_id.clone(),
            turns: batch.turns.len(),
            tool_calls: batch.tools.len(),
            retries: batch.retries.len(),
            new_records: report.new_span_count(),
            duplicates: report.duplicates,
            aggregate_only: aggregate_only(run),
            cost_usd: batch.turns.iter().fold(0.0, |sum, t| sum + t.cost_usd),
            reported_cost_usd: run.result.as_ref().and_then(|r| r.total_cost_usd),
            rejected: batch
                .rejected
                .iter()
                .map(|r| format!("{}: {}", r.span_name, r.reason))
                .collect(),
        })
    }
}
