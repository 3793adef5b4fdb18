//! A test report (JUnit XML, libtest or nextest JSON) through the service: parsed by
//! [`crate::testreports`] into a test run of an existing session, committed like an
//! `acd.test_run` span, then read back as stored.

use super::IngestService;
use crate::domain::SpanBatch;
use crate::store::test_runs::StoredTestRun;
use crate::testreports::{ReportError, ReportFormat, Upload, parse, to_record};

/// A report stored (or found already stored) for a session.
pub struct StoredReport {
    pub run: StoredTestRun,
    pub duplicate: bool,
}

impl IngestService {
    /// Parses a report and commits it as a run of `upload.session`, which must exist.
    pub async fn commit_report(
        &self,
        bytes: &[u8],
        format: ReportFormat,
        upload: &Upload,
    ) -> Result<StoredReport, ReportError> {
        if !self.store.session_exists(upload.session).await? {
            return Err(ReportError::UnknownSession(upload.session));
        }
        let parsed = parse(bytes, format)?;
        let record = to_record(bytes, parsed, upload);
        let id = record.key.row_id();
        let mut batch = SpanBatch {
            test_runs: vec![record],
            ..SpanBatch::default()
        };
        let committed = self.commit(&mut batch, "test run").await?;
        if let Some(refused) = batch.rejected.first() {
            // The run is the batch's only record: refused, it is the report's content at fault.
            return Err(ReportError::Malformed(format!(
                "a value of this report cannot be stored: {}",
                refused.reason
            )));
        }
        let run = self
            .store
            .test_run(id)
            .await?
            .ok_or(ReportError::NotStored(id))?;
        Ok(StoredReport {
            duplicate: committed.report.new_test_runs.is_empty(),
            run,
        })
    }
}
