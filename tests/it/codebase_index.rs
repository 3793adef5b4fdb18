//! Codebase index, library and CLI: a generated tree with known content is indexed and every
//! number is checked (see tests/common/codebase_tree.rs); re-indexing opens only what changed;
//! unreadable entries are reported, never fatal; bad roots are refused.

mod hostile;

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use acd_collector::indexer::{self, FileRecord, Problem, Progress, Summary};
use common::codebase_tree::{LOGO, Tree, check_full_summary, post, tree, write};
use serde_json::{Value, json};

fn index(root: &Path, previous: &HashMap<String, FileRecord>) -> indexer::IndexRun {
    indexer::index_tree(root, previous, 2, &Progress::default()).expect("index runs")
}

fn by_path(files: &[FileRecord]) -> HashMap<String, FileRecord> {
    files.iter().map(|f| (f.path.clone(), f.clone())).collect()
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
