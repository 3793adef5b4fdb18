//! `acd-collector ingest claude-stream FILE|-` and `ingest claude-transcript FILE…`: parse, then
//! either write to the database (the same database choice and migrations as `serve`) or POST the
//! [`ParsedRun`] to a collector's `/api/db/ingest/claude-run` (`--endpoint`). [`Sink`] and
//! [`summary`] are public so the `run` wrapper records its runs the same way. A one-screen
//! summary of each run goes to stderr.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{ParsedRun, SourceFormat};
use super::stream::StreamParser;
use super::to_batch::{MapOptions, aggregate_only, session_failed, to_batch};
use crate::config::{IngestCommand, IngestOutput};
use crate::domain::{IngestReport, SpanBatch, session_uuid};
use crate::pricing::PriceTable;
use crate::store::{DatabaseHandle, Store, open_database};

/// The path of the collector endpoint that takes a [`ParsedRun`].
pub const ENDPOINT_PATH: &str = "/api/db/ingest/claude-run";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("cannot send to {url}: {message}")]
    Send { url: String, message: String },
    #[error("{url} refused the run ({status}): {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// What storing one run did; also the endpoint's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestSummary {
    pub session_id: Uuid,
    /// The CLI's session id, or the content-derived one when the stream had none.
    pub external_id: String,
    pub turns: usize,
    pub tool_calls: usize,
    pub retries: usize,
    /// Records (session, turns, tools, retries) stored now.
    pub new_records: usize,
    /// Records that were already stored (a re-ingest changes nothing).
    pub duplicates: usize,
    /// Session totals come from the result line, not the turns.
    pub aggregate_only: bool,
    /// Our cost from the price table (sum of the turns).
    pub cost_usd: f64,
    /// The CLI's own `total_cost_usd`.
    pub reported_cost_usd: Option<f64>,
    /// Records refused (each named, with the reason): past the limits of `domain::limits`, or
    /// refused by the database; everything else of the run is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
}

/// Maps and writes one run in one transaction.
pub async fn store_run(
    store: &Store,
    prices: &PriceTable,
    run: &ParsedRun,
    options: &MapOptions,
) -> Result<(SpanBatch, IngestReport, IngestSummary), crate::store::Error> {
    let mut batch = to_batch(run, prices, options);
    let stored = store.write_spans_isolated(&batch).await?;
    let report = stored.report;
    for refused in stored.refused {
        batch.rejected.push(crate::domain::Rejection {
            span_name: batch.describe(refused.record),
            reason: refused.reason,
        });
    }
    let rejected = batch
        .rejected
        .iter()
        .map(|r| format!("{}: {}", r.span_name, r.reason))
        .collect();
    let session = &batch.sessions[0];
    let summary = IngestSummary {
        session_id: session.id,
        external_id: session.external_id.clone(),
        turns: batch.turns.len(),
        tool_calls: batch.tools.len(),
        retries: batch.retries.len(),
        new_records: report.new_span_count(),
        duplicates: report.duplicates,
        aggregate_only: aggregate_only(run),
        cost_usd: batch.turns.iter().fold(0.0, |sum, t| sum + t.cost_usd),
        reported_cost_usd: run.result.as_ref().and_then(|r| r.total_cost_usd),
        rejected,
    };
    Ok((batch, report, summary))
}

/// Where parsed runs go: the database, or a collector's REST endpoint.
pub enum Sink {
    Database {
        handle: DatabaseHandle,
        prices: PriceTable,
    },
    Endpoint {
        client: reqwest::Client,
        url: String,
    },
}

impl Sink {
    pub async fn open(output: &IngestOutput) -> Result<Self, crate::Error> {
        if let Some(endpoint) = &output.endpoint {
            let url = format!("{}{ENDPOINT_PATH}", endpoint.trim_end_matches('/'));
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
            return Ok(Sink::Endpoint { client, url });
        }
        let prices = match &output.prices {
            Some(path) => PriceTable::load(path).map_err(|e| Error::Config(e.to_string()))?,
            None => PriceTable::shipped_default(),
        };
        let handle = open_database(&output.database).await?;
        crate::app::migrate_with_retry(&handle.store).await?;
        Ok(Sink::Database { handle, prices })
    }

