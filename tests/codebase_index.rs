//! Codebase index: generated trees with known content (gitignored and hidden files, a binary
//! file with a text extension, symlinks in and out of the root, a socket, unreadable entries)
//! are indexed and every number is checked; re-indexing opens only what changed; the API
//! registers targets, runs reindex jobs with progress and refuses bad input with JSON 4xx.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use acd_collector::indexer::{self, FileRecord, Problem, Progress, Summary};
use serde_json::{Value, json};

const MAIN_RS: &str =
    "// entry point\nfn main() {\n    println!(\"hi\");\n}\n\n/* block\ncomment */\n";
const TOOL_PY: &str = "#!/usr/bin/env python3\n# say hi\n\nprint('hi')  # inline\n";
const README: &str = "# Title\n\nSome text.\n";
const NOTES: &str = "alpha\nbeta";
const KEPT_RS: &str = "fn kept() {}\n";
/// A PNG header: a NUL byte within the first bytes makes it binary despite its `.txt` name.
const LOGO: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

/// A tree with known counts, and a directory outside it that symlinks point into.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    _socket: std::os::unix::net::UnixListener,
}

fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("repo");
    write(&root, "src/main.rs", MAIN_RS.as_bytes());
    write(&root, "scripts/tool.py", TOOL_PY.as_bytes());
    write(&root, "README.md", README.as_bytes());
    write(&root, "notes", NOTES.as_bytes());
    write(&root, "empty.txt", b"");
    write(&root, "logo.txt", LOGO);
    write(&root, "nested/kept.rs", KEPT_RS.as_bytes());
    // Ignored: by the root's .gitignore, a nested .gitignore, and as hidden files.
    write(&root, ".gitignore", b"build/\n*.log\n");
    write(
        &root,
        "build/out.rs",
        "fn generated() {}\n".repeat(50).as_bytes(),
    );
    write(&root, "debug.log", b"a log line\n");
    write(&root, "nested/.gitignore", b"generated.rs\n");
    write(&root, "nested/generated.rs", b"fn g() {}\n");
    write(&root, ".hidden/secret.rs", b"fn secret() {}\n");
    // Outside the root: must never be read through the symlinks.
    write(
        &base,
        "outside/secret.rs",
        "fn outside() {}\n".repeat(7).as_bytes(),
    );
    std::os::unix::fs::symlink(base.join("outside"), root.join("link_out")).unwrap();
    std::os::unix::fs::symlink(base.join("outside/secret.rs"), root.join("file_out.rs")).unwrap();
    std::os::unix::fs::symlink(root.join("src/main.rs"), root.join("link_in.rs")).unwrap();
    std::os::unix::fs::symlink(root.join("missing"), root.join("dangling")).unwrap();
    let socket = std::os::unix::net::UnixListener::bind(root.join("agent.sock")).unwrap();
    Tree {
        _dir: dir,
        root,
        _socket: socket,
    }
}

fn index(root: &Path, previous: &HashMap<String, FileRecord>) -> indexer::IndexRun {
    indexer::index_tree(root, previous, 2, &Progress::default()).expect("index runs")
}

fn by_path(files: &[FileRecord]) -> HashMap<String, FileRecord> {
    files.iter().map(|f| (f.path.clone(), f.clone())).collect()
}

