//! `acd-collector ingest junit FILE --session ID` and `ingest test-json FILE --session ID`:
//! store a test report as a run of a session, in the database (the same database choice and
//! migrations as `serve`) or, with `--endpoint`, through a running collector's
//! `POST /api/db/sessions/{id}/test-runs`. The stored run is printed to stdout as JSON, a
//! one-line summary to stderr.

use std::io::Read;

use chrono::Utc;
use serde_json::Value;

use super::{ReportError, ReportFormat, Upload, store_report};
use crate::config::TestReportArgs;
use crate::domain::session_uuid;
use crate::error::Error;
use crate::store::open_database;

pub async fn run(args: TestReportArgs, default_format: ReportFormat) -> Result<(), Error> {
    let format = match &args.format {
        Some(text) => ReportFormat::parse(text).ok_or_else(|| {
            Error::Config(format!(
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
    let (run, duplicate) = match &args.output.endpoint {
        Some(endpoint) => send(endpoint, bytes, format, &upload).await?,
        None => {
            let handle = open_database(&args.output.database).await?;
            let stored = async {
                crate::app::migrate_with_retry(&handle.store).await?;
                match store_report(&handle.store, &bytes, format, &upload).await {
                    Ok(stored) => Ok(stored),
                    Err(ReportError::Store(e)) => Err(Error::Store(e)),
                    Err(other) => Err(Error::Config(other.to_string())),
                }
            }
            .await;
            handle.close().await;
            let stored = stored?;
            let mut json = serde_json::to_value(&stored.run).unwrap_or_default();
            json["duplicate"] = Value::Bool(stored.duplicate);
            (json, stored.duplicate)
        }
    };
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

fn read(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io {
        context: format!("cannot read {}", path.display()),
        source,
    };
    if path == std::path::Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(io)?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(io)
    }
}

async fn send(
    endpoint: &str,
    bytes: Vec<u8>,
    format: ReportFormat,
    upload: &Upload,
) -> Result<(Value, bool), Error> {
    let base = format!(
        "{}/api/db/sessions/{}/test-runs",
        endpoint.trim_end_matches('/'),
        upload.session
    );
    let format_name = match format {
        ReportFormat::Junit => "junit",
        ReportFormat::Json => "json",
        ReportFormat::LibtestJson => "libtest-json",
        ReportFormat::NextestJson => "nextest-json",
    };
    let mut params = vec![("format", format_name.to_string())];
    params.extend(upload.suite.clone().map(|s| ("suite", s)));
    params.extend(upload.revision.clone().map(|r| ("revision", r)));
    let url = reqwest::Url::parse_with_params(&base, &params)
        .map_err(|e| Error::Config(format!("bad --endpoint {endpoint:?}: {e}")))?;
    let failed = |e: reqwest::Error| Error::Config(format!("cannot send to {base}: {e}"));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(failed)?;
    let response = crate::guard::with_api_token(client.post(url))
        .header(
            reqwest::header::CONTENT_TYPE,
            if format == ReportFormat::Junit {
                "application/xml"
            } else {
                "application/x-ndjson"
            },
        )
        .body(bytes)
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(Error::Config(format!(
            "{base} refused the report ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        )));
    }
    let duplicate = body["duplicate"].as_bool().unwrap_or(false);
    Ok((body, duplicate))
}
