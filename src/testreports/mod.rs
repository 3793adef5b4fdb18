//! Test reports as test tools write them — JUnit XML ([`junit`]) and libtest / cargo-nextest JSON
//! streams ([`libtest`]) — parsed (pure functions) into a [`TestRunRecord`] of a session, then
//! stored through the ingest service ([`crate::ingest::IngestService::commit_report`]), so
//! uploads and `acd.test_run` spans land in the same tables. Used by
//! `POST /api/db/sessions/{id}/test-runs` and by `acd-collector ingest junit|test-json`.
//!
//! An upload's identity is the SHA-256 of its bytes within its session: the same report sent
//! again is a duplicate and changes nothing.

pub mod junit;
pub mod libtest;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::limits::MAX_DURATION_MS;
use crate::domain::{
    TestCaseRecord, TestCounts, TestRunRecord, TestRunSource, failure_reasons, synthetic_key,
};

/// The report formats accepted; `Json` tells libtest from nextest by the test names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Junit,
    Json,
    LibtestJson,
    NextestJson,
}

impl ReportFormat {
    /// `?format=` / `--format` values.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "junit" | "junit-xml" | "xml" => Some(ReportFormat::Junit),
            "json" => Some(ReportFormat::Json),
            "libtest" | "libtest-json" => Some(ReportFormat::LibtestJson),
            "nextest" | "nextest-json" => Some(ReportFormat::NextestJson),
            _ => None,
        }
    }

    /// From a Content-Type: XML types are JUnit, JSON and NDJSON types are event streams.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        if essence == "application/xml" || essence == "text/xml" || essence.ends_with("+xml") {
            Some(ReportFormat::Junit)
        } else if essence == "application/json"
            || essence == "application/x-ndjson"
            || essence == "application/jsonl"
            || essence == "application/json-seq"
        {
            Some(ReportFormat::Json)
        } else {
            None
        }
    }

    /// By the first non-blank byte: `<` is XML, `{` is a JSON stream.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'<') => Some(ReportFormat::Junit),
            Some(b'{') => Some(ReportFormat::Json),
            _ => None,
        }
    }
}

/// What a report says, before it is tied to a session.
#[derive(Debug, Clone)]
pub struct ParsedReport {
    pub source: TestRunSource,
    pub suite: Option<String>,
    /// The report's own summary counts, when it has trustworthy ones.
    pub header: Option<TestCounts>,
    pub cases: Vec<TestCaseRecord>,
    pub duration_ms: Option<i64>,
    pub started_at: Option<DateTime<Utc>>,
    pub warnings: Vec<String>,
}

pub fn parse(bytes: &[u8], format: ReportFormat) -> Result<ParsedReport, ReportError> {
    match format {
        ReportFormat::Junit => junit::parse(bytes),
        ReportFormat::Json => libtest::parse(bytes),
        ReportFormat::LibtestJson | ReportFormat::NextestJson => {
            let mut report = libtest::parse(bytes)?;
            report.source = if format == ReportFormat::NextestJson {
                TestRunSource::NextestJson
            } else {
                TestRunSource::LibtestJson
            };
            Ok(report)
        }
    }
}

/// Who the report is for, and what the uploader adds to it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub session: Uuid,
    /// Overrides the report's own suite name.
    pub suite: Option<String>,
    pub revision: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// The run of a parsed report. Counts are the cases' tallies (the report's summary when it has
/// no cases); a summary that disagrees with the cases is kept as a warning.
pub fn to_record(bytes: &[u8], parsed: ParsedReport, upload: &Upload) -> TestRunRecord {
    let sha: Vec<u8> = Sha256::digest(bytes).to_vec();
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    let mut warnings = parsed.warnings;
    let counts = match parsed.header {
        Some(header) => {
            warnings.extend(header.warnings(&parsed.cases));
            if parsed.cases.is_empty() {
                header
            } else {
                TestCounts::of_cases(&parsed.cases)
            }
        }
        None => TestCounts::of_cases(&parsed.cases),
    };
    let duration_ms = parsed
        .duration_ms
        .filter(|d| (0..=MAX_DURATION_MS).contains(d));
    if duration_ms != parsed.duration_ms {
        warnings.push(format!(
            "the run's duration ({:?} ms) is implausible and was ignored",
            parsed.duration_ms
        ));
    }
    // A report arrives after its run: without its own start time, it started `duration` ago.
    let started_at = parsed.started_at.unwrap_or_else(|| {
        upload.received_at - chrono::Duration::milliseconds(duration_ms.unwrap_or(0))
    });
    TestRunRecord {
        key: synthetic_key(upload.session, &format!("test_run:{hex}")),
        session_id: Some(upload.session),
        session_external_id: None,
        suite: upload.suite.clone().or(parsed.suite),
        counts,
        duration_ms,
        started_at,
        vcs_revision: upload.revision.clone(),
        source: parsed.source,
        content_sha256: Some(sha),
        failure_reasons: failure_reasons(&parsed.cases),
        warnings,
        cases: parsed.cases,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("session {0} not found")]
    UnknownSession(Uuid),
    #[error("malformed test report: {0}")]
    Malformed(String),
    #[error("test run {0} was committed but cannot be read back")]
    NotStored(Uuid),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_content_types_names_and_bytes() {
        let ct = ReportFormat::from_content_type;
        assert_eq!(ct("application/xml"), Some(ReportFormat::Junit));
        assert_eq!(ct("text/xml; charset=utf-8"), Some(ReportFormat::Junit));
        assert_eq!(ct("application/x-ndjson"), Some(ReportFormat::Json));
        assert_eq!(ct("text/plain"), None);
        assert_eq!(
            ReportFormat::parse("nextest-json"),
            Some(ReportFormat::NextestJson)
        );
        assert_eq!(ReportFormat::parse("csv"), None);
        assert_eq!(
            ReportFormat::sniff(b"\n <testsuites/>"),
            Some(ReportFormat::Junit)
        );
        assert_eq!(ReportFormat::sniff(b"hello"), None);
    }

    #[test]
    fn the_same_report_has_the_same_key_and_a_summary_mismatch_is_a_warning() {
        let xml = br#"<testsuite name="s" tests="3" failures="1"><testcase name="a"/><testcase name="b"><failure message="no"/></testcase></testsuite>"#;
        let upload = Upload {
            session: Uuid::from_u128(7),
            suite: None,
            revision: Some("r1".into()),
            received_at: Utc::now(),
        };
        let one = to_record(xml, parse(xml, ReportFormat::Junit).unwrap(), &upload);
        let two = to_record(xml, parse(xml, ReportFormat::Junit).unwrap(), &upload);
        assert_eq!(one.key, two.key);
        assert_eq!(
            one.counts,
            TestCounts {
                total: 2,
                passed: 1,
                failed: 1,
                skipped: 0,
                errors: 0
            }
        );
        assert_eq!(one.warnings.len(), 1, "{:?}", one.warnings);
        assert_eq!(one.suite.as_deref(), Some("s"));
        assert_eq!(one.content_sha256.as_ref().map(Vec::len), Some(32));
    }
}
