//! Running the real CLI: a temporary `HOME` and working directory, the stand-in as
//! `ANTHROPIC_BASE_URL`, no other traffic, and the permission flags that work as root
//! (`--dangerously-skip-permissions` is refused there).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::standin::{Call, Served, Standin};
use crate::common::TestApp;
use crate::common::process::{INSTALL_TIMEOUT, repo, run};

/// Tolerance for times against what the stand-in did.
pub const TOLERANCE_MS: i64 = 100;

/// The native CLI binary (`scripts/claude-cli`), installed on first use.
pub fn claude() -> &'static PathBuf {
    static CLAUDE: OnceLock<PathBuf> = OnceLock::new();
    CLAUDE.get_or_init(|| {
        let out = run(
            &mut Command::new(repo().join("scripts/claude-cli")),
            INSTALL_TIMEOUT,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(stdout.lines().last().expect("a path").trim())
    })
}

/// One CLI run's private directories and its stand-in.
pub struct Run {
    pub dir: tempfile::TempDir,
    pub standin: Standin,
    /// The first call asks for a WebFetch instead of the Write.
    pub fetching: bool,
}

impl Run {
    pub async fn start() -> Self {
        let dir = Self::dirs();
        let standin = Standin::start(dir.path().join("work")).await;
        Self {
            dir,
            standin,
            fetching: false,
        }
    }

    /// A run whose first call asks for a WebFetch of `url` (see [`Standin::start_fetching`]);
    /// the CLI's own domain check is turned off in its settings (it would ask api.anthropic.com).
    pub async fn start_fetching(url: String) -> Self {
        let dir = Self::dirs();
        let settings = dir.path().join("home/.claude/settings.json");
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        std::fs::write(&settings, r#"{"skipWebFetchPreflight": true}"#).unwrap();
        let standin = Standin::start_fetching(dir.path().join("work"), url).await;
        Self {
            dir,
            standin,
            fetching: true,
        }
    }

    fn dirs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        dir
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The CLI with its environment; with `wrapper` (e.g. `run --endpoint URL --`) the
    /// collector's binary runs it.
    pub fn command(&self, wrapper: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = if wrapper.is_empty() {
            Command::new(claude())
        } else {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_acd-collector"));
            cmd.args(wrapper).arg(claude());
            cmd
        };
        cmd.args(["-p", "write hello.txt", "--verbose"])
            .args([
                "--permission-mode",
                "acceptEdits",
                "--allowedTools",
                "Write,Read,WebFetch",
            ])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.home())
            .env("ANTHROPIC_BASE_URL", &self.standin.url)
            .env("ANTHROPIC_API_KEY", "sk-ant-test")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("RUST_LOG", "warn")
            .current_dir(self.work());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs to the end on a blocking thread (the collector under test keeps serving).
    pub async fn finish(&self, mut cmd: Command) -> Output {
        // One CLI at a time: four starting at once on a 2-core machine add hundreds of ms of
        // their own start-up to the first call's TTFT and latency, which is not what is tested.
        static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _turn = ONE_AT_A_TIME.lock().await;
        let out = tokio::task::spawn_blocking(move || run(&mut cmd, Duration::from_secs(120)))
            .await
            .expect("the CLI ran");
        let wrote = self.work().join("hello.txt").exists();
        assert!(
            wrote || self.fetching,
            "the CLI carried out the Write: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        out
    }

    /// The transcript the run left under `$HOME/.claude/projects`.
    pub fn transcripts(&self) -> Vec<PathBuf> {
        let projects = self.home().join(".claude/projects");
        let mut found = Vec::new();
        for project in std::fs::read_dir(&projects)
            .expect("a projects dir")
            .flatten()
        {
            for file in std::fs::read_dir(project.path()).unwrap().flatten() {
                if file.path().extension().is_some_and(|e| e == "jsonl") {
                    found.push(file.path());
                }
            }
        }
        found
    }

    /// The successful answers to the conversation's calls, in call order.
    pub fn answers(&self) -> Vec<(Call, Served)> {
        let served = self.standin.served();
        self.standin
            .calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let ok = served
                    .iter()
                    .find(|s| s.call == Some(i) && s.status == 200)
                    .unwrap_or_else(|| panic!("call {i} was answered: {served:?}"))
                    .clone();
                (call.clone(), ok)
            })
            .collect()
    }
}

/// The CLI measures TTFT and latency from its side: request build, upload and parse of a ~100 KB
/// request add to what the stand-in saw (about 20–200 ms here, on a loaded 2-core machine), so
/// the measured figure may exceed the stand-in's by this much, never fall below it by more than
/// [`TOLERANCE_MS`].
pub const CLI_OVERHEAD_MS: i64 = 250;

