//! `acd.retry` span events: a harness records each failed model call it retries as an event on
//! the turn (or session) span. Each event becomes a [`RetryRecord`] in the span's session.
//! The attributes are listed in docs/semantic-conventions.md ("Retries").
//!
//! When an event does not say whether its retry succeeded, the turn span carrying it does: the
//! events of one turn are the retries of that one call, so the last one succeeded exactly when
//! the turn ended OK, and the earlier ones were followed by another failure
//! ([`crate::domain::infer_retry_outcomes`]).

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use uuid::Uuid;

use super::attributes::{self, Attributes};
use crate::domain::{
    ID_NAMESPACE, RetryReason, RetryRecord, SpanKey, infer_retry_outcomes, retry_reason,
    session_uuid,
};

pub const RETRY_EVENT: &str = "acd.retry";

/// The retries recorded as events of `span`. The span's ids must already be valid.
/// `call_completed` is known for a turn span (it ended OK or not) and None for a session span,
/// whose events may belong to different calls.
pub fn retries_of(
    span: &Span,
    resource: &[KeyValue],
    span_model: Option<String>,
    call_completed: Option<bool>,
) -> Vec<RetryRecord> {
    let session = Attributes::new(&span.attributes, resource).str("gen_ai.conversation.id");
    let mut retries: Vec<RetryRecord> = span
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.name == RETRY_EVENT)
        .map(|(index, event)| {
            record(
                &Attributes::new(&event.attributes, &[]),
                event_key(span, index, event.time_unix_nano),
                time(event.time_unix_nano),
                session.clone(),
                index as i32 + 1,
                span_model.clone(),
                &event.attributes,
            )
        })
        .collect();
    if call_completed.is_some() {
        // In the order they happened (events need not be sent in order).
        retries.sort_by_key(|r| (r.at, r.retry_number));
        infer_retry_outcomes(retries.iter_mut(), call_completed);
    }
    retries
}

/// A span named `acd.retry` (a harness that times its back-off as a span): one retry.
pub fn retry_span(span: &Span, resource: &[KeyValue]) -> RetryRecord {
    let a = Attributes::new(&span.attributes, resource);
    let wait = (span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano)
        / 1_000_000) as i64;
    let mut retry = record(
        &a,
        SpanKey {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
        },
        time(span.start_time_unix_nano),
        a.str("gen_ai.conversation.id"),
        1,
        a.str("gen_ai.request.model"),
        &span.attributes,
    );
    retry.wait_ms = retry.wait_ms.or(Some(wait));
    retry
}

fn record(
    a: &Attributes<'_>,
    key: SpanKey,
    at: Option<DateTime<Utc>>,
    session_external_id: Option<String>,
    default_number: i32,
    model: Option<String>,
    raw: &[KeyValue],
) -> RetryRecord {
    let status = a
        .int("http.response.status_code")
        .or_else(|| a.int("acd.retry.status_code"));
    let error = a.str("error.type").or_else(|| a.str("exception.message"));
    let mut retry = RetryRecord {
        key,
        session_id: session_external_id.as_deref().map(session_uuid),
        session_external_id,
        retry_number: a
            .int("acd.retry.number")
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(default_number),
        reason: RetryReason::Error,
        original_model: a.str("acd.retry.original_model").or(model),
        fallback_model: a.str("acd.retry.fallback_model"),
        wait_ms: a.int("acd.retry.wait_ms").filter(|w| *w >= 0),
        succeeded: a.bool("acd.retry.succeeded"),
        exhausted: a.bool("acd.retry.exhausted").unwrap_or(false),
        error_message: a.str("exception.message").or_else(|| error.clone()),
        at: at.unwrap_or_else(Utc::now),
        attributes: attributes::to_json(raw),
    };
    // The harness's reason wins; else a fallback to another model is the reason; else the
    // status and error text decide.
    retry.reason = match a.str("acd.retry.reason") {
        Some(given) => normalise_reason(&given),
        None if retry.fallback().is_some() => RetryReason::ModelFallback,
        None => retry_reason(status, error.as_deref()),
    };
    retry
}

/// A reason outside the bounded set is mapped into it (it is also a metric label): the older
/// `server_error` and `connection` are `error`, free text is read like an error message.
fn normalise_reason(reason: &str) -> RetryReason {
    let r = reason.trim().to_ascii_lowercase();
    RetryReason::ALL
        .into_iter()
        .find(|known| known.as_str() == r)
        .unwrap_or_else(|| retry_reason(None, Some(&r.replace('_', " "))))
}

/// The event's identity: its span's trace, and a span id derived from the span and the event's
/// position, so a resent span yields the same retry keys.
fn event_key(span: &Span, index: usize, time: u64) -> SpanKey {
    let mut name = span.span_id.clone();
    name.extend_from_slice(format!("retry:{index}:{time}").as_bytes());
    let id = Uuid::new_v5(&ID_NAMESPACE, &name);
    SpanKey {
        trace_id: span.trace_id.clone(),
        span_id: id.as_bytes()[..8].to_vec(),
    }
}

fn time(unix_nanos: u64) -> Option<DateTime<Utc>> {
    (unix_nanos > 0).then(|| DateTime::from_timestamp_nanos(unix_nanos.min(i64::MAX as u64) as i64))
}