/// The figures of the generated tree, worked out by hand from the constants above.
fn check_full_summary(s: &Summary) {
    assert_eq!(s.files, 6, "{s:#?}");
    assert_eq!(s.lines, 17);
    assert_eq!(s.code_lines, 9);
    assert_eq!(s.comment_lines, 5);
    assert_eq!(s.blank_lines, 3);
    assert_eq!(s.bytes, 168);
    assert_eq!(s.chars, 168);
    // ceil(chars/4) per file: 18 + 14 + 5 + 3 + 0 + 4.
    assert_eq!(s.tokens, 44);
    assert_eq!(s.token_method, "chars/4");
    assert_eq!((s.binary_files, s.binary_bytes), (1, 16));
    let types: Vec<(&str, u64)> = s.file_types.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        types,
        [("(none)", 1), ("md", 1), ("py", 1), ("rs", 2), ("txt", 1)]
    );
    let lang = |name: &str| {
        let l = &s.languages[name];
        (l.files, l.lines, l.code, l.comments, l.blanks, l.bytes)
    };
    assert_eq!(s.languages.len(), 5);
    assert_eq!(lang("Rust"), (2, 8, 4, 3, 1, 83));
    assert_eq!(lang("Python"), (1, 4, 1, 2, 1, 55));
    assert_eq!(lang("Markdown"), (1, 3, 2, 0, 1, 20));
    assert_eq!(lang("Plain Text"), (1, 0, 0, 0, 0, 0));
    assert_eq!(lang("Other"), (1, 2, 2, 0, 0, 10));
    let largest: Vec<(&str, u64, u64)> = s
        .largest_files
        .iter()
        .map(|f| (f.path.as_str(), f.size_bytes, f.lines))
        .collect();
    assert_eq!(
        largest,
        [
            ("src/main.rs", 70, 7),
            ("scripts/tool.py", 55, 4),
            ("README.md", 20, 3),
            ("nested/kept.rs", 13, 1),
            ("notes", 10, 2),
            ("empty.txt", 0, 0),
        ]
    );
    let p = &s.problems;
    assert_eq!(p.count(Problem::EscapingSymlink), 2);
    assert_eq!(
        p.0[&Problem::EscapingSymlink].examples,
        ["file_out.rs", "link_out"]
    );
    assert_eq!(p.count(Problem::Symlink), 1);
    assert_eq!(p.count(Problem::DanglingSymlink), 1);
    assert_eq!(p.0[&Problem::SpecialFile].examples, ["agent.sock"]);
    assert_eq!(p.count(Problem::Unreadable), 0);
    assert_eq!(p.count(Problem::Vanished), 0);
}

#[test]
fn full_index_counts_exactly() {
    let tree = tree();
    let progress = Progress::default();
    let run = indexer::index_tree(&tree.root, &HashMap::new(), 2, &progress).unwrap();
    check_full_summary(&run.summary);
    assert_eq!((run.summary.files_read, run.summary.files_reused), (7, 0));
    assert_eq!(progress.snapshot(), (7, 7));
    let paths: Vec<&str> = run.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "README.md",
            "empty.txt",
            "logo.txt",
            "nested/kept.rs",
            "notes",
            "scripts/tool.py",
            "src/main.rs"
        ]
    );
    assert_eq!(run.changed.len(), 7);
    let logo = &run.files[2];
    assert!(logo.is_binary && logo.language.is_none() && logo.counts.lines == 0);
    assert_eq!(
        logo.content_hash,
        xxhash_rust::xxh3::xxh3_64(LOGO) as i64,
        "the hash is of the content"
    );
}

