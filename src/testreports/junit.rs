//! JUnit XML, as pytest, jest-junit, cargo-nextest, go-junit-report, Maven Surefire and Gradle
//! write it, read with the `junit-parser` crate: a `<testsuites>` root or a single `<testsuite>`,
//! nested suites, `<failure>` (an assertion failed) vs `<error>` (the test could not run),
//! `<skipped/>`, and `time` attributes that may be missing. system-out/err is not stored.

use chrono::{DateTime, NaiveDateTime, Utc};
use junit_parser::{TestStatus as JStatus, TestSuite};

use super::{ParsedReport, ReportError};
use crate::domain::limits::MAX_DURATION_MS;
use crate::domain::{TestCaseRecord, TestCounts, TestRunSource, TestStatus};

pub fn parse(bytes: &[u8]) -> Result<ParsedReport, ReportError> {
    let mut warnings = Vec::new();
    let report = match junit_parser::from_reader(bytes) {
        Ok(report) => report,
        // One count or time no number can hold (tests="-5", time="NaN") must not cost the
        // report: the counts come from the cases anyway. Read again without such attributes.
        Err(first) => match without_unreadable_numbers(bytes) {
            Some(cleaned) => {
                let report = junit_parser::from_reader(&cleaned[..])
                    .map_err(|e| ReportError::Malformed(format!("not a JUnit XML report: {e}")))?;
                warnings
                    .push("count or time attributes that are not numbers were ignored".to_string());
                report
            }
            None => {
                return Err(ReportError::Malformed(format!(
                    "not a JUnit XML report: {first}"
                )));
            }
        },
    };
    let mut cases = Vec::new();
    let mut leaf_header = TestCounts::default();
    let mut case_seconds = 0.0;
    for suite in &report.suites {
        collect(suite, &mut cases, &mut leaf_header, &mut case_seconds);
    }
    // The root's own counts when it has them (jest-junit, Surefire), else the suites' that hold
    // the cases: a nested suite's counts may already include its children's.
    let header = if report.tests > 0 {
        counts(report.tests, report.failures, report.errors, report.skipped)
    } else {
        leaf_header
    };
    let suite_seconds: f64 = report.suites.iter().map(|s| s.time).sum();
    let seconds = [report.time, suite_seconds, case_seconds]
        .into_iter()
        .find(|s| *s > 0.0)
        .unwrap_or(0.0);
    let suite = match (report.name.trim(), report.suites.as_slice()) {
        (name, _) if !name.is_empty() => Some(name.to_string()),
        (_, [only]) if !only.name.trim().is_empty() => Some(only.name.trim().to_string()),
        _ => None,
    };
    let started_at = report
        .suites
        .iter()
        .filter_map(|s| s.timestamp.as_deref().and_then(timestamp))
        .min();
    Ok(ParsedReport {
        source: TestRunSource::Junit,
        suite,
        header: Some(header),
        cases,
        duration_ms: (seconds > 0.0).then(|| (seconds * 1000.0).round() as i64),
        started_at,
        warnings,
    })
}

/// The report with every count attribute that is not a u64 and every `time` that is not a
/// finite, non-negative number removed; `None` when nothing was removed or the XML is broken.
fn without_unreadable_numbers(bytes: &[u8]) -> Option<Vec<u8>> {
    use quick_xml::events::{BytesStart, Event};
    const COUNTS: [&str; 6] = [
        "tests",
        "failures",
        "errors",
        "skipped",
        "disabled",
        "assertions",
    ];
    let readable = |key: &str, value: &str| {
        let text = value.trim();
        if COUNTS.contains(&key) {
            text.parse::<u64>().is_ok()
        } else if key == "time" {
            text.parse::<f64>().is_ok_and(|t| t.is_finite() && t >= 0.0)
        } else {
            true
        }
    };
    let mut removed = false;
    let mut clean = |e: &BytesStart<'_>| -> Option<BytesStart<'static>> {
        let name = e.name().as_ref().to_string();
        let mut out = BytesStart::new(name);
        for attr in e.attributes() {
            let attr = attr.ok()?;
            if readable(attr.key.as_ref(), &attr.value) {
                out.push_attribute(attr);
            } else {
                removed = true;
            }
        }
        Some(out)
    };
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut writer = quick_xml::Writer::new(Vec::new());
    let mut buf = Vec::new();
    loop {
        let event = match reader.read_event_into(&mut buf).ok()? {
            Event::Eof => break,
            Event::Start(e) => Event::Start(clean(&e)?),
            Event::Empty(e) => Event::Empty(clean(&e)?),
            other => other.into_owned(),
        };
        writer.write_event(event).ok()?;
        buf.clear();
    }
    removed.then(|| writer.into_inner())
}

fn counts(tests: u64, failures: u64, errors: u64, skipped: u64) -> TestCounts {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    TestCounts {
        total: n(tests),
        failed: n(failures),
        errors: n(errors),
        skipped: n(skipped),
        passed: n(tests)
            .saturating_sub(n(failures))
            .saturating_sub(n(errors))
            .saturating_sub(n(skipped)),
    }
}

