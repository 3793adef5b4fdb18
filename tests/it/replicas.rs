//! Scale-out: two collector processes on one database behave as one. A workload of several
//! sessions (turns and tools found only through their trace, test runs) is sent once to a single
//! replica, and once shuffled and split at random across two replicas that ingest concurrently;
//! the REST answers must be identical and the two replicas' counters must add up to the single
//! replica's (and to the workload's own figures). See docs/scaling.md.

use crate::common;

use std::time::SystemTime;

use common::serve::ServeProcess;
use common::spans::{self, Tokens};
use common::test_reports::{case, test_run_span};
use common::{TestDb, admin_url};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;

const SESSIONS: u128 = 4;
const TURNS: u64 = 8;
const TOOLS_PER_TURN: u64 = 2;

/// One `acd-collector serve` process on `db`.
async fn start(db: &TestDb) -> ServeProcess {
    let url = format!("{}/{}", admin_url().rsplit_once('/').unwrap().0, db.name);
    ServeProcess::start(&["--database-url", &url, "--db-max-connections", "4"]).await
}

/// GET a path that must answer 200; its JSON body.
async fn get(replica: &ServeProcess, path: &str) -> Value {
    let (status, body) = replica.get(path).await;
    assert_eq!(status, 200, "GET {path}");
    body
}

/// Sessions with turns and tools that carry no session id (found through their trace), so
/// the order of arrival matters to the ingest path, and a test run each.
fn workload() -> Vec<SpanData> {
    let mut out = Vec::new();
    for s in 0..SESSIONS {
        let trace = 0xabc0_0000 + s;
        let start = s as u64 * 100_000;
        out.push(spans::session(
            trace,
            1,
            &format!("replica-session-{s}"),
            (start, start + 90_000),
        ));
        for n in 0..TURNS {
            let t = start + 1_000 + n * 10_000;
            let tokens = Tokens {
                input: 1_000 + (n as i64) * 100 + s as i64,
                output: 50 + n as i64,
                cache_read: 200,
                cache_write: 10 * n as i64,
            };
            let turn_span = 10 + n;
            let ttft = 0.2 + n as f64 / 10.0;
            out.push(spans::turn(
                trace,
                turn_span,
                1,
                n as i64 + 1,
                (t, t + 5_000),
                tokens,
                ttft,
            ));
            for k in 0..TOOLS_PER_TURN {
                let path = format!("src/file_{s}_{n}_{k}.rs");
                let window = (t + 5_000 + k * 100, t + 5_050 + k * 100);
                out.push(spans::tool(
                    trace,
                    100 + n * 10 + k,
                    turn_span,
                    "Read",
                    &path,
                    window,
                ));
            }
        }
        let status = if s % 2 == 0 { "passed" } else { "failed" };
        out.push(test_run_span(
            trace,
            2,
            vec![KeyValue::new("acd.test.suite", "unit")],
            vec![case("test_a", "passed"), case("test_b", status)],
        ));
    }
    out
}

/// A small deterministic generator, seeded per run (the seed is printed on failure).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The REST answers about everything stored, with the fields that only say when a row was written
/// removed.
async fn rest_view(replica: &ServeProcess) -> Value {
    let list = get(replica, "/api/db/sessions?limit=500").await;
    let mut view = serde_json::Map::new();
    for s in list["sessions"].as_array().expect("sessions array") {
        let id = s["id"].as_str().unwrap().to_string();
        for part in ["", "/turns", "/timing"] {
            let path = format!("/api/db/sessions/{id}{part}");
            view.insert(path.clone(), get(replica, &path).await);
        }
    }
    view.insert("sessions".into(), list);
    for path in [
        "/api/db/token-usage?days=7",
        "/api/db/token-usage/by-model?days=7",
        "/api/db/token-usage/efficiency?days=7",
        "/api/db/retries/summary?days=7",
        "/api/db/tests/flaky",
        &format!("/api/db/tests/{}", spans::TARGET_ID),
    ] {
        view.insert(path.into(), get(replica, path).await);
    }
    let mut view = Value::Object(view);
    strip_write_times(&mut view);
    view
}

fn strip_write_times(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !matches!(k.as_str(), "created_at" | "updated_at" | "received_at"));
            map.values_mut().for_each(strip_write_times);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_write_times),
        _ => {}
    }
}

/// Where two JSON documents differ: one line per differing leaf (the first 20).
fn diff(got: &Value, want: &Value, path: &str, out: &mut Vec<String>) {
    if out.len() >= 20 {
        return;
    }
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for key in g
                .keys()
                .chain(w.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                let (g, w) = (g.get(key), w.get(key));
                diff(
                    g.unwrap_or(&Value::Null),
                    w.unwrap_or(&Value::Null),
                    &format!("{path}/{key}"),
                    out,
                );
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                diff(g, w, &format!("{path}[{i}]"), out);
            }
        }
        // Float sums depend on the order rows are read in.
        (Value::Number(g), Value::Number(w)) if g.is_f64() || w.is_f64() => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            if (g - w).abs() > 1e-9 * g.abs().max(w.abs()).max(1.0) {
                out.push(format!("{path}: {g} instead of {w}"));
            }
        }
        _ if got != want => out.push(format!("{path}: {got} instead of {want}")),
        _ => {}
    }
}

