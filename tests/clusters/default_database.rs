//! The zero-configuration default database, through the real binary: with DATABASE_URL unset and
//! nothing listening on --local-postgres, `serve` starts a private PostgreSQL cluster in
//! --data-dir (as user `postgres` when run as root), serves on it, stops it on SIGTERM, and
//! reuses it, data included, on the next start. A --data-dir too long for the cluster's Unix
//! socket is one clear error line and a non-zero exit.
//!
//! Needs the PostgreSQL server binaries (initdb, pg_ctl) installed, as on CI.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A port nothing listens on (bound, noted and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temporary directory with a short path (the cluster's socket path must stay under 108
/// bytes), traversable by user `postgres`, which runs the cluster when the tests run as root.
fn short_temp_dir() -> tempfile::TempDir {
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() <= 40 {
        base
    } else {
        "/tmp".into()
    };
    let temp = tempfile::Builder::new()
        .prefix("acd")
        .tempdir_in(base)
        .unwrap();
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    temp
}

struct Collector {
    child: Child,
    /// Reads stderr as it comes, so that a chatty child never blocks on a full pipe.
    stderr: Option<JoinHandle<String>>,
    api: String,
    otlp_http: String,
}

fn start(data_dir: &Path) -> Collector {
    let (api, http, grpc) = (free_port(), free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_acd-collector"))
        .args(["serve", "--shutdown-grace-seconds", "2", "--data-dir"])
        .arg(data_dir)
        .args(["--api", &format!("127.0.0.1:{api}")])
        .args(["--otlp-http", &format!("127.0.0.1:{http}")])
        .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}")])
        .env_remove("DATABASE_URL")
        // Nothing listens there, so the private cluster is the only way left.
        .env(
            "ACD_LOCAL_POSTGRES_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).ok();
        text
    });
    Collector {
        child,
        stderr: Some(stderr),
        api: format!("http://127.0.0.1:{api}"),
        otlp_http: format!("http://127.0.0.1:{http}"),
    }
}

impl Collector {
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", self.api)).await
                && r.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("collector exited early ({status}): {}", self.stderr());
            }
            if Instant::now() > deadline {
                self.child.kill().ok();
                self.child.wait().ok();
                panic!("not ready after 90 s: {}", self.stderr());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Everything logged; call once the child has exited.
    fn stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|reader| reader.join().unwrap())
            .unwrap_or_default()
    }

    /// SIGTERM, then the exit status (within 30 s) and everything it logged.
    fn terminate(mut self) -> (ExitStatus, String) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: sends a signal to our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = self.stderr();
                return (status, log);
            }
            if Instant::now() > deadline {
                self.child.kill().ok();
                self.child.wait().ok();
                panic!("no exit within 30 s of SIGTERM: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One OTLP/JSON session span (`invoke_agent`) of conversation `id`.
fn session_json(id: &str) -> serde_json::Value {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let span_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "default-database-test"}}
            ]},
            "scopeSpans": [{
                "spans": [{
                    "traceId": trace_id,
                    "spanId": span_id,
                    "name": "invoke_agent",
                    "kind": 1,
                    "startTimeUnixNano": "1764000000000000000",
                    "endTimeUnixNano": "1764000001000000000",
                    "attributes": [
                        {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                        {"key": "gen_ai.conversation.id", "value": {"stringValue": id}}
                    ]
                }]
            }]
        }]
    })
}

async fn session_status(collector: &Collector, id: &str) -> reqwest::StatusCode {
    reqwest::get(format!("{}/api/db/sessions/{id}", collector.api))
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn without_a_server_a_private_cluster_is_started_stopped_and_reused() {
    let temp = short_temp_dir();
    let data_dir = temp.path().join("pg");
    let id = uuid::Uuid::new_v4().to_string();

    let mut first = start(&data_dir);
    first.wait_ready().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", first.otlp_http))
        .header("content-type", "application/json")
        .body(session_json(&id).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(session_status(&first, &id).await, 200);
    let (status, log) = first.terminate();
    assert!(status.success(), "exit {status}: {log}");
    assert!(log.contains("private PostgreSQL cluster"), "{log}");
    assert!(
        log.contains("stopped the private PostgreSQL cluster"),
        "{log}"
    );
    assert!(log.contains("created database \"acd\""), "{log}");
    assert!(
        !data_dir.join("postmaster.pid").exists(),
        "cluster left running: {log}"
    );

    // Second start: the same cluster (no new database), with the data written before.
    let mut second = start(&data_dir);
    second.wait_ready().await;
    assert_eq!(session_status(&second, &id).await, 200);
    let (status, log) = second.terminate();
    assert!(status.success(), "exit {status}: {log}");
    assert!(log.contains("private PostgreSQL cluster"), "{log}");
    assert!(!log.contains("created database"), "{log}");
    assert!(
        !data_dir.join("postmaster.pid").exists(),
        "cluster left running: {log}"
    );
}

#[test]
fn a_data_dir_too_long_for_a_unix_socket_is_one_clear_error_line() {
    let temp = short_temp_dir();
    let long = temp.path().join("x".repeat(120));
    let output = Command::new(env!("CARGO_BIN_EXE_acd-collector"))
        .args(["serve", "--data-dir"])
        .arg(&long)
        .args(["--api", &format!("127.0.0.1:{}", free_port())])
        .args(["--otlp-http", &format!("127.0.0.1:{}", free_port())])
        .args(["--otlp-grpc", &format!("127.0.0.1:{}", free_port())])
        .env_remove("DATABASE_URL")
        .env(
            "ACD_LOCAL_POSTGRES_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("acd-collector: error:") && lines[0].contains("--data-dir"),
        "{stderr}"
    );
    assert!(
        !long.join("PG_VERSION").exists(),
        "no cluster is created there"
    );
}
