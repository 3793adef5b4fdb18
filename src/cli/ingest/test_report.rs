//! `acd-collector ingest junit FILE --session ID` and `ingest test-json FILE --session ID`:
//! store a test report as a run of a session, in the database (the same database choice and
//! migrations as `serve`) or, with `--endpoint`, through a running collector's
//! `POST /api/db/sessions/{id}/test-runs`. The stored run is printed to stdout as JSON, a
//! one-line summary to stderr.

use std::io::Read;

use chrono::Utc;
use serde_json::Value;

use super::{Sink, TestReportArgs};
use crate::Error;
use crate::domain::session_uuid;
use crate::testreports::{ReportFormat, Upload};

pub async fn run(args: TestReportArgs, default_format: ReportFormat) -> Result<(), Error> {
    let format = match &args.format {
        Some(text) => ReportFormat::parse(text).ok_or_else(|| {
            Error::Usage(format!(
                "unknown --format {text:?} (junit, json, libtest-json, nextest-json)"
            ))
        })?,
        None => default_format,
    };
    let bytes = read(&args.file)?;
    let upload = Upload {
        session: session_uuid(&args.session),
        suite: args.suite.clone(),
        revision: args.revision.clone(),
        received_at: Utc::now(),
    };
    let sink = Sink::open(&args.output).await?;
    let sent = send(&sink, bytes, format, &upload).await;
    sink.close().await;
    let run = sent?;
    let duplicate = run["duplicate"].as_bool().unwrap_or(false);
    let n = |k: &str| run[k].as_i64().unwrap_or(0);
    eprintln!(
        "test run {} of session {}: {} tests, {} passed, {} failed, {} errors, {} skipped ({})",
        run["id"].as_str().unwrap_or("?"),
        upload.session,
        n("total"),
        n("passed"),
        n("failed"),
        n("errors"),
        n("skipped"),
        if duplicate {
            "already stored"
        } else {
            "stored"
        }
    );
    for warning in run["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", warning.as_str().unwrap_or_default());
    }
    println!("{run}");
    Ok(())
}

/// Stores or sends the report; the stored run as the REST endpoint answers it.
async fn send(
    sink: &Sink,
    bytes: Vec<u8>,
    format: ReportFormat,
    upload: &Upload,
) -> Result<Value, Error> {
    if let Some(service) = sink.service() {
        let stored = service.commit_report(&bytes, format, upload).await?;
        let run = crate::api::responses::StoredTestRun::from(stored.run);
        let mut json = serde_json::to_value(&run).unwrap_or_default();
        json["duplicate"] = Value::Bool(stored.duplicate);
        return Ok(json);
    }
    let client = sink
        .client()
        .expect("a sink is the database or a collector");
    let format_name = match format {
        ReportFormat::Junit => "junit",
        ReportFormat::Json => "json",
        ReportFormat::LibtestJson => "libtest-json",
        ReportFormat::NextestJson => "nextest-json",
    };
    let mut query = vec![("format", format_name.to_string())];
    query.extend(upload.suite.clone().map(|s| ("suite", s)));
    query.extend(upload.revision.clone().map(|r| ("revision", r)));
    let url = client.url(
        &format!("/api/db/sessions/{}/test-runs", upload.session),
        &query,
    )?;
    let content_type = if format == ReportFormat::Junit {
        "application/xml"
    } else {
        "application/x-ndjson"
    };
    client.post_bytes(url, content_type, bytes).await
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let read_error = |source| Error::Read {
        path: path.display().to_string(),
        source,
    };
    if path == std::path::Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(read_error)
    }
}