    /// Stores or sends one run; `fallback_time` is its end time if it carries no times.
    pub async fn send(
        &self,
        run: &ParsedRun,
        target: Option<&str>,
        fallback_time: DateTime<Utc>,
    ) -> Result<IngestSummary, Error> {
        let options = MapOptions {
            target_id: target.map(session_uuid),
            fallback_time,
        };
        match self {
            Sink::Database { handle, prices } => {
                Ok(store_run(&handle.store, prices, run, &options).await?.2)
            }
            Sink::Endpoint { client, url } => {
                // RFC 3339 with `Z` and UUIDs need no escaping in a query string.
                let ended_at = fallback_time.to_rfc3339_opts(SecondsFormat::Millis, true);
                let mut query = format!("{url}?ended_at={ended_at}");
                if let Some(target) = options.target_id {
                    query.push_str(&format!("&target_id={target}"));
                }
                let send_error = |e: reqwest::Error| Error::Send {
                    url: url.clone(),
                    message: e.to_string(),
                };
                let response = crate::guard::with_api_token(client.post(&query))
                    .json(run)
                    .send()
                    .await
                    .map_err(send_error)?;
                let status = response.status();
                if !status.is_success() {
                    let body: serde_json::Value = response.json().await.unwrap_or_default();
                    return Err(Error::Refused {
                        url: url.clone(),
                        status: status.as_u16(),
                        message: body["error"].as_str().unwrap_or("no reason given").into(),
                    });
                }
                response.json().await.map_err(send_error)
            }
        }
    }

    pub async fn close(self) {
        if let Sink::Database { handle, .. } = self {
            handle.close().await;
        }
    }
}

/// Runs `acd-collector ingest …`.
pub async fn run(command: IngestCommand) -> Result<(), crate::Error> {
    let (runs, output) = match command {
        IngestCommand::Junit(args) => {
            return crate::testreports::cli::run(args, crate::testreports::ReportFormat::Junit)
                .await;
        }
        IngestCommand::TestJson(args) => {
            return crate::testreports::cli::run(args, crate::testreports::ReportFormat::Json)
                .await;
        }
        IngestCommand::ClaudeStream { file, output } => (vec![read_stream(&file)?], output),
        IngestCommand::ClaudeTranscript { files, output } => {
            if files.len() == 1 && !files[0].is_dir() {
                (vec![read_transcript(&files[0])?], output)
            } else {
                return history(&files, &output).await;
            }
        }
    };
    let sink = Sink::open(&output).await?;
    let prices = match &sink {
        Sink::Database { prices, .. } => prices.clone(),
        Sink::Endpoint { .. } => PriceTable::shipped_default(),
    };
    let mut result = Ok(());
    for (run, fallback) in &runs {
        match sink.send(run, output.target.as_deref(), *fallback).await {
            Ok(stored) => eprintln!("{}", summary(run, &prices, *fallback, Some(&stored))),
            Err(err) => {
                eprintln!("{}", summary(run, &prices, *fallback, None));
                result = Err(err.into());
                break;
            }
        }
    }
    sink.close().await;
    result
}

/// A stream-json file (`-`: stdin; `.gz`: decompressed) and its fallback time.
fn read_stream(path: &Path) -> Result<(ParsedRun, DateTime<Utc>), Error> {
    let mut parser = StreamParser::new();
    let fallback = read_lines(path, |line| parser.push_line(line, None))?;
    Ok((parser.finish(), fallback))
}

fn read_transcript(path: &Path) -> Result<(ParsedRun, DateTime<Utc>), Error> {
    let mut parser = StreamParser::for_transcript();
    let fallback = read_lines(path, |line| parser.push_line(line, None))?;
    Ok((parser.finish(), fallback))
}

/// Feeds each line to `each`; returns the file's modification time (now for stdin), the time a
/// run without clocks is taken to have ended.
fn read_lines(path: &Path, mut each: impl FnMut(&str)) -> Result<DateTime<Utc>, Error> {
    let read_error = |source| Error::Read {
        path: path.display().to_string(),
        source,
    };
    let (reader, modified): (Box<dyn Read>, DateTime<Utc>) = if path == Path::new("-") {
        (Box::new(std::io::stdin().lock()), Utc::now())
    } else {
        let file = File::open(path).map_err(read_error)?;
        let modified = file
            .metadata()
            .and_then(|m| m.modified())
            .map_or_else(|_| Utc::now(), DateTime::<Utc>::from);
        if path.extension().is_some_and(|e| e == "gz") {
            (Box::new(flate2::read::GzDecoder::new(file)), modified)
        } else {
            (Box::new(file), modified)
        }
    };
    for line in BufReader::new(reader).split(b'\n') {
        each(&String::from_utf8_lossy(&line.map_err(read_error)?));
    }
    Ok(modified)
}