fn collect(
    suite: &TestSuite,
    cases: &mut Vec<TestCaseRecord>,
    header: &mut TestCounts,
    seconds: &mut f64,
) {
    if !suite.cases.is_empty() {
        let c = counts(suite.tests, suite.failures, suite.errors, suite.skipped);
        // Saturating: the attributes are the writer's claims, and may be absurd.
        header.total = header.total.saturating_add(c.total);
        header.passed = header.passed.saturating_add(c.passed);
        header.failed = header.failed.saturating_add(c.failed);
        header.errors = header.errors.saturating_add(c.errors);
        header.skipped = header.skipped.saturating_add(c.skipped);
    }
    for case in &suite.cases {
        *seconds += case.time;
        let (status, failure_type, message, text) = match &case.status {
            JStatus::Success => (TestStatus::Passed, None, None, None),
            JStatus::Failure(f) => (
                TestStatus::Failed,
                Some(f.failure_type.clone()),
                Some(f.message.clone()),
                Some(f.text.clone()),
            ),
            JStatus::Error(e) => (
                TestStatus::Error,
                Some(e.error_type.clone()),
                Some(e.message.clone()),
                Some(e.text.clone()),
            ),
            JStatus::Skipped(s) => (
                TestStatus::Skipped,
                Some(s.skipped_type.clone()),
                Some(s.message.clone()),
                Some(s.text.clone()),
            ),
        };
        let non_empty =
            |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        cases.push(TestCaseRecord {
            classname: case
                .classname
                .clone()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| suite.name.clone()),
            // junit-parser's `name` is `classname::name`; the attribute itself is `original_name`.
            name: if case.original_name.is_empty() {
                case.name.clone()
            } else {
                case.original_name.clone()
            },
            status,
            duration_ms: Some((case.time * 1000.0).round())
                .filter(|ms| (0.0..=MAX_DURATION_MS as f64).contains(ms))
                .map(|ms| ms as i64),
            failure_type: non_empty(failure_type),
            // The message attribute, else the element's text (e.g. a traceback).
            failure_message: non_empty(message).or_else(|| non_empty(text)),
        });
    }
    for child in &suite.suites {
        collect(child, cases, header, seconds);
    }
}

/// RFC 3339, or the zone-less ISO form many writers use (read as UTC).
fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_suites_failures_errors_skips_and_missing_times() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="5" failures="1" errors="1" time="1.5">
  <testsuite name="outer" timestamp="2026-11-20T10:00:00">
    <testsuite name="inner" tests="2" failures="1" errors="0" skipped="0">
      <testcase classname="a.b" name="passes" time="0.25"/>
      <testcase classname="a.b" name="fails"><failure message="expected 1" type="AssertionError">trace</failure></testcase>
    </testsuite>
    <testcase name="no classname"><system-out>hello</system-out></testcase>
  </testsuite>
  <testsuite name="second" tests="2" errors="1" skipped="1">
    <testcase classname="c" name="crashes"><error type="OSError">disk on fire</error></testcase>
    <testcase classname="c" name="later"><skipped/></testcase>
  </testsuite>
</testsuites>"#;
        let r = parse(xml.as_bytes()).unwrap();
        let statuses: Vec<_> = r.cases.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                TestStatus::Passed,
                TestStatus::Passed,
                TestStatus::Failed,
                TestStatus::Error,
                TestStatus::Skipped
            ]
        );
        assert_eq!(r.cases[1].name, "passes");
        assert_eq!(r.cases[0].classname, "outer");
        assert_eq!(r.cases[0].duration_ms, Some(0));
        assert_eq!(r.cases[2].failure_message.as_deref(), Some("expected 1"));
        assert_eq!(r.cases[2].failure_type.as_deref(), Some("AssertionError"));
        assert_eq!(r.cases[3].failure_message.as_deref(), Some("disk on fire"));
        assert_eq!(r.suite.as_deref(), Some("jest tests"));
        assert_eq!(r.duration_ms, Some(1500));
        assert_eq!(
            r.started_at,
            Some(
                DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
                    .unwrap()
                    .into()
            )
        );
        assert_eq!(r.header.unwrap().total, 5);
        assert_eq!(r.header.unwrap().skipped, 0);
    }

    #[test]
    fn a_single_testsuite_root_without_times() {
        let xml = r#"<testsuite name="go" tests="1"><testcase classname="pkg" name="TestX"/></testsuite>"#;
        let r = parse(xml.as_bytes()).unwrap();
        assert_eq!(r.suite.as_deref(), Some("go"));
        assert_eq!(r.cases.len(), 1);
        assert_eq!(r.duration_ms, None);
        assert_eq!(r.header, Some(TestCounts::of_cases(&r.cases)));
    }

    #[test]
    fn malformed_xml_is_an_error() {
        assert!(parse(b"<testsuite><testcase name=\"x\">").is_err());
        assert!(parse(b"not xml at all").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<html><body/></html>").is_err());
    }
}
