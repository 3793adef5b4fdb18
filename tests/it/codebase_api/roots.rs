//! Issue 19.6/19.7: which roots may be registered, and a tree whose names are not UTF-8 indexes
//! (and re-indexes) through the API. System trees and pseudo filesystems are refused; with
//! --target-roots only directories under those bases are accepted.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use acd_collector::app::Settings;
use serde_json::json;

use super::common::TestApp;
use super::common::codebase_tree::{post, wait_for_job};

#[tokio::test]
async fn system_trees_and_pseudo_filesystems_are_refused() {
    let app = TestApp::spawn().await;
    for path in [
        "/", "/etc", "/etc/ssl", "/root", "/proc", "/proc/1", "/sys", "/dev", "/usr", "/var",
    ] {
        let (status, answer) = post(&app, "/api/db/targets", json!({"path": path})).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("refused"),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn target_roots_limit_registration_to_their_trees() {
    let base = tempfile::tempdir().unwrap();
    let inside = base.path().join("repo");
    std::fs::create_dir(&inside).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(Settings {
        target_roots: vec![base.path().to_path_buf()],
        ..Settings::ephemeral()
    })
    .await;
    let (status, answer) = post(&app, "/api/db/targets", json!({"path": inside})).await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = post(&app, "/api/db/targets", json!({"path": elsewhere.path()})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("--target-roots"),
        "{answer}"
    );
}

#[tokio::test]
async fn names_that_are_not_utf8_reindex_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join(OsStr::from_bytes(b"name\xff.txt")), "one\n").unwrap();
    std::fs::write(root.join(OsStr::from_bytes(b"name\xfe.txt")), "two\n").unwrap();
    std::fs::write(root.join("plain.txt"), "three\n").unwrap();
    let app = TestApp::spawn().await;
    let (status, target) = post(&app, "/api/db/targets", json!({"path": root})).await;
    assert_eq!(status, 201, "{target}");
    let id = target["id"].as_str().unwrap();
    for round in 0..2 {
        if round == 1 {
            std::fs::write(root.join(OsStr::from_bytes(b"name\xff.txt")), "changed\n").unwrap();
        }
        let (status, job) = post(&app, &format!("/api/db/codebase/{id}/reindex"), json!({})).await;
        assert_eq!(status, 202, "{job}");
        let (done, _) = wait_for_job(&app, job["job_id"].as_str().unwrap()).await;
        assert_eq!(done["state"], "succeeded", "round {round}: {done}");
    }
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT path FROM codebase_files WHERE target_id = $1 ORDER BY path")
            .bind(uuid::Uuid::parse_str(id).unwrap())
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, ["name\\xfe.txt", "name\\xff.txt", "plain.txt"]);
}

/// The real binary on 0.0.0.0 with no token warns before it listens; on loopback it does not.
#[tokio::test]
async fn an_open_listener_without_a_token_warns_loudly() {
    use std::io::{BufRead, BufReader};
    let db = super::common::TestDb::new().await;
    let admin = super::common::admin_url();
    let url = format!("{}/{}", admin.rsplit_once('/').unwrap().0, db.name);
    for (api, warned) in [("0.0.0.0:0", true), ("127.0.0.1:0", false)] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_acd-collector"))
            .arg("serve")
            .args(["--database-url", &url])
            .args(["--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"])
            .args(["--api", api, "--spool-max-bytes", "0"])
            .current_dir(dir.path())
            .env_remove("ACD_API_TOKEN")
            .env_remove("ACD_INGEST_TOKEN")
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = Vec::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            let listening = line.contains("is listening");
            seen.push(line);
            if listening {
                break;
            }
        }
        child.kill().ok();
        child.wait().ok();
        let warning = seen
            .iter()
            .any(|l| l.contains("WARNING: the REST API listens beyond loopback"));
        assert_eq!(warning, warned, "{api}: {seen:#?}");
    }
}