/// The one-screen report printed after a run is stored or sent.
pub fn summary(
    run: &ParsedRun,
    prices: &PriceTable,
    fallback_time: DateTime<Utc>,
    stored: Option<&IngestSummary>,
) -> String {
    let options = MapOptions {
        target_id: None,
        fallback_time,
    };
    let batch = to_batch(run, prices, &options);
    let session = &batch.sessions[0];
    let totals = run.turn_totals();
    let ours = batch.turns.iter().fold(0.0, |sum, t| sum + t.cost_usd);
    let unpriced: Vec<&str> = batch
        .turns
        .iter()
        .filter(|t| !t.priced)
        .map(|t| t.model.as_str())
        .collect();
    let format = match run.format {
        SourceFormat::StreamJson => "stream-json",
        SourceFormat::Transcript => "transcript",
    };
    let external = if session.external_id == session.id.to_string() {
        String::new()
    } else {
        format!(" (source id {})", session.external_id)
    };
    let mut out = vec![format!(
        "session {}{external} — {format}, CLI {}, model {}",
        session.id,
        run.cli_version.as_deref().unwrap_or("?"),
        run.model.as_deref().unwrap_or("?"),
    )];
    let status = if session_failed(run) {
        "failed"
    } else {
        "completed"
    };
    out.push(format!(
        "  status {status}{}",
        session
            .status_message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    ));
    let num_turns = run.result.as_ref().and_then(|r| r.num_turns);
    out.push(format!(
        "  turns {} (result num_turns {}), tool calls {}, retries {}, compactions {}",
        run.turns.len(),
        num_turns.map_or("-".into(), |n| n.to_string()),
        run.tool_calls.len(),
        run.retries.len(),
        run.compactions.len(),
    ));
    out.push(format!(
        "  tokens (turns): input {}, output {}{}, cache read {}, cache write {} (1h: {})",
        totals.input,
        totals.output,
        run.reconciled_output_tokens
            .map(|n| format!(" ({n} reconciled from the result line)"))
            .unwrap_or_default(),
        totals.cache_read,
        totals.cache_write,
        totals.cache_write_1h,
    ));
    let reported = run.result.as_ref().and_then(|r| r.total_cost_usd);
    out.push(format!(
        "  cost: ours ${ours:.4}{}, reported {}",
        if unpriced.is_empty() {
            String::new()
        } else {
            format!(" (unpriced: {})", unpriced.join(", "))
        },
        reported.map_or("-".into(), |r| {
            let diff = if r > 0.0 {
                format!(" ({:+.2}%)", (ours - r) / r * 100.0)
            } else {
                String::new()
            };
            format!("${r:.4}{diff}")
        }),
    ));
    if let Some(reported) = session.reported.as_ref().filter(|r| r.aggregate_only) {
        let u = reported.usage.unwrap_or_default();
        out.push(format!(
            "  session totals from the result line (per-turn figures incomplete): input {}, \
             output {}, cache read {}, cache write {} (1h: {}), our cost ${:.4}",
            u.input,
            u.output,
            u.cache_read,
            u.cache_write,
            u.cache_write_1h,
            reported.computed_cost_usd.unwrap_or(0.0),
        ));
    }
    let skipped: Vec<String> = run
        .skipped
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    out.push(format!(
        "  lines {} ({} blank); skipped: {}",
        run.lines,
        run.blank_lines,
        if skipped.is_empty() {
            "none".into()
        } else {
            skipped.join(", ")
        },
    ));
    if !run.parse_errors.is_empty() {
        out.push(format!("  unparsable lines: {:?}", run.parse_errors));
    }
    if let Some(line) = run.truncated_line {
        out.push(format!("  last line {line} is truncated"));
    }
    if let Some(s) = stored {
        out.push(format!(
            "  stored: {} new records, {} already stored",
            s.new_records, s.duplicates
        ));
    }
    out.join("\n")
}

/// Many transcripts (directories, or several files): one at a time, so a large history is never
/// held in memory; a file that cannot be read is reported and skipped, a sink error stops.
async fn history(paths: &[std::path::PathBuf], output: &IngestOutput) -> Result<(), crate::Error> {
    let paths = if paths.is_empty() {
        let dir = super::history::default_dir()
            .ok_or_else(|| Error::Config("no HOME to find ~/.claude/projects".into()))?;
        vec![dir]
    } else {
        paths.to_vec()
    };
    let files = super::history::transcript_files(&paths)?;
    let sink = Sink::open(output).await?;
    let bar = super::history::progress(files.len());
    let mut totals = super::history::Totals::default();
    let mut result = Ok(());
    for file in &files {
        let (run, fallback) = match read_transcript(file) {
            Ok(read) => read,
            Err(err) => {
                bar.suspend(|| eprintln!("skipped: {err}"));
                totals.failed += 1;
                bar.inc(1);
                continue;
            }
        };
        match sink.send(&run, output.target.as_deref(), fallback).await {
            Ok(stored) => totals.add(&stored),
            Err(err) => {
                result = Err(err.into());
                break;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    sink.close().await;
    eprintln!("{}", totals.summary());
    result
}
