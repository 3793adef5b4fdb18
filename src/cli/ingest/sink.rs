//! Where the command line puts a parsed run: the database (the same database choice and
//! migrations as `serve`, then the ingest service) or a running collector's
//! `POST /api/db/ingest/claude-run` (`--endpoint`). The `run` wrapper records its runs the same
//! way.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use super::super::client::Client;
use super::super::options::{IngestOutput, prices};
use crate::Error;
use crate::claude::ParsedRun;
use crate::claude::to_batch::MapOptions;
use crate::domain::session_uuid;
use crate::ingest::{IngestService, IngestSummary};
use crate::metrics::Metrics;
use crate::pricing::PriceTable;
use crate::store::{DatabaseHandle, open_database};

/// The path of the collector endpoint that takes a [`ParsedRun`].
pub const ENDPOINT_PATH: &str = "/api/db/ingest/claude-run";

/// Where parsed runs go: the database, or a collector's REST endpoint.
pub enum Sink {
    Database {
        handle: DatabaseHandle,
        service: IngestService,
    },
    Endpoint(Client),
}

impl Sink {
    pub async fn open(output: &IngestOutput) -> Result<Self, Error> {
        if let Some(endpoint) = &output.endpoint {
            return Ok(Sink::Endpoint(Client::new(endpoint)?));
        }
        let prices = prices(output.prices.as_ref())?;
        let handle = open_database(&output.database.settings()).await?;
        let service = IngestService {
            store: handle.store.clone(),
            // Nobody scrapes a command's counters: they are counted and dropped.
            metrics: Arc::new(Metrics::new()),
            prices: Arc::new(prices),
            test_analysis: Default::default(),
        };
        Ok(Sink::Database { handle, service })
    }

    /// The prices the run is summed up with: ours, or for a collector the shipped default.
    pub fn prices(&self) -> PriceTable {
        match self {
            Sink::Database { service, .. } => (*service.prices).clone(),
            Sink::Endpoint(_) => PriceTable::shipped_default(),
        }
    }

    /// The database's ingest service, when the sink is the database.
    pub fn service(&self) -> Option<&IngestService> {
        match self {
            Sink::Database { service, .. } => Some(service),
            Sink::Endpoint(_) => None,
        }
    }

    /// The collector's client, when the sink is a collector.
    pub fn client(&self) -> Option<&Client> {
        match self {
            Sink::Database { .. } => None,
            Sink::Endpoint(client) => Some(client),
        }
    }

    /// Stores or sends one run; `fallback_time` is its end time if it carries no times.
    pub async fn send(
        &self,
        run: &ParsedRun,
        target: Option<&str>,
        fallback_time: DateTime<Utc>,
    ) -> Result<IngestSummary, Error> {
        let options = MapOptions {
            target_id: target.map(session_uuid),
            fallback_time,
        };
        match self {
            Sink::Database { service, .. } => Ok(service.commit_run(run, &options).await?),
            Sink::Endpoint(client) => {
                let mut query = vec![(
                    "ended_at",
                    fallback_time.to_rfc3339_opts(SecondsFormat::Millis, true),
                )];
                query.extend(options.target_id.map(|t| ("target_id", t.to_string())));
                client
                    .post_json(client.url(ENDPOINT_PATH, &query)?, run)
                    .await
            }
        }
    }

    pub async fn close(self) {
        if let Sink::Database { handle, .. } = self {
            handle.close().await;
        }
    }
}
