//! The price table: USD per 1M tokens by model family, loaded from TOML (a shipped default,
//! `config/prices.toml`, or the user's file). Models match by longest prefix.

use std::path::Path;

use serde::Deserialize;

use crate::domain::TokenUsage;

const DEFAULT_PRICES: &str = include_str!("../config/prices.toml");

/// Context window assumed for a model the table does not know.
pub const DEFAULT_CONTEXT_WINDOW: i32 = 200_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub family: String,
    pub prefixes: Vec<String>,
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    /// 1-hour cache writes; defaults to twice the input price, Anthropic's rule.
    pub cache_write_1h: Option<f64>,
    #[serde(default = "default_context_window")]
    pub context_window: i32,
}

fn default_context_window() -> i32 {
    DEFAULT_CONTEXT_WINDOW
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    #[serde(rename = "model")]
    models: Vec<ModelPrice>,
}

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("cannot read price table {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid price table {path}: {message}")]
    Parse { path: String, message: String },
}

impl PriceTable {
    pub fn shipped_default() -> Self {
        Self::parse(DEFAULT_PRICES, "config/prices.toml (built in)")
            .expect("the shipped price table parses (checked by a unit test)")
    }

    pub fn load(path: &Path) -> Result<Self, PriceError> {
        let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, path: &str) -> Result<Self, PriceError> {
        let table: PriceTable = toml::from_str(text).map_err(|e| PriceError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        if let Some(bad) = table.models.iter().find(|m| {
            [m.input, m.output, m.cache_read, m.cache_write]
                .iter()
                .any(|p| !p.is_finite() || *p < 0.0)
        }) {
            return Err(PriceError::Parse {
                path: path.to_string(),
                message: format!("family {:?} has a negative or non-finite price", bad.family),
            });
        }
        Ok(table)
    }

    /// The entry for `model`: longest matching prefix, after dropping anything before "claude".
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        let lower = model.to_ascii_lowercase();
        let name = lower.find("claude").map_or(lower.as_str(), |i| &lower[i..]);
        self.models
            .iter()
            .flat_map(|m| m.prefixes.iter().map(move |p| (p, m)))
            .filter(|(prefix, _)| name.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, m)| m)
    }

    /// Cost in USD of one call, or `None` when the model is unknown.
    pub fn cost(&self, model: &str, usage: &TokenUsage) -> Option<f64> {
        self.lookup(model).map(|p| p.cost(usage))
    }

    pub fn context_window(&self, model: &str) -> i32 {
        self.lookup(model)
            .map_or(DEFAULT_CONTEXT_WINDOW, |p| p.context_window)
    }
}

impl ModelPrice {
    /// `usage.cache_write_1h` is the part of `cache_write` priced at the 1-hour rate.
    pub fn cost(&self, usage: &TokenUsage) -> f64 {
        let one_hour = usage.cache_write_1h.clamp(0, usage.cache_write);
        let five_minute = usage.cache_write - one_hour;
        (usage.input as f64 * self.input
            + usage.output as f64 * self.output
            + usage.cache_read as f64 * self.cache_read
            + five_minute as f64 * self.cache_write
            + one_hour as f64 * self.cache_write_1h())
            / 1_000_000.0
    }

    /// The 1-hour cache write price: as listed, else twice the input price (Anthropic's rule).
    pub fn cache_write_1h(&self) -> f64 {
        self.cache_write_1h.unwrap_or(self.input * 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_parses_and_matches_dated_ids_by_longest_prefix() {
        let table = PriceTable::shipped_default();
        let family = |m: &str| table.lookup(m).map(|p| p.family.as_str());
        assert_eq!(family("claude-sonnet-4-5-20250929"), Some("sonnet-4"));
        assert_eq!(family("claude-opus-4-5-20251101"), Some("opus-4.5+"));
        assert_eq!(family("claude-opus-4-1-20250805"), Some("opus-4"));
        assert_eq!(family("claude-opus-5-5"), Some("opus-5.5"));
        assert_eq!(
            family("us.anthropic.claude-haiku-4-5-20251001-v1:0"),
            Some("haiku-4.5")
        );
        assert_eq!(
            family("claude-3-haiku-20240307"),
            Some("haiku-3 (PRD legacy)")
        );
        assert_eq!(family("gpt-4o"), None);
    }

    #[test]
    fn cost_is_per_million_tokens_by_type() {
        let table = PriceTable::shipped_default();
        let usage = TokenUsage {
            input: 1_000_000,
            output: 100_000,
            cache_read: 2_000_000,
            cache_write: 400_000,
            cache_write_1h: 0,
        };
        // sonnet 4: 3 + 1.5 + 0.6 + 1.5
        let cost = table.cost("claude-sonnet-4-20250514", &usage).unwrap();
        assert!((cost - 6.6).abs() < 1e-9, "{cost}");
        // A quarter of the writes with the 1-hour TTL: 100K at 6.0 instead of 3.75.
        let one_hour = TokenUsage {
            cache_write_1h: 100_000,
            ..usage
        };
        let cost = table.cost("claude-sonnet-4-20250514", &one_hour).unwrap();
        assert!((cost - 6.825).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn a_bad_user_table_is_a_clear_error() {
        let err = PriceTable::parse("[[model]]\nfamily = 1", "x.toml").unwrap_err();
        assert!(err.to_string().starts_with("invalid price table x.toml"));
    }
}
