//! Running outside programs from tests: the official SDKs' harnesses (Python, Node.js) and the
//! scripts that install those SDKs. Bounded in time, output drained, failures shown in full.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Installing an SDK may download packages; everything else takes seconds.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command to completion within `limit`, killing it past that; panics unless it exits 0.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout also kills what it started (pip under the script).
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    // Drained on threads so a chatty child cannot fill a pipe and stall until the deadline.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let mut pipe = pipe.expect("piped");
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let Some(status) = status else {
        panic!(
            "{cmd:?} did not finish within {limit:?}\nstderr:\n{}",
            text(&stderr)
        );
    };
    assert!(
        status.success(),
        "{cmd:?} failed ({status})\nstdout:\n{}\nstderr:\n{}",
        text(&stdout),
        text(&stderr)
    );
    Output {
        status,
        stdout,
        stderr,
    }
}

/// The last line a setup script printed: the path it was asked for.
fn last_line(out: &Output, script: &str) -> PathBuf {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().last().unwrap_or_default().trim();
    assert!(!path.is_empty(), "{script} printed no path");
    PathBuf::from(path)
}

/// The venv's python with the pinned OpenTelemetry SDK (`scripts/python-venv`), set up on first use.
pub fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = run(
            &mut Command::new(repo().join("scripts/python-venv")),
            INSTALL_TIMEOUT,
        );
        last_line(&out, "scripts/python-venv")
    })
}

/// `node`, once examples/node/node_modules matches its lock file (`scripts/node-deps`).
pub fn node() -> &'static PathBuf {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| {
        let out = run(
            &mut Command::new(repo().join("scripts/node-deps")),
            INSTALL_TIMEOUT,
        );
        last_line(&out, "scripts/node-deps")
    })
}
