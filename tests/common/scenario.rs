//! examples/scenario.json as the tests read it: the scripted session both example harnesses
//! replay, and what the collector must make of it.

use serde::Deserialize;

use super::process::repo;

#[derive(Debug, Deserialize)]
pub struct Scenario {
    pub service_name: String,
    pub provider: String,
    pub target: Target,
    pub feature_id: String,
    pub features_completed: i64,
    pub turns: Vec<Turn>,
    pub test_run: TestRun,
}

#[derive(Debug, Deserialize)]
pub struct Target {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Turn {
    pub model: String,
    pub usage: Usage,
    #[serde(default)]
    pub retries: Vec<Retry>,
    #[serde(default)]
    pub tools: Vec<Tool>,
}

/// As the harness reports it: semconv `input_tokens` includes the cached tokens.
#[derive(Debug, Deserialize)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_creation_tokens: i64,
}

impl Usage {
    /// What the collector stores and exports as input (docs/semantic-conventions.md).
    pub fn uncached_input(&self) -> i64 {
        self.input_tokens - self.cache_read_tokens - self.cache_creation_tokens
    }
}

#[derive(Debug, Deserialize)]
pub struct Retry {
    pub reason: String,
    pub original_model: String,
    pub fallback_model: Option<String>,
    pub wait_ms: i32,
    pub succeeded: bool,
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    pub name: String,
    pub file_path: Option<String>,
}

/// Not stored by the collector yet (issue 4): the harnesses send it, the tests only count it.
#[derive(Debug, Deserialize)]
pub struct TestRun {
    pub suite: String,
    pub cases: Vec<TestCase>,
}

#[derive(Debug, Deserialize)]
pub struct TestCase {
    pub name: String,
    pub status: String,
}

impl Scenario {
    pub fn load() -> Self {
        let path = repo().join("examples/scenario.json");
        let text = std::fs::read_to_string(&path).expect("examples/scenario.json");
        serde_json::from_str(&text).expect("examples/scenario.json matches the test's reading")
    }

    pub fn total(&self, f: impl Fn(&Usage) -> i64) -> i64 {
        self.turns.iter().map(|t| f(&t.usage)).sum()
    }

    pub fn retries(&self) -> impl Iterator<Item = &Retry> {
        self.turns.iter().flat_map(|t| &t.retries)
    }

    pub fn tool_count(&self) -> usize {
        self.turns.iter().map(|t| t.tools.len()).sum()
    }

    /// Session, turns, tools and the test run: what the harness must say it exported.
    pub fn span_count(&self) -> usize {
        1 + self.turns.len() + self.tool_count() + 1
    }
}
