//! The collector against real programs from outside this repository: the pinned Claude Code CLI
//! (`claude_cli`), the official Python SDK (`python_sdk`), the example harnesses in Python and
//! Node.js (`examples`), the explorer in Debian's chromium (`explorer`) and schemathesis fuzzing
//! the REST API (`schemathesis`). Kept apart from `tests/it/` because they need those programs
//! installed (scripts/test installs them) and spend most of their time in them: `cargo test
//! --test it` runs everything else without them.

#[path = "../common/mod.rs"]
mod common;

mod claude_cli;
mod examples;
mod explorer;
mod python_sdk;
mod schemathesis;
