//! Connection floods against the real binary (issue 19, item 9). Phase one: under a 128
//! descriptor limit, 120 idle sockets on the REST port (the listen backlog holds 128 more) take
//! only its `--max-connections` slots, so OTLP/HTTP and OTLP/gRPC still store spans and the process's descriptors stay
//! bounded (before: accept ran into EMFILE and every listener stopped). Phase two: sockets
//! that send nothing, or half a request head, on each port are closed after
//! `--header-read-timeout-seconds`, and the freed slots serve again (before: open for ever).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::common::serve::free_port;
use super::common::{TestDb, admin_url};

struct Collector {
    child: Child,
    ports: [u16; 3],
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Collector {
    /// `serve` on fresh ports with `nofile` descriptors at most and the given listener flags.
    async fn start(db: &TestDb, nofile: u64, flags: &[&str]) -> Self {
        let ports = [free_port(), free_port(), free_port()];
        let (base, _) = admin_url()
            .rsplit_once('/')
            .map(|(b, d)| (b.to_owned(), d.to_owned()))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_acd-collector"));
        command
            .arg("serve")
            .args(["--database-url", &format!("{base}/{}", db.name)])
            .args(["--otlp-grpc", &format!("127.0.0.1:{}", ports[0])])
            .args(["--otlp-http", &format!("127.0.0.1:{}", ports[1])])
            .args(["--api", &format!("127.0.0.1:{}", ports[2])])
            .args(["--spool-max-bytes", "0", "--retention-days", "0"])
            .args(flags)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null());
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: nofile,
                    rlim_max: nofile,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let collector = Self {
            child: command.spawn().expect("the collector binary starts"),
            ports,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !collector.healthy().await {
            assert!(Instant::now() < deadline, "the collector did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        collector
    }

    async fn healthy(&self) -> bool {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{}/healthz", self.ports[2]);
        client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    }

    fn descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    async fn otlp_http_works(&self) -> bool {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        client
            .post(format!("http://127.0.0.1:{}/v1/traces", self.ports[1]))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    }

    async fn grpc_works(&self) -> bool {
        let connect = TraceServiceClient::connect(format!("http://127.0.0.1:{}", self.ports[0]));
        let call = async {
            let mut client = connect.await.ok()?;
            client
                .export(ExportTraceServiceRequest::default())
                .await
                .ok()
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(10), call).await,
            Ok(Some(_))
        )
    }
}

async fn idle_sockets(port: u16, n: usize, first_bytes: &[u8]) -> Vec<TcpStream> {
    let mut sockets = Vec::with_capacity(n);
    for _ in 0..n {
        // The kernel completes the handshake from its backlog even when nobody accepts.
        let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        socket.write_all(first_bytes).await.unwrap();
        sockets.push(socket);
    }
    sockets
}

#[tokio::test]
async fn idle_sockets_on_one_port_cannot_exhaust_descriptors_or_stop_other_listeners() {
    let db = TestDb::new().await;
    let flags = [
        "--max-connections",
        "16",
        "--header-read-timeout-seconds",
        "3600",
    ];
    let collector = Collector::start(&db, 128, &flags).await;
    let before = collector.descriptors();
    let flood = idle_sockets(collector.ports[2], 120, b"").await;
    // Every listener's slots are taken in turn, the REST port's by the flood.
    assert!(
        collector.otlp_http_works().await,
        "OTLP/HTTP stopped by a REST flood"
    );
    assert!(
        collector.grpc_works().await,
        "OTLP/gRPC stopped by a REST flood"
    );
    let during = collector.descriptors();
    assert!(
        during <= before + 16 + 4,
        "descriptors grew from {before} to {during} for 120 idle sockets"
    );
    drop(flood);
    let flood = idle_sockets(collector.ports[1], 120, b"POST /v1/traces HTTP/1.1\r\n").await;
    assert!(
        collector.healthy().await,
        "REST stopped by an OTLP/HTTP flood"
    );
    assert!(
        collector.grpc_works().await,
        "OTLP/gRPC stopped by an OTLP/HTTP flood"
    );
    drop(flood);
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed() {
    let db = TestDb::new().await;
    let flags = [
        "--max-connections",
        "4",
        "--header-read-timeout-seconds",
        "1",
    ];
    let collector = Collector::start(&db, 1024, &flags).await;
    let [grpc, http, api] = collector.ports;
    let mut stalled = Vec::new();
    stalled.extend(idle_sockets(api, 4, b"").await);
    stalled.extend(idle_sockets(api, 4, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await);
    stalled.extend(idle_sockets(http, 4, b"").await);
    stalled.extend(idle_sockets(http, 4, b"POST /v1/traces HTTP/1.1\r\n").await);
    stalled.extend(idle_sockets(grpc, 4, b"").await);
    stalled.extend(idle_sockets(grpc, 4, b"PRI * HTTP/2.0\r\n").await);
    for (i, mut socket) in stalled.into_iter().enumerate() {
        // A bound on the wait, not a timing assertion: closed means EOF or a reset.
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(60), socket.read_to_end(&mut rest));
        assert!(
            read.await.is_ok(),
            "stalled socket {i} still open after 60 s"
        );
    }
    assert!(collector.healthy().await);
    assert!(collector.otlp_http_works().await);
    assert!(collector.grpc_works().await);
}