/// TTFT and latency of each turn against the stand-in's answer to that call; all printed
/// (`--nocapture`) before any is asserted, so one run shows every figure.
pub fn assert_times(turns: &[Value], answers: &[(Call, Served)]) {
    let mut wrong = Vec::new();
    for (turn, (call, served)) in turns.iter().zip(answers) {
        let expected = [
            (
                "TTFT",
                "time_to_first_token_ms",
                served.first_chunk - served.received,
            ),
            ("latency", "duration_ms", served.done - served.received),
        ];
        for (what, field, want) in expected {
            let want = want.as_millis() as i64;
            let got = turn[field].as_i64();
            eprintln!(
                "{} {what}: measured {got:?} ms, stand-in {want} ms",
                call.request_id
            );
            let ok = got.is_some_and(|g| g >= want - TOLERANCE_MS && g <= want + CLI_OVERHEAD_MS);
            if !ok {
                wrong.push(format!("{} {what}: {got:?} vs {want}", call.request_id));
            }
        }
    }
    assert!(wrong.is_empty(), "times off: {wrong:?}");
}

/// The only session, once it has `turns` turns (OTLP exports arrive after the CLI exits).
pub async fn session_with_turns(app: &TestApp, turns: i64) -> (Value, Vec<Value>) {
    for _ in 0..200 {
        let (_, page) = app.get("/api/db/sessions").await;
        if let Some(id) = page["sessions"][0]["id"].as_str() {
            let (_, session) = app.get(&format!("/api/db/sessions/{id}")).await;
            let (_, list) = app.get(&format!("/api/db/sessions/{id}/turns")).await;
            let list = list["turns"].as_array().cloned().unwrap_or_default();
            if list.len() as i64 >= turns {
                return (session, list);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, page) = app.get("/api/db/sessions").await;
    panic!("no session with {turns} turns arrived: {page}");
}

/// Tokens per turn and in total exactly as served; cost is the price table's for them.
pub fn assert_tokens(session: &Value, turns: &[Value], answers: &[(Call, Served)]) {
    assert_tokens_with_side_calls(session, turns, answers, &[]);
}

/// The same when the session also made `side` calls: billed, so in the session's totals and
/// cost, but no turns.
pub fn assert_tokens_with_side_calls(
    session: &Value,
    turns: &[Value],
    answers: &[(Call, Served)],
    side: &[Call],
) {
    assert_eq!(
        turns.len(),
        answers.len(),
        "one turn per main call: {turns:?}"
    );
    for (turn, (call, _)) in turns.iter().zip(answers) {
        let got = [
            &turn["input_tokens"],
            &turn["output_tokens"],
            &turn["cache_read_tokens"],
            &turn["cache_write_tokens"],
            &turn["cache_write_1h_tokens"],
        ];
        let want = [
            call.input,
            call.output,
            call.cache_read,
            call.cache_write(),
            call.cache_write_1h,
        ];
        let got: Vec<i64> = got.iter().map(|v| v.as_i64().unwrap_or(-1)).collect();
        assert_eq!(
            got, want,
            "turn {} of {}",
            turn["turn_number"], call.request_id
        );
    }
    let all: Vec<&Call> = answers.iter().map(|(c, _)| c).chain(side).collect();
    let sum = |f: fn(&Call) -> i64| all.iter().map(|c| f(c)).sum::<i64>();
    assert_eq!(session["turn_count"], answers.len() as i64, "{session}");
    assert_eq!(session["input_tokens"], sum(|c| c.input), "{session}");
    assert_eq!(session["output_tokens"], sum(|c| c.output), "{session}");
    assert_eq!(session["cache_read_tokens"], sum(|c| c.cache_read));
    assert_eq!(session["cache_write_tokens"], sum(Call::cache_write));
    assert_eq!(session["cache_write_1h_tokens"], sum(|c| c.cache_write_1h));
    let prices = acd_collector::pricing::PriceTable::shipped_default();
    let model = turns[0]["model"].as_str().unwrap();
    let cost: f64 = all
        .iter()
        .map(|c| {
            let usage = acd_collector::domain::TokenUsage {
                input: c.input,
                output: c.output,
                cache_read: c.cache_read,
                cache_write: c.cache_write(),
                cache_write_1h: c.cache_write_1h,
            };
            prices
                .cost(model, &usage)
                .expect("the CLI's model is priced")
        })
        .sum();
    let stored = session["cost_usd"].as_f64().unwrap();
    assert!((stored - cost).abs() < 1e-9, "cost {stored} vs {cost}");
}
