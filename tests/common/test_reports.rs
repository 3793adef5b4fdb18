//! Real test reports, written by real tools in a temporary directory: pytest's `--junitxml`, and
//! libtest / cargo-nextest JSON of a tiny generated crate (offline, no dependencies, its own
//! target directory). Each suite has the same shape, so counts can be checked exactly. Also
//! `acd.test_run` spans as the official SDK represents them.

use std::borrow::Cow;
use std::path::Path;
use std::process::{Command, Output};

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::process::python;
use super::spans::at;

/// A pytest module with 3 passing tests, 1 failure, 1 error (a broken fixture) and 1 skip.
const PYTEST_SUITE: &str = r#"
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

def test_adds():
    assert 1 + 1 == 2

def test_concat():
    assert "a" + "b" == "ab"

def test_prints():
    print("hello from system-out")

def test_wrong():
    assert 1 + 1 == 3, "arithmetic is broken"

@pytest.mark.skip(reason="not today")
def test_later():
    pass

def test_needs_fixture(broken):
    pass
"#;

/// A crate with 2 passing tests, 1 failure and 1 ignored test.
const CRATE_LIB: &str = r#"
pub fn add(a: i32, b: i32) -> i32 { a + b }

#[cfg(test)]
mod tests {
    #[test]
    fn adds() { assert_eq!(super::add(1, 2), 3); }
    #[test]
    fn adds_zero() { assert_eq!(super::add(0, 2), 2); }
    #[test]
    fn wrong() { assert_eq!(super::add(1, 1), 3, "one and one"); }
    #[test]
    #[ignore = "slow"]
    fn slow() {}
}
"#;

fn output(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    // Failing tests are the point: only a crash (no exit code) or a usage error is wrong.
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 100 | 101)),
        "{cmd:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the pytest suite; returns the JUnit XML pytest wrote.
pub fn pytest_junit(dir: &Path) -> Vec<u8> {
    std::fs::write(dir.join("test_demo.py"), PYTEST_SUITE).unwrap();
    let report = dir.join("report.xml");
    output(
        Command::new(python())
            .current_dir(dir)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(format!("--junitxml={}", report.display()))
            .args(["-o", "junit_logging=system-out", "test_demo.py"]),
    );
    std::fs::read(&report).expect("pytest wrote its JUnit report")
}

fn write_crate(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"demo_tests\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), CRATE_LIB).unwrap();
}

fn cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    cmd
}

/// libtest's JSON stream of the crate (`RUSTC_BOOTSTRAP` unlocks `-Z unstable-options`).
pub fn libtest_json(dir: &Path) -> Vec<u8> {
    write_crate(dir);
    output(
        cargo(dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["test", "--offline", "-q", "--lib", "--"])
            .args([
                "-Z",
                "unstable-options",
                "--format",
                "json",
                "--report-time",
            ]),
    )
    .stdout
}

/// cargo-nextest's libtest-json output of the crate.
pub fn nextest_json(dir: &Path) -> Vec<u8> {
    write_crate(dir);
    output(
        cargo(dir)
            .env("NEXTEST_EXPERIMENTAL_LIBTEST_JSON", "1")
            .args(["nextest", "run", "--offline", "--no-fail-fast", "--lib"])
            .args(["--message-format", "libtest-json"]),
    )
    .stdout
}

/// An `acd.test.case` span event, as the example harnesses send it.
pub fn case(name: &'static str, status: &'static str) -> Event {
    Event::new(
        "acd.test.case",
        at(1_000),
        vec![
            KeyValue::new("acd.test.case.name", name),
            KeyValue::new("acd.test.case.classname", "todo"),
            KeyValue::new("acd.test.case.status", status),
            KeyValue::new("acd.test.case.duration_ms", 3_i64),
        ],
        0,
    )
}

/// An `acd.test_run` span (child of span 1 of `trace`) with `acd.test.case` events.
pub fn test_run_span(
    trace: u128,
    span_id: u64,
    attributes: Vec<KeyValue>,
    cases: Vec<Event>,
) -> SpanData {
    // SpanEvents is non-exhaustive, its fields are public.
    let mut events = SpanEvents::default();
    events.events = cases;
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(1),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed("acd.test_run"),
        start_time: at(1_000),
        end_time: at(3_500),
        attributes,
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("acd-test-harness").build(),
    }
}
