//! Codebase index: generated trees with known content (gitignored and hidden files, a binary
//! file with a text extension, symlinks in and out of the root, a socket, unreadable entries)
//! are indexed and every number is checked; re-indexing opens only what changed; the API
//! registers targets, runs reindex jobs with progress and refuses bad input with JSON 4xx.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use acd_collector::indexer::{self, FileRecord, Problem, Progress, Summary};

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
