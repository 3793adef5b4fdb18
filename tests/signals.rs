//! The real `acd-collector serve` binary under signals, on a private PostgreSQL cluster:
//! SIGKILL mid-load while PostgreSQL is down loses nothing acknowledged (the spool replays after
//! the restart); SIGTERM finishes the request in flight, then exits 0 within the grace period.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use sqlx::Connection;

struct Collector {
    child: Child,
    http: String,
    api: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Collector {
    async fn start(cluster: &Cluster, spool: &std::path::Path) -> Self {
        let (grpc, http, api) = (free_port(), free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_acd-collector"))
            .arg("serve")
            .args(["--database-url", &cluster.url()])
            .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}")])
            .args(["--otlp-http", &format!("127.0.0.1:{http}")])
            .args(["--api", &format!("127.0.0.1:{api}")])
            .arg("--spool-dir")
            .arg(spool)
            .args(["--shutdown-grace-seconds", "3"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("the collector binary starts");
        let collector = Self {
            child,
            http: format!("http://127.0.0.1:{http}/v1/traces"),
            api: format!("http://127.0.0.1:{api}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = reqwest::get(format!("{}/healthz", collector.api)).await;
            if up.is_ok_and(|r| r.status() == 200) {
                return collector;
            }
            assert!(Instant::now() < deadline, "the collector did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn session_json(n: u32) -> String {
    format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{n:032x}","spanId":"{n:016x}",
        "name":"s","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000",
        "attributes":[{{"key":"gen_ai.operation.name","value":{{"stringValue":"invoke_agent"}}}},
                      {{"key":"gen_ai.conversation.id","value":{{"stringValue":"kill-{n}"}}}}]}}]}}]}}]}}"#
    )
}

async fn send(client: &reqwest::Client, url: &str, n: u32) -> Result<u16, reqwest::Error> {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(session_json(n))
        .send()
        .await
        .map(|r| r.status().as_u16())
}

async fn stored(cluster: &Cluster, ids: &[u32]) -> usize {
    let Ok(mut conn) = sqlx::PgConnection::connect_with(&cluster.options).await else {
        return 0;
    };
    let names: Vec<String> = ids.iter().map(|n| format!("kill-{n}")).collect();
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM harness_sessions WHERE external_id = ANY($1)")
            .bind(&names)
            .fetch_one(&mut conn)
            .await
            .unwrap_or(0);
    count as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_nothing_acknowledged() {
    let mut cluster = Cluster::start().await;
    let spool = tempfile::tempdir().unwrap();
    let mut collector = Collector::start(&cluster, spool.path()).await;
    let client = reqwest::Client::new();
    // Some requests while PostgreSQL is up, then the outage: the rest is acknowledged from the
    // spool only.
    let mut acknowledged = Vec::new();
    for n in 1..=3 {
        assert_eq!(send(&client, &collector.http, n).await.unwrap(), 200);
        acknowledged.push(n);
    }
    cluster.stop().await;
    let load = {
        let (client, url) = (client.clone(), collector.http.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 4.. {
                match send(&client, &url, n).await {
                    Ok(200) => acked.push(n),
                    Ok(status) => panic!("request {n} answered {status}"),
                    // The collector was killed: this request was never acknowledged.
                    Err(_) => return acked,
                }
            }
            unreachable!()
        })
    };
    // Kill once a few requests were spooled, while the load is still running.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(spool.path()).unwrap().count() < 5 {
        assert!(Instant::now() < deadline, "nothing was spooled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    collector.signal("KILL");
    let _ = collector.child.wait();
    acknowledged.extend(load.await.unwrap());
    assert!(acknowledged.len() >= 8, "{acknowledged:?}");

    cluster.restart().await;
    let mut collector = Collector::start(&cluster, spool.path()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored(&cluster, &acknowledged).await < acknowledged.len() {
        assert!(
            Instant::now() < deadline,
            "acknowledged requests lost: {} of {} stored",
            stored(&cluster, &acknowledged).await,
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    collector.signal("TERM");
    assert!(collector.child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_and_exits_zero_in_time() {
    let mut cluster = Cluster::start().await;
    let spool = tempfile::tempdir().unwrap();
    let mut collector = Collector::start(&cluster, spool.path()).await;
    cluster.stop().await;
    // With PostgreSQL down the request takes seconds (the pool's acquire time-out, then the
    // spool): SIGTERM arrives while it is in flight.
    let in_flight = {
        let url = collector.http.clone();
        tokio::spawn(async move { send(&reqwest::Client::new(), &url, 1).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    collector.signal("TERM");
    assert_eq!(in_flight.await.unwrap().unwrap(), 200, "answered, not cut");
    let status = loop {
        if let Some(status) = collector.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(15),
            "no exit within the grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    // The acknowledged request is in the spool for the next start.
    let spooled = std::fs::read_dir(spool.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "otlp")
        })
        .count();
    assert_eq!(spooled, 1);
    let refused = reqwest::get(format!("{}/healthz", collector.api)).await;
    assert!(refused.is_err(), "stopped accepting");
}
