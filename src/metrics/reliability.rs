//! Reliability metrics: the spool's backlog (`acd_spool_requests`, `acd_spool_bytes`, and its
//! limit `acd_spool_limit_bytes`) and OTLP
//! requests refused by back-pressure or authentication (`acd_otlp_refused_requests_total`), and
//! what spool replay could not store (`acd_spool_failed_records_total`: records moved to
//! `failed/`, and `acd_spool_failed_requests_total`: whole requests moved there).
//! No labels beyond a fixed reason, so cardinality is constant.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum RefusalReason {
    /// Too many requests in flight: answered 503 / UNAVAILABLE, which exporters retry.
    overloaded,
    /// Missing or wrong bearer token.
    unauthorized,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub reason: RefusalReason,
}

pub struct ReliabilityMetrics {
    spool_requests: Gauge,
    spool_bytes: Gauge<i64, std::sync::atomic::AtomicI64>,
    spool_limit_bytes: Gauge<i64, std::sync::atomic::AtomicI64>,
    refused: Family<RefusalLabels, Counter<u64, AtomicU64>>,
    failed_records: Counter<u64, AtomicU64>,
    failed_requests: Counter<u64, AtomicU64>,
}

impl ReliabilityMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let spool_requests = Gauge::default();
        registry.register(
            "acd_spool_requests",
            "OTLP requests waiting in the local spool for the database",
            spool_requests.clone(),
        );
        let spool_bytes = Gauge::default();
        registry.register(
            "acd_spool_bytes",
            "Bytes of OTLP requests waiting in the local spool",
            spool_bytes.clone(),
        );
        let spool_limit_bytes = Gauge::default();
        registry.register(
            "acd_spool_limit_bytes",
            "Largest size of the spool (--spool-max-bytes); 0 when there is no spool",
            spool_limit_bytes.clone(),
        );
        let refused: Family<RefusalLabels, Counter<u64, AtomicU64>> = Family::default();
        // Exported at 0 from the start, so alert rules and dashboards always find the series.
        for reason in [RefusalReason::overloaded, RefusalReason::unauthorized] {
            refused.get_or_create(&RefusalLabels { reason }).inc_by(0);
        }
        registry.register(
            "acd_otlp_refused_requests",
            "OTLP requests refused before decoding, by reason",
            refused.clone(),
        );
        let failed_records: Counter<u64, AtomicU64> = Counter::default();
        registry.register(
            "acd_spool_failed_records",
            "Records of spooled requests that replay could not store, kept in the spool's failed/",
            failed_records.clone(),
        );
        let failed_requests: Counter<u64, AtomicU64> = Counter::default();
        registry.register(
            "acd_spool_failed_requests",
            "Whole spooled requests moved to failed/ (unreadable, or failing while the database is up)",
            failed_requests.clone(),
        );
        Self {
            spool_requests,
            spool_bytes,
            spool_limit_bytes,
            refused,
            failed_records,
            failed_requests,
        }
    }

    pub fn spooled(&self, requests: u64, bytes: u64) {
        self.spool_requests
            .set(i64::try_from(requests).unwrap_or(i64::MAX));
        self.spool_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn spool_limit(&self, bytes: u64) {
        self.spool_limit_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn refused(&self, reason: RefusalReason) {
        self.refused.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// Replay kept `records` records of a spooled request in `failed/`.
    pub fn spool_records_failed(&self, records: usize) {
        self.failed_records.inc_by(records as u64);
    }

    /// Replay moved a whole spooled request to `failed/`.
    pub fn spool_request_failed(&self) {
        self.failed_requests.inc();
    }
}
