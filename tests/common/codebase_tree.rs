//! A generated tree with known content for the codebase index tests (gitignored and hidden
//! files, a binary file with a text extension, symlinks in and out of the root, a socket), the
//! figures it must give, worked out by hand, and REST helpers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use acd_collector::indexer::{Problem, Summary};
use serde_json::Value;

use super::TestApp;

const MAIN_RS: &str =
    "// entry point\nfn main() {\n    println!(\"hi\");\n}\n\n/* block\ncomment */\n";
const TOOL_PY: &str = "#!/usr/bin/env python3\n# say hi\n\nprint('hi')  # inline\n";
const README: &str = "# Title\n\nSome text.\n";
const NOTES: &str = "alpha\nbeta";
const KEPT_RS: &str = "fn kept() {}\n";
/// A PNG header: a NUL byte within the first bytes makes it binary despite its `.txt` name.
pub const LOGO: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

/// A tree with known counts, and a directory outside it that symlinks point into.
pub struct Tree {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    _socket: std::os::unix::net::UnixListener,
}

pub fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

pub fn tree() -> Tree {
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

/// The figures of the generated tree, worked out by hand from the constants above.
pub fn check_full_summary(s: &Summary) {
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

pub async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
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
pub async fn wait_for_job(app: &TestApp, job: &str) -> (Value, Vec<String>) {
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

pub fn histogram_count(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}_count ")))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}
