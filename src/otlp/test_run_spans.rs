//! `acd.test_run` spans: a harness reports one run of a project's test suite as a span (its
//! duration is the run's), with counts as attributes and one `acd.test.case` event per test, as
//! examples/node/harness.js and examples/python/harness.py send them. Counts that do not add up,
//! or disagree with the cases, are kept as sent with a warning: the span is never refused for it.
//! The attributes are listed in docs/semantic-conventions.md ("Test runs").

use crate::domain::limits::Invalid;
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::attributes::Attributes;
use crate::domain::{
    SpanKey, TestCaseRecord, TestCounts, TestRunRecord, TestRunSource, TestStatus, failure_reasons,
    session_uuid,
};

pub const TEST_RUN_SPAN: &str = "acd.test_run";
pub const TEST_CASE_EVENT: &str = "acd.test.case";

/// The run a valid `acd.test_run` span describes (ids and times already checked).
pub fn test_run(
    span: &Span,
    resource: &[KeyValue],
    key: SpanKey,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
) -> TestRunRecord {
    let a = Attributes::new(&span.attributes, resource);
    let mut warnings = Vec::new();
    let cases: Vec<TestCaseRecord> = span
        .events
        .iter()
        .filter(|e| e.name == TEST_CASE_EVENT)
        .enumerate()
        .filter_map(|(i, e)| match case(&Attributes::new(&e.attributes, &[])) {
            Ok(case) => Some(case),
            Err(reason) => {
                warnings.push(format!("test case event {}: {reason}; not stored", i + 1));
                None
            }
        })
        .collect();
    let tally = TestCounts::of_cases(&cases);
    // A count that was not sent is taken from the cases; a negative one is not believable.
    let mut count = |attr: &str, from_cases: i64| match a.int(attr) {
        Some(n) if n < 0 => {
            warnings.push(format!(
                "{attr} is negative ({n}); the cases' count is used"
            ));
            from_cases
        }
        Some(n) => n,
        None => from_cases,
    };
    let passed = count("acd.test.passed", tally.passed);
    let failed = count("acd.test.failed", tally.failed);
    let skipped = count("acd.test.skipped", tally.skipped);
    let errors = count("acd.test.errors", tally.errors);
    let total = count("acd.test.total", passed + failed + skipped + errors);
    let counts = TestCounts {
        total,
        passed,
        failed,
        skipped,
        errors,
    };
    warnings.extend(counts.warnings(&cases));
    let session_external_id = a.str("gen_ai.conversation.id");
    TestRunRecord {
        key,
        session_id: session_external_id.as_deref().map(session_uuid),
        session_external_id,
        suite: a.str("acd.test.suite"),
        counts,
        duration_ms: Some((ended_at - started_at).num_milliseconds()),
        started_at,
        vcs_revision: a
            .str("acd.vcs.revision")
            .or_else(|| a.str("vcs.ref.head.revision")),
        source: TestRunSource::Span,
        content_sha256: None,
        failure_reasons: failure_reasons(&cases),
        warnings,
        cases,
    }
}

fn case(a: &Attributes<'_>) -> Result<TestCaseRecord, Invalid> {
    let name = a
        .str("acd.test.case.name")
        .ok_or("acd.test.case.name is missing")?;
    let raw_status = a
        .str("acd.test.case.status")
        .ok_or("acd.test.case.status is missing")?;
    let status = TestStatus::parse(&raw_status).ok_or_else(|| {
        format!("unknown acd.test.case.status {raw_status:?} (passed|failed|error|skipped)")
    })?;
    Ok(TestCaseRecord {
        classname: a.str("acd.test.case.classname").unwrap_or_default(),
        name,
        status,
        duration_ms: a
            .float("acd.test.case.duration_ms")
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| d.round() as i64),
        failure_type: a.str("acd.test.case.failure_type"),
        failure_message: a.str("acd.test.case.failure_message"),
    })
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
    use opentelemetry_proto::tonic::trace::v1::span::Event;

    use super::*;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn s(key: &str, v: &str) -> KeyValue {
        kv(key, Value::StringValue(v.into()))
    }

    fn i(key: &str, v: i64) -> KeyValue {
        kv(key, Value::IntValue(v))
    }

    fn event(name: &str, status: &str) -> Event {
        Event {
            name: TEST_CASE_EVENT.into(),
            attributes: vec![
                s("acd.test.case.name", name),
                s("acd.test.case.classname", "todo"),
                s("acd.test.case.status", status),
                i("acd.test.case.duration_ms", 4),
            ],
            ..Default::default()
        }
    }

    fn run(attributes: Vec<KeyValue>, events: Vec<Event>) -> TestRunRecord {
        let span = Span {
            attributes,
            events,
            ..Default::default()
        };
        let key = SpanKey {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
        };
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        test_run(&span, &[], key, t, t + chrono::Duration::milliseconds(1500))
    }

    #[test]
    fn counts_and_cases_that_agree_give_no_warning() {
        let r = run(
            vec![
                s("acd.test.suite", "unit"),
                i("acd.test.total", 3),
                i("acd.test.passed", 2),
                i("acd.test.failed", 1),
                i("acd.test.skipped", 0),
                s("vcs.ref.head.revision", "abc123"),
            ],
            vec![
                event("a", "passed"),
                event("b", "passed"),
                event("c", "failed"),
            ],
        );
        assert_eq!(r.warnings, Vec::<String>::new());
        assert_eq!(r.counts.total, 3);
        assert_eq!(r.duration_ms, Some(1500));
        assert_eq!(r.vcs_revision.as_deref(), Some("abc123"));
        assert_eq!(r.cases[2].status, TestStatus::Failed);
        assert_eq!(r.failure_reasons.as_array().unwrap().len(), 1);
    }

    #[test]
    fn counts_that_do_not_add_up_are_kept_with_a_warning() {
        let r = run(
            vec![
                i("acd.test.total", 10),
                i("acd.test.passed", 2),
                i("acd.test.failed", 1),
            ],
            vec![event("a", "passed"), event("b", "bogus")],
        );
        assert_eq!(r.counts.total, 10);
        assert_eq!(r.counts.passed, 2);
        assert_eq!(r.cases.len(), 1);
        assert_eq!(r.warnings.len(), 3, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("bogus"));
        assert!(r.warnings[1].contains("do not add up"));
        assert!(r.warnings[2].contains("disagree"));
    }

    #[test]
    fn missing_counts_come_from_the_cases() {
        let r = run(vec![], vec![event("a", "ok"), event("b", "skipped")]);
        assert_eq!(
            r.counts,
            TestCounts {
                total: 2,
                passed: 1,
                failed: 0,
                skipped: 1,
                errors: 0
            }
        );
        assert!(r.warnings.is_empty());
    }
}
