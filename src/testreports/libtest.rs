//! libtest's JSON event stream (`cargo test -- -Z unstable-options --format json`) and
//! cargo-nextest's libtest-compatible output (`cargo nextest run --message-format libtest-json`,
//! which names tests `<crate>::<binary>$<path>`). One JSON object per line:
//! `{"type":"test","event":"ok"|"failed"|"ignored","name":…,"exec_time":…,"stdout":…}` and
//! `{"type":"suite","event":"ok"|"failed","passed":…,"failed":…,"ignored":…,"exec_time":…}`.
//! Other lines (`started`, benches, text a tool printed in between) are skipped.

use serde_json::Value;

use super::{ParsedReport, ReportError};
use crate::domain::{TestCaseRecord, TestCounts, TestRunSource, TestStatus};

/// Failure output kept per case; panics with long backtraces are cut here.
const MAX_MESSAGE_CHARS: usize = 4000;

pub fn parse(bytes: &[u8]) -> Result<ParsedReport, ReportError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ReportError::Malformed(format!("the report is not UTF-8: {e}")))?;
    let mut cases = Vec::new();
    let mut suites = 0;
    let mut header = TestCounts::default();
    let mut duration_s = 0.0;
    let mut not_json = 0;
    let mut nextest = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            not_json += 1;
            continue;
        };
        let kind = event["type"].as_str().unwrap_or_default();
        let what = event["event"].as_str().unwrap_or_default();
        match (kind, what) {
            ("suite", "ok" | "failed") => {
                suites += 1;
                let n = |k: &str| event[k].as_i64().unwrap_or(0);
                header.passed += n("passed");
                header.failed += n("failed");
                header.skipped += n("ignored");
                duration_s += event["exec_time"].as_f64().unwrap_or(0.0);
            }
            ("test", "ok" | "failed" | "ignored") => {
                let Some(full) = event["name"].as_str() else {
                    continue;
                };
                nextest |= is_nextest_name(full);
                cases.push(case(full, what, &event));
            }
            _ => {}
        }
    }
    if cases.is_empty() && suites == 0 {
        return Err(ReportError::Malformed(if not_json > 0 {
            format!("no libtest/nextest JSON events found ({not_json} lines are not JSON)")
        } else {
            "no libtest/nextest JSON events found (expected lines like {\"type\":\"test\",\"event\":\"ok\",…})".into()
        }));
    }
    let mut warnings = Vec::new();
    if not_json > 0 {
        warnings.push(format!("{not_json} lines were not JSON and were skipped"));
    }
    header.total = header.passed + header.failed + header.skipped;
    Ok(ParsedReport {
        source: if nextest {
            TestRunSource::NextestJson
        } else {
            TestRunSource::LibtestJson
        },
        suite: None,
        // nextest's suite lines repeat ignored tests in every binary's summary, so only
        // libtest's can be checked against the cases.
        header: (!nextest && suites > 0).then_some(header),
        cases,
        duration_ms: (suites > 0).then(|| (duration_s * 1000.0).round() as i64),
        started_at: None,
        warnings,
    })
}

/// nextest: `<crate>::<binary>$<path>`, e.g. `demo::demo$tests::adds`.
fn is_nextest_name(name: &str) -> bool {
    name.split_once('$')
        .is_some_and(|(binary, _)| binary.contains("::"))
}

fn case(full: &str, event: &str, raw: &Value) -> TestCaseRecord {
    // Module path as classname, the function as name.
    let (classname, name) = full.rsplit_once("::").unwrap_or(("", full));
    let status = match event {
        "ok" => TestStatus::Passed,
        "failed" => TestStatus::Failed,
        _ => TestStatus::Skipped,
    };
    let output = raw["stdout"].as_str().or_else(|| raw["message"].as_str());
    let (failure_type, failure_message) = match (status, output) {
        (TestStatus::Failed, Some(out)) => failure(out),
        (TestStatus::Failed, None) => (None, None),
        // An ignored test's `message` is the reason given in #[ignore = "…"].
        (_, Some(reason)) => (None, Some(reason.trim().to_string())),
        _ => (None, None),
    };
    TestCaseRecord {
        classname: classname.to_string(),
        name: name.to_string(),
        status,
        duration_ms: raw["exec_time"]
            .as_f64()
            .map(|s| (s * 1000.0).round())
            .filter(|ms| (0.0..=crate::domain::limits::MAX_DURATION_MS as f64).contains(ms))
            .map(|ms| ms as i64),
        failure_type,
        failure_message,
    }
}

