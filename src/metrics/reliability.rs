//! Reliability metrics: the spool's backlog (`acd_spool_requests`, `acd_spool_bytes`, and its
//! limit `acd_spool_limit_bytes`) and OTLP
//! requests refused by back-pressure or authentication (`acd_otlp_refused_requests_total`).
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
        Self {
            spool_requests,
            spool_bytes,
            spool_limit_bytes,
            refused,
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
}