/// Counter and histogram samples, by name and sorted labels; gauges apart.
fn counters(scrape: &prometheus_parse::Scrape) -> std::collections::BTreeMap<String, f64> {
    use prometheus_parse::Value as V;
    let mut out = std::collections::BTreeMap::new();
    for s in &scrape.samples {
        // acd_test_regressions_total counts the regressions each process has seen (a session
        // once per process, transient ones included), so it depends on arrival order and on the
        // number of replicas; docs/scaling.md says so. Not one of the summable counters.
        if s.metric == "acd_test_regressions_total" {
            continue;
        }
        // A test run that commits before its session's target is known is counted under
        // target="none" (src/metrics/test_runs.rs): which label depends on arrival order with one
        // replica as with two, so acd_tests_total is compared summed over targets.
        let mut labels: Vec<_> = s
            .labels
            .iter()
            .filter(|(k, _)| !(s.metric == "acd_tests_total" && *k == "target"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.sort();
        let key = |suffix: &str| format!("{}{suffix}{{{}}}", s.metric, labels.join(","));
        match &s.value {
            V::Counter(v) => {
                *out.entry(key("")).or_default() += v;
            }
            V::Histogram(buckets) => {
                for b in buckets {
                    *out.entry(key(&format!("_bucket_le_{}", b.less_than)))
                        .or_default() += b.count;
                }
            }
            // Counters exposed as `<name>_total` under `# TYPE <name> counter`, and histograms'
            // `_sum`/`_count`, are read as untyped by the parser.
            V::Untyped(v) => {
                *out.entry(key("")).or_default() += v;
            }
            _ => {}
        }
    }
    out
}

fn add(
    mut a: std::collections::BTreeMap<String, f64>,
    b: std::collections::BTreeMap<String, f64>,
) -> std::collections::BTreeMap<String, f64> {
    for (k, v) in b {
        *a.entry(k).or_default() += v;
    }
    // Sums of floats (histogram _sum) depend on the order they were added in.
    a.values_mut().for_each(|v| *v = (*v * 1e6).round() / 1e6);
    a.retain(|_, v| *v != 0.0);
    a
}

/// Sends in batches of 1–6 spans, one after another, as one exporter would.
async fn send(replica: &ServeProcess, spans: Vec<SpanData>, mut rng: Rng) {
    let mut spans = spans.into_iter().peekable();
    while spans.peek().is_some() {
        let size = 1 + rng.below(6);
        replica.export(spans.by_ref().take(size).collect()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_database_answer_and_count_like_one() {
    let spans = workload();
    let total = spans.len();

    let single_db = TestDb::new().await;
    let single = start(&single_db).await;
    single.export(spans.clone()).await;
    let expected_rest = rest_view(&single).await;
    let expected_counters = add(counters(&single.scrape().await), Default::default());

    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let mut shuffled = spans.clone();
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i + 1));
    }
    // Each span goes to a random replica; each replica sends its share in small batches while
    // the other sends its own, so batches of one session commit concurrently on both.
    let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
    for span in shuffled {
        if rng.below(2) == 0 {
            &mut to_a
        } else {
            &mut to_b
        }
        .push(span);
    }
    let db = TestDb::new().await;
    let (a, b) = tokio::join!(start(&db), start(&db));
    let (a_spans, b_spans) = (to_a.len(), to_b.len());
    tokio::join!(send(&a, to_a, Rng(seed ^ 1)), send(&b, to_b, Rng(seed ^ 2)));

    let context = format!("seed {seed}: {a_spans} spans to replica A, {b_spans} to B");
    // Either replica answers for the whole database.
    for (name, replica) in [("A", &a), ("B", &b)] {
        let mut differences = Vec::new();
        diff(
            &rest_view(replica).await,
            &expected_rest,
            "",
            &mut differences,
        );
        assert!(
            differences.is_empty(),
            "replica {name} differs from a single replica ({context}):\n{}",
            differences.join("\n")
        );
    }

    let summed = add(counters(&a.scrape().await), counters(&b.scrape().await));
    let keys: std::collections::BTreeSet<&String> =
        summed.keys().chain(expected_counters.keys()).collect();
    let wrong: Vec<String> = keys
        .into_iter()
        .filter(|k| summed.get(*k) != expected_counters.get(*k))
        .map(|k| {
            format!(
                "{k}: {:?} summed, {:?} single",
                summed.get(k),
                expected_counters.get(k)
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "summed counters differ ({context}):\n{}",
        wrong.join("\n")
    );
    // And the single replica's counters are the workload's own figures.
    let turns = (SESSIONS as u64 * TURNS) as f64;
    let count = |name: &str| -> f64 {
        summed
            .iter()
            .filter(|(k, _)| k.starts_with(name))
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(count("acd_model_requests_total{"), turns, "{context}");
    assert_eq!(count("acd_sessions_total{"), SESSIONS as f64, "{context}");
    assert_eq!(
        count("acd_otlp_spans_received_total{outcome=accepted"),
        total as f64,
        "{context}"
    );
    assert_eq!(
        count("acd_tests_total{"),
        (SESSIONS * 2) as f64,
        "{context}"
    );
    let tokens_out: f64 = (0..SESSIONS as u64)
        .map(|_| (0..TURNS).map(|n| 50 + n).sum::<u64>() as f64)
        .sum();
    assert_eq!(
        count("acd_tokens_total{model=claude-sonnet-4-5-20250929,type=output"),
        tokens_out,
        "{context}"
    );
}