/// The panic message of a failed test's output (without the backtrace), else the output.
fn failure(stdout: &str) -> (Option<String>, Option<String>) {
    let lines: Vec<&str> = stdout.lines().collect();
    if let Some(at) = lines.iter().position(|l| l.contains("panicked at")) {
        let message: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| !l.starts_with("stack backtrace:") && !l.starts_with("note: "))
            .copied()
            .collect();
        let message = message.join("\n").trim().to_string();
        return (
            Some("panic".into()),
            Some(if message.is_empty() {
                lines[at].trim().to_string()
            } else {
                message
            }),
        );
    }
    let text: String = stdout.trim().chars().take(MAX_MESSAGE_CHARS).collect();
    (None, (!text.is_empty()).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBTEST: &str = r#"{ "type": "suite", "event": "started", "test_count": 3 }
{ "type": "test", "event": "started", "name": "tests::adds" }
{ "type": "test", "name": "tests::adds", "event": "ok", "exec_time": 0.0012 }
{ "type": "test", "name": "tests::slow", "event": "ignored", "message": "slow" }
{ "type": "test", "name": "tests::wrong", "event": "failed", "exec_time": 0.18, "stdout": "\nthread 'tests::wrong' panicked at src/lib.rs:6:26:\nassertion failed: one and one\nstack backtrace:\n   0: x\n" }
{ "type": "suite", "event": "failed", "passed": 1, "failed": 1, "ignored": 1, "measured": 0, "filtered_out": 0, "exec_time": 0.183 }
"#;

    #[test]
    fn libtest_cases_counts_and_panic_messages() {
        let r = parse(LIBTEST.as_bytes()).unwrap();
        assert_eq!(r.source, TestRunSource::LibtestJson);
        assert_eq!(r.cases.len(), 3);
        assert_eq!(r.cases[0].classname, "tests");
        assert_eq!(r.cases[0].name, "adds");
        assert_eq!(r.cases[0].duration_ms, Some(1));
        assert_eq!(r.cases[1].status, TestStatus::Skipped);
        assert_eq!(r.cases[1].failure_message.as_deref(), Some("slow"));
        assert_eq!(r.cases[2].failure_type.as_deref(), Some("panic"));
        assert_eq!(
            r.cases[2].failure_message.as_deref(),
            Some("assertion failed: one and one")
        );
        assert_eq!(r.header, Some(TestCounts::of_cases(&r.cases)));
        assert_eq!(r.duration_ms, Some(183));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn nextest_names_are_recognised() {
        let text = r#"{"type":"test","event":"ok","name":"demo::demo$tests::adds","exec_time":0.006}
{"type":"suite","event":"ok","passed":1,"failed":0,"ignored":0,"measured":0,"filtered_out":0,"exec_time":0.01}"#;
        let r = parse(text.as_bytes()).unwrap();
        assert_eq!(r.source, TestRunSource::NextestJson);
        assert_eq!(r.cases[0].classname, "demo::demo$tests");
        assert_eq!(r.header, None);
    }

    #[test]
    fn text_that_is_not_a_stream_is_refused_and_stray_lines_are_warned_about() {
        assert!(parse(b"running 3 tests\ntest a ... ok\n").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"{\"a\":1}\n").is_err());
        assert!(parse(&[0xff, 0xfe]).is_err());
        let mixed = format!("Compiling demo\n{LIBTEST}");
        assert_eq!(parse(mixed.as_bytes()).unwrap().warnings.len(), 1);
    }
}
