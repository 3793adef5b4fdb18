//! The zero-configuration default database, through the real binary: with DATABASE_URL unset and
//! nothing listening on --local-postgres, `serve` starts a private PostgreSQL cluster in
//! --data-dir (as user `postgres` when run as root), serves on it, stops it on SIGTERM, and
//! reuses it on the next start.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Collector {
    child: Child,
    api: String,
    otlp_http: String,
}

fn start(data_dir: &Path) -> Collector {
    let (api, http, grpc) = (free_port(), free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_acd-collector"))
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
    Collector {
        child,
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
            assert!(Instant::now() < deadline, "not ready after 90 s");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut err, &mut text).ok();
        }
        text
    }

    /// SIGTERM, then the exit status and everything it logged.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = self.stderr();
                return (status, log);
            }
            if Instant::now() > deadline {
                self.child.kill().ok();
                panic!("no exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn session_json(id: &str) -> String {
    format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"0102030405060708090a0b0c0d0e0f10",
        "spanId":"0102030405060708","name":"s","startTimeUnixNano":"1764000000000000000",
        "endTimeUnixNano":"1764000001000000000","attributes":[
        {{"key":"gen_ai.operation.name","value":{{"stringValue":"invoke_agent"}}}},
        {{"key":"gen_ai.conversation.id","value":{{"stringValue":"{id}"}}}}]}}]}}]}}]}}"#
    )
}

#[tokio::test]
async fn without_a_server_a_private_cluster_is_started_stopped_and_reused() {
    let temp = tempfile::tempdir().unwrap();
    // As root the cluster runs as `postgres`, which must be able to traverse to the data dir.
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = temp.path().join("pg");
    let id = uuid::Uuid::new_v4().to_string();

    let mut first = start(&data_dir);
    first.wait_ready().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", first.otlp_http))
        .header("content-type", "application/json")
        .body(session_json(&id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session = reqwest::get(format!("{}/api/db/sessions/{id}", first.api))
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    let (status, log) = first.terminate();
    assert!(status.success(), "exit {status}: {log}");
    assert!(log.contains("private PostgreSQL cluster"), "{log}");
    assert!(
        !data_dir.join("postmaster.pid").exists(),
        "cluster left running: {log}"
    );

    // Second start: same cluster, same data, no second initdb.
    let mut second = start(&data_dir);
    second.wait_ready().await;
    let session = reqwest::get(format!("{}/api/db/sessions/{id}", second.api))
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    let (status, log) = second.terminate();
    assert!(status.success(), "exit {status}: {log}");
    assert!(!data_dir.join("postmaster.pid").exists());
}

#[test]
fn an_unusable_data_dir_is_one_clear_error_line() {
    let temp = tempfile::tempdir().unwrap();
    let long = temp.path().join("x".repeat(120));
    let output = Command::new(env!("CARGO_BIN_EXE_acd-collector"))
        .args(["serve", "--data-dir"])
        .arg(&long)
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
        lines[0].starts_with("acd-collector: error:") && lines[0].contains("data-dir"),
        "{stderr}"
    );
}
