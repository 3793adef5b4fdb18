//! Issue 19.3/19.4/19.6: files that used to crash, hang or break the index. A 50 GiB sparse file
//! is skipped by its size (reported too_large), a file swapped for a FIFO while the walk runs
//! never blocks it, and names differing only in invalid UTF-8 are two files stored losslessly.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

use acd_collector::indexer::{self, Problem, Progress};

use super::common::codebase_tree::write;

#[test]
fn a_huge_sparse_file_is_skipped_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "small.rs", b"fn small() {}\n");
    let huge = std::fs::File::create(dir.path().join("huge.bin")).unwrap();
    huge.set_len(50 << 30).unwrap();
    let root = dir.path().canonicalize().unwrap();
    // Twice: the second run is what a reclaimed job does after a restart.
    for _ in 0..2 {
        let run = indexer::index_tree(&root, &HashMap::new(), 2, &Progress::default()).unwrap();
        let paths: Vec<&str> = run.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["small.rs"]);
        let skipped = &run.summary.problems.0[&Problem::TooLarge];
        assert_eq!(skipped.examples, ["huge.bin"]);
    }
}

#[test]
fn a_file_swapped_for_a_fifo_mid_walk_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..50 {
        write(dir.path(), &format!("f{i:02}.rs"), b"fn f() {}\n");
    }
    let root = dir.path().canonicalize().unwrap();
    let swap = root.join("swap.rs");
    let fifo = std::ffi::CString::new(swap.as_os_str().as_bytes()).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Flips swap.rs between a regular file and a FIFO as fast as it can, so walks list it
        // as one and open it as the other; a blocking open would hang this test for ever.
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::remove_file(&swap);
                std::fs::write(&swap, "fn swap() {}\n").unwrap();
                let _ = std::fs::remove_file(&swap);
                // SAFETY: a valid NUL-terminated path.
                unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) };
            }
        });
        for _ in 0..300 {
            let run = indexer::index_tree(&root, &HashMap::new(), 2, &Progress::default()).unwrap();
            assert!(run.files.len() >= 50);
        }
        stop.store(true, Ordering::Relaxed);
    });
}

#[test]
fn names_differing_only_in_invalid_utf8_stay_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::write(root.join(OsStr::from_bytes(b"name\xff.txt")), "one\n").unwrap();
    std::fs::write(
        root.join(OsStr::from_bytes(b"name\xfe.txt")),
        "two\nlines\n",
    )
    .unwrap();
    let run = indexer::index_tree(&root, &HashMap::new(), 2, &Progress::default()).unwrap();
    let paths: Vec<&str> = run.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["name\\xfe.txt", "name\\xff.txt"]);
    assert_eq!(indexer::decode_path(paths[1]), b"name\xff.txt");
    assert_eq!(
        (run.files[0].counts.lines, run.files[1].counts.lines),
        (2, 1)
    );
}
