//! Issue 19.2/19.3: the planner reads only beneath the registered root. A directory inside the
//! root, or the root itself, swapped for a symlink to a directory outside after indexing is never
//! read: the outside file (which matches the feature word for word) must not be scored.

use std::path::Path;

use super::common::TestApp;
use super::common::codebase_tree::{post, write};
use super::{file, indexed_target};
use serde_json::json;

/// A plain tree (no git: recency from mtimes) whose conf/app.rs is harmless.
fn plain_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "src/lib.rs",
        b"pub fn add(a: i64, b: i64) -> i64 { a + b }\n",
    );
    write(dir.path(), "conf/app.rs", b"pub fn app() {}\n");
    dir
}

/// What an attacker points the link at: same relative path, content that matches the feature.
fn outside_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let secret = b"pub fn shadow_password_hash() { /* shadow password hash root */ }\n";
    write(dir.path(), "app.rs", secret);
    write(dir.path(), "conf/app.rs", secret);
    dir
}

async fn plan(app: &TestApp, id: &str) -> serde_json::Value {
    let (status, plan) = post(
        app,
        &format!("/api/db/context/optimize/{id}"),
        json!({"feature": "shadow password hash"}),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    plan
}

fn contents_scored(plan: &serde_json::Value, path: &str) -> bool {
    // The planner scores a file it read by its content; one it could not read is not planned.
    file(plan, path).is_some()
}

#[tokio::test]
async fn a_directory_swapped_for_a_symlink_is_not_read() {
    let dir = plain_tree();
    let outside = outside_tree();
    let app = TestApp::spawn().await;
    let id = indexed_target(&app, dir.path()).await;
    assert!(contents_scored(&plan(&app, &id).await, "conf/app.rs"));

    std::fs::remove_dir_all(dir.path().join("conf")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("conf")).unwrap();
    let after = plan(&app, &id).await;
    assert!(
        !contents_scored(&after, "conf/app.rs"),
        "read through the symlink: {after}"
    );
    assert!(contents_scored(&after, "src/lib.rs"), "{after}");
}

#[tokio::test]
async fn a_root_swapped_for_a_symlink_is_not_read() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().canonicalize().unwrap().join("repo");
    let tree = plain_tree();
    std::fs::rename(tree.path(), &root).unwrap();
    let outside = outside_tree();
    let app = TestApp::spawn().await;
    let id = indexed_target(&app, &root).await;

    std::fs::rename(&root, parent.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(outside.path(), &root).unwrap();
    let after = plan(&app, &id).await;
    assert!(
        !contents_scored(&after, "conf/app.rs"),
        "read through the swapped root: {after}"
    );
    assert!(Path::new(&root).is_symlink());
}

#[tokio::test]
async fn a_file_grown_past_the_cap_after_indexing_is_not_read() {
    let dir = plain_tree();
    let app = TestApp::spawn().await;
    let id = indexed_target(&app, dir.path()).await;
    // Grown far past the planner's cap (1 MiB) while keeping the indexed row: sparse, so the
    // test costs no disk, and an uncapped read would allocate it whole.
    let grown = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("conf/app.rs"))
        .unwrap();
    grown.set_len(8 << 30).unwrap();
    let after = plan(&app, &id).await;
    assert!(!contents_scored(&after, "conf/app.rs"), "{after}");
    assert!(contents_scored(&after, "src/lib.rs"), "{after}");
}
