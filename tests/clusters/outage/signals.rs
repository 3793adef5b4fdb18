//! The real `acd-collector serve` binary under signals, on a private PostgreSQL cluster:
//! SIGKILL mid-load while PostgreSQL is down loses nothing acknowledged (the spool replays after
//! the restart); SIGTERM finishes the request in flight (its body still arriving), then exits 0 within the
//! grace period.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::cluster::Cluster;
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

/// Requests waiting in a spool directory.
fn spooled(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "otlp")
        })
        .count()
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
    while spooled(spool.path()) < 5 {
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
    let cluster = Cluster::start().await;
    let spool = tempfile::tempdir().unwrap();
    let mut collector = Collector::start(&cluster, spool.path()).await;
    // A request whose body arrives slowly (raw HTTP/1.1): SIGTERM comes while it is in flight.
    let addr = collector
        .http
        .trim_start_matches("http://")
        .trim_end_matches("/v1/traces")
        .to_string();
    let body = session_json(1);
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    collector.signal("TERM");
    tokio::time::sleep(Duration::from_millis(700)).await;
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "answered, not cut: {response}"
    );
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
    // The request in flight was stored before the exit.
    assert_eq!(stored(&cluster, &[1]).await, 1);
    let refused = reqwest::get(format!("{}/healthz", collector.api)).await;
    assert!(refused.is_err(), "stopped accepting");
}