#[test]
fn reindex_opens_only_changed_files() {
    let tree = tree();
    let first = index(&tree.root, &HashMap::new());
    let previous = by_path(&first.files);

    let unchanged = index(&tree.root, &previous);
    check_full_summary(&unchanged.summary);
    assert_eq!(unchanged.summary.files_read, 0, "nothing was opened");
    assert_eq!(unchanged.summary.files_reused, 7);
    assert!(unchanged.changed.is_empty() && unchanged.removed.is_empty());
    assert_eq!(unchanged.files, first.files);

    // One file grows, one is touched without a content change, one is deleted.
    write(&tree.root, "notes", b"alpha\nbeta\ngamma\n");
    let readme = std::fs::File::options()
        .write(true)
        .open(tree.root.join("README.md"))
        .unwrap();
    readme
        .set_modified(SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    std::fs::remove_file(tree.root.join("empty.txt")).unwrap();
    let third = index(&tree.root, &previous);
    let s = &third.summary;
    assert_eq!((s.files_read, s.files_reused), (2, 4));
    let changed: Vec<&str> = third
        .changed
        .iter()
        .map(|&i| third.files[i].path.as_str())
        .collect();
    assert_eq!(changed, ["README.md", "notes"]);
    assert_eq!(third.removed, ["empty.txt"]);
    assert_eq!((s.files, s.lines, s.code_lines, s.bytes), (5, 18, 10, 175));
    assert_eq!(s.file_types.get("txt"), None);
}

#[test]
fn a_root_that_is_a_file_or_has_dotdot_is_refused() {
    let tree = tree();
    let file = tree.root.join("notes");
    assert!(indexer::validate_root(file.to_str().unwrap()).is_err());
    let dotdot = format!("{}/../repo", tree.root.display());
    assert!(indexer::validate_root(&dotdot).is_err());
    // A registered root later replaced by a symlink to elsewhere is refused at index time.
    let moved = tree.root.with_file_name("moved");
    std::fs::rename(&tree.root, &moved).unwrap();
    std::os::unix::fs::symlink(moved.with_file_name("outside"), &tree.root).unwrap();
    let err = indexer::index_tree(&tree.root, &HashMap::new(), 1, &Progress::default());
    assert!(err.is_err(), "{err:?}");
}

async fn post(app: &common::TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}{path}", app.api))
        .json(&body)
        .send()
        .await
        .expect("REST request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// Polls a job until it ends; returns its last state and every state seen.
async fn wait_for_job(app: &common::TestApp, job: &str) -> (Value, Vec<String>) {
    let mut states = Vec::new();
    for _ in 0..600 {
        let (status, body) = app.get(&format!("/api/db/codebase/jobs/{job}")).await;
        assert_eq!(status, 200, "{body}");
        let state = body["state"].as_str().unwrap().to_string();
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        if state == "succeeded" || state == "failed" {
            return (body, states);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {job} did not finish; states seen: {states:?}");
}

fn histogram_count(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}_count ")))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn reindex_runs_as_a_job_and_is_stored() {
    let tree = tree();
    let app = common::TestApp::spawn().await;
    let root = tree.root.to_str().unwrap();
    let (status, target) = post(
        &app,
        "/api/db/targets",
        json!({"name": "demo", "path": root}),
    )
    .await;
    assert_eq!(status, 201, "{target}");
    assert_eq!(target["root_path"], root);
    let id = target["id"].as_str().unwrap().to_string();
    // Registering the same root again answers with the same target.
    let (status, again) = post(&app, "/api/db/targets", json!({"path": format!("{root}/")})).await;
    assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())));
    let (_, list) = app.get("/api/db/targets").await;
    assert_eq!(list["targets"].as_array().unwrap().len(), 1);

    let (status, accepted) = post(&app, &format!("/api/db/codebase/{id}/reindex"), json!({})).await;
    assert_eq!(status, 202, "{accepted}");
    let job = accepted["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        accepted["status_url"],
        format!("/api/db/codebase/jobs/{job}")
    );
    let (done, states) = wait_for_job(&app, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (done["files_seen"].as_i64(), done["files_done"].as_i64()),
        (Some(7), Some(7))
    );
    assert_eq!(states.last().map(String::as_str), Some("succeeded"));
    assert!(done["error"].is_null() && done["index_id"].is_string());

    let (status, detail) = app.get(&format!("/api/db/codebase/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    let latest = &detail["latest"];
    assert_eq!(latest["id"], done["index_id"]);
    for (field, want) in [
        ("total_files", 6),
        ("total_lines", 17),
        ("lines", 17),
        ("code_lines", 9),
        ("comment_lines", 5),
        ("blank_lines", 3),
        ("total_size_bytes", 168),
        ("index_size_tokens", 44),
        ("tokens_estimate", 44),
        ("binary_files", 1),
        ("files_read", 7),
        ("files_reused", 0),
    ] {
        assert_eq!(latest[field], want, "{field}: {latest}");
    }
    assert_eq!(latest["token_method"], "chars/4");
    assert_eq!(
        latest["file_types"],
        json!({"(none)": 1, "md": 1, "py": 1, "rs": 2, "txt": 1})
    );
    assert_eq!(
        latest["languages"]["Rust"],
        json!({"files": 2, "lines": 8, "code": 4, "comments": 3, "blanks": 1, "bytes": 83})
    );
    assert_eq!(
        latest["largest_files"][0],
        json!({"path": "src/main.rs", "size_bytes": 70, "lines": 7, "language": "Rust"})
    );
    assert_eq!(latest["largest_files"].as_array().unwrap().len(), 6);
    assert_eq!(
        latest["problems"]["escaping_symlink"],
        json!({"count": 2, "examples": ["file_out.rs", "link_out"]})
    );
    assert_eq!(detail["target"]["total_files"], 6);
    assert_eq!(detail["target"]["total_loc"], 17);
    assert_eq!(detail["target"]["index_size_tokens"], 44);
    assert!(detail["target"]["last_indexed_at"].is_string());
    assert_eq!(detail["history"], json!([]));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM codebase_files")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 7);

    // Unchanged: the second run opens nothing and reports the same figures.
    let (_, second) = post(&app, &format!("/api/db/codebase/{id}/reindex"), json!({})).await;
    let (done, _) = wait_for_job(&app, second["job_id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (_, detail) = app.get(&format!("/api/db/codebase/{id}")).await;
    let latest = &detail["latest"];
    assert_eq!(
        (
            latest["files_read"].as_i64(),
            latest["files_reused"].as_i64()
        ),
        (Some(0), Some(7))
    );
    assert_eq!(
        (latest["lines"].as_i64(), latest["tokens_estimate"].as_i64()),
        (Some(17), Some(44))
    );
    assert_eq!(detail["history"].as_array().unwrap().len(), 1);

    let (status, largest) = app.get("/api/db/codebase/largest").await;
    assert_eq!(status, 200);
    assert_eq!(largest["codebases"][0]["target_id"], id.as_str());
    assert_eq!(largest["codebases"][0]["total_size_bytes"], 168);
    assert_eq!(largest["codebases"][0]["name"], "demo");

    let files = [
        ("demo", "acd_codebase_files", 6.0),
        ("demo", "acd_codebase_lines", 17.0),
        ("demo", "acd_codebase_bytes", 168.0),
        ("demo", "acd_codebase_index_tokens", 44.0),
    ];
    for (target, metric, want) in files {
        assert_eq!(
            app.metric(metric, &[("target", target)]).await,
            want,
            "{metric}"
        );
    }
    let text = app.metrics_text().await;
    assert_eq!(
        histogram_count(&text, "acd_codebase_index_duration_seconds"),
        2.0
    );
    assert!(
        app.metric("acd_codebase_last_indexed_timestamp_seconds", &[])
            .await
            > 1.7e9
    );
    app.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_json_4xx() {
    let tree = tree();
    let app = common::TestApp::spawn().await;
    let root = tree.root.to_str().unwrap().to_string();
    let file = format!("{root}/notes");
    let (_, first) = post(&app, "/api/db/targets", json!({"name": "a", "path": root})).await;
    let other = uuid::Uuid::new_v4();
    for (body, status) in [
        (json!({"path": "relative/dir"}), 400),
        (json!({"path": format!("{root}/../repo")}), 400),
        (json!({"path": format!("{root}/does-not-exist")}), 400),
        (json!({"path": file}), 400),
        (json!({"path": ""}), 400),
        (json!({"name": "x"}), 400),
        (json!({"path": root, "extra": 1}), 400),
        (json!({"path": root, "id": "not-a-uuid"}), 400),
        (json!({"path": root, "id": other.to_string()}), 409),
    ] {
        let (got, answer) = post(&app, "/api/db/targets", body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }
    let not_json = app
        .http
        .post(format!("{}/api/db/targets", app.api))
        .body("path=/tmp")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);

    // A target that sessions named but that has no registered root cannot be indexed.
    let rootless = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO targets (id, name) VALUES ($1, 'rootless')")
        .bind(rootless)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let unknown = uuid::Uuid::new_v4();
    for (path, status) in [
        ("/api/db/codebase/not-a-uuid/reindex".to_string(), 400),
        (format!("/api/db/codebase/{unknown}/reindex"), 404),
        (format!("/api/db/codebase/{rootless}/reindex"), 409),
    ] {
        let (got, answer) = post(&app, &path, json!({})).await;
        assert_eq!(got, status, "{path}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    for (path, status) in [
        ("/api/db/codebase/jobs/nope".to_string(), 400),
        (format!("/api/db/codebase/jobs/{unknown}"), 404),
        (format!("/api/db/codebase/{unknown}"), 404),
        ("/api/db/codebase/not-a-uuid".to_string(), 400),
        ("/api/db/codebase/largest?limit=0".to_string(), 400),
        ("/api/db/codebase/largest?limit=x".to_string(), 400),
        (
            format!(
                "/api/db/codebase/{}?limit=101",
                first["id"].as_str().unwrap()
            ),
            400,
        ),
    ] {
        let (got, answer) = app.get(&path).await;
        assert_eq!(got, status, "{path}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    // A root that disappears after registration: the job fails with a message, nothing panics.
    let id = first["id"].as_str().unwrap();
    std::fs::rename(&tree.root, tree.root.with_file_name("gone")).unwrap();
    let (status, accepted) = post(&app, &format!("/api/db/codebase/{id}/reindex"), json!({})).await;
    assert_eq!(status, 202);
    let (done, _) = wait_for_job(&app, accepted["job_id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed");
    assert!(
        done["error"].as_str().unwrap().contains("does not exist"),
        "{done}"
    );
    app.shutdown().await;
}

/// Runs `acd-collector index ARGS` as an unprivileged user when the tests run as root (root
/// reads files whatever their mode, so "unreadable" needs someone else).
fn cli(args: &[&str], database_url: Option<&str>) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_acd-collector");
    let as_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut command = if as_root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        std::process::Command::new(bin)
    };
    command.arg("index").args(args).env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command.output().expect("the CLI runs")
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Makes the whole tree readable by others, then locks one file and one directory.
fn with_unreadable_entries(tree: &Tree) {
    chmod(tree.root.parent().unwrap(), 0o755);
    write(&tree.root, "locked.rs", b"fn locked() {}\n");
    write(&tree.root, "private/inner.rs", b"fn inner() {}\n");
    chmod(&tree.root.join("locked.rs"), 0o000);
    chmod(&tree.root.join("private"), 0o000);
}

#[test]
fn cli_json_reports_unreadable_entries_and_counts_the_rest() {
    let tree = tree();
    with_unreadable_entries(&tree);
    let out = cli(&[tree.root.to_str().unwrap(), "--json"], None);
    chmod(&tree.root.join("private"), 0o755);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let summary: Summary = serde_json::from_value(json.clone()).expect("a summary");
    check_full_summary_except_unreadable(&summary);
    assert_eq!(
        json["problems"]["unreadable"],
        json!({"count": 2, "examples": ["locked.rs", "private"]})
    );
    assert_eq!(json["root"], tree.root.to_str().unwrap());
    assert!(json["target_id"].is_null());
}

fn check_full_summary_except_unreadable(s: &Summary) {
    let mut s = s.clone();
    s.problems.0.remove(&Problem::Unreadable);
    check_full_summary(&s);
}

#[tokio::test]
async fn cli_stores_a_registered_targets_index() {
    let tree = tree();
    chmod(tree.root.parent().unwrap(), 0o755);
    let app = common::TestApp::spawn().await;
    let root = tree.root.to_str().unwrap();
    let (_, target) = post(
        &app,
        "/api/db/targets",
        json!({"name": "cli", "path": root}),
    )
    .await;
    let id = target["id"].as_str().unwrap();
    let admin = common::admin_url();
    let url = format!("{}/{}", admin.rsplit_once('/').unwrap().0, app.db.name);
    let out = cli(&[root, "--target", id], Some(&url));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("stored as index"), "{table}");
    let (_, detail) = app.get(&format!("/api/db/codebase/{id}")).await;
    let latest = &detail["latest"];
    assert_eq!(
        (latest["total_files"].as_i64(), latest["lines"].as_i64()),
        (Some(6), Some(17))
    );
    assert_eq!(latest["files_read"], 7);
    // A path that is not the target's root, and an unregistered target, are refused.
    let src = format!("{root}/src");
    let wrong = cli(&[&src, "--target", id], Some(&url));
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not the registered root"));
    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = cli(&[root, "--target", &unknown], Some(&url));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not registered"));
    app.shutdown().await;
}
