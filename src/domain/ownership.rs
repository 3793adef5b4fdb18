//! Who sent a record and what it said, so the store can tell a retry from a conflict.
//!
//! The rule (docs/reliability.md, "Session ownership"): a session belongs to the first producer
//! that names it, a producer being the OTLP resource's `service.name` and `service.instance.id`.
//! Records of another producer that name the session (by `gen_ai.conversation.id` or by its
//! trace) are refused and answered, never merged. A span identity already stored is a plain
//! duplicate only when the same producer sent the same content; the second report of a Claude
//! Code call (an event and a beta span under one synthetic key) comes through the other
//! channel and completes the first. Records with no producer (REST uploads, `acd-collector
//! ingest` and `run`, rows stored before ownership existed) are not checked: those paths are
//! the operator's own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ID_NAMESPACE, RecordRef, SpanBatch, SpanKey};

/// The channel of runs imported from stream-json or transcripts (REST or the command line).
pub const IMPORT_CHANNEL: &str = "record";

/// The producer of each record, by span identity.
pub type Producers = HashMap<SpanKey, String>;

/// A record refused because it conflicts with what is stored, and why.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub record: RecordRef,
    pub reason: String,
}

impl SpanBatch {
    /// Who sent this record, when known.
    pub fn producer_of(&self, record: RecordRef) -> Option<&str> {
        self.producers.get(self.key_of(record)).map(String::as_str)
    }

    /// Marks every record of the batch as sent by `producer`.
    pub fn set_producer(&mut self, producer: Option<&str>) {
        let Some(producer) = producer else { return };
        for record in self.record_refs() {
            let key = self.key_of(record).clone();
            self.producers.insert(key, producer.to_string());
        }
    }

    /// Adds the records of `other` (mapped from another resource of the same request).
    pub fn append(&mut self, other: SpanBatch) {
        self.sessions.extend(other.sessions);
        self.turns.extend(other.turns);
        self.tools.extend(other.tools);
        self.retries.extend(other.retries);
        self.test_runs.extend(other.test_runs);
        self.session_targets.extend(other.session_targets);
        self.rejected.extend(other.rejected);
        self.ignored += other.ignored;
        for (key, producer) in other.producers {
            // First occurrence wins, as in the ledger.
            self.producers.entry(key).or_insert(producer);
        }
    }

    /// A digest of what the record says, for telling a resend from different content under
    /// the same identity. Figures the collector derives itself (cost from the price table) are
    /// left out, so a retry after a price change is still a plain duplicate; so are the times of
    /// imported runs ([`IMPORT_CHANNEL`]), which fall back to the time of the import when the
    /// lines carry none. Test runs have none: their identity is already the report's digest.
    pub fn digest(&self, record: RecordRef) -> Option<Uuid> {
        let timeless = self.channel.as_deref() == Some(IMPORT_CHANNEL);
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let text = match record {
            RecordRef::Session(i) => {
                let s = &self.sessions[i];
                let reported = s.reported.as_ref().map(|r| {
                    let usage = r.usage;
                    (
                        r.cost_usd,
                        r.duration_ms,
                        r.duration_api_ms,
                        r.num_turns,
                        usage,
                        &r.raw,
                    )
                });
                let times = if timeless {
                    (epoch, epoch)
                } else {
                    (s.started_at, s.ended_at)
                };
                format!(
                    "{:?}",
                    (
                        (&s.key, s.id, &s.external_id, s.target_id, &s.target_name),
                        (&s.feature_id, s.features_completed, s.status.as_str()),
                        (&s.status_message, times, &s.attributes),
                        reported,
                    )
                )
            }
            RecordRef::Turn(i) => {
                let mut t = self.turns[i].clone();
                (t.cost_usd, t.priced, t.context_window) = (0.0, false, 0);
                if timeless {
                    (t.started_at, t.finished_at) = (epoch, epoch);
                }
                format!("{t:?}")
            }
            RecordRef::Tool(i) => {
                let mut t = self.tools[i].clone();
                if timeless {
                    (t.started_at, t.finished_at) = (epoch, epoch);
                }
                format!("{t:?}")
            }
            RecordRef::Retry(i) => {
                let mut r = self.retries[i].clone();
                if timeless {
                    r.at = epoch;
                }
                format!("{r:?}")
            }
            RecordRef::TestRun(_) => return None,
        };
        Some(Uuid::new_v5(&ID_NAMESPACE, text.as_bytes()))
    }
}
