//! The sane maxima of what one record may carry (docs/reliability.md, "Values the database can
//! hold"). A record past one is refused on its own, with the reason, as OTLP partial success or
//! a 400; the rest of its batch is stored. The maxima sit far above anything a real model call
//! reports and far enough below the columns' limits that no sum of them can overflow a column:
//! token columns of one call are INTEGER (2^31 − 1) and their sums BIGINT; costs are NUMERIC.

/// Why one record (a span, event, metric point or parsed call) is refused. The reason goes back
/// to its producer (OTLP partial success, a 400, the ingest summary); the rest of the batch is
/// kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for Invalid {
    fn from(reason: &str) -> Self {
        Self(reason.to_string())
    }
}

/// Tokens of one kind (input, output, cache read, cache write) in one model call: 100 million,
/// a hundred times the largest context window offered today. Five kinds together stay below
/// 2^31 − 1, so a call's total fits the INTEGER columns of `context_usage`.
pub const MAX_TOKENS_PER_CALL: i64 = 100_000_000;

/// US dollars one record may report (a call's `cost_usd`, a session's `total_cost_usd`).
pub const MAX_REPORTED_COST_USD: f64 = 100_000.0;

/// Milliseconds a duration may claim (a test run, a case, a wait): a year. Longer claims are
/// dropped as unknown rather than stored.
pub const MAX_DURATION_MS: i64 = 366 * 24 * 3_600_000;

/// Bytes of a model name: names key indexes, and PostgreSQL refuses an index entry past about
/// 2.7 kB ("index row size exceeds maximum", SQLSTATE 54000).
pub const MAX_MODEL_NAME_BYTES: usize = 1024;

/// A model name within [`MAX_MODEL_NAME_BYTES`].
pub fn model_name(name: String) -> Result<String, Invalid> {
    if name.len() > MAX_MODEL_NAME_BYTES {
        return Err(format!(
            "the model name is {} bytes long (at most {MAX_MODEL_NAME_BYTES})",
            name.len()
        )
        .into());
    }
    Ok(name)
}

/// A token count read from a producer: absent is 0; negative or past [`MAX_TOKENS_PER_CALL`]
/// refuses the record.
pub fn token_count(key: &str, value: Option<i64>) -> Result<i64, Invalid> {
    match value {
        Some(n) if n < 0 => Err(format!("{key} is negative ({n})").into()),
        Some(n) if n > MAX_TOKENS_PER_CALL => Err(format!(
            "{key} is implausibly large ({n}; at most {MAX_TOKENS_PER_CALL} per model call)"
        )
        .into()),
        Some(n) => Ok(n),
        None => Ok(0),
    }
}

/// A reported cost: absent or negative stays absent (producers send −1 or nothing when they do
/// not know); not a finite number, or past [`MAX_REPORTED_COST_USD`], refuses the record.
pub fn reported_cost(key: &str, value: Option<f64>) -> Result<Option<f64>, Invalid> {
    match value {
        Some(c) if !c.is_finite() => Err(format!("{key} is not a finite number ({c})").into()),
        Some(c) if c > MAX_REPORTED_COST_USD => Err(format!(
            "{key} is implausibly large ({c}; at most {MAX_REPORTED_COST_USD} USD)"
        )
        .into()),
        Some(c) if c >= 0.0 => Ok(Some(c)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_what_a_column_or_its_sums_cannot_hold() {
        assert_eq!(token_count("t", None), Ok(0));
        assert_eq!(
            token_count("t", Some(MAX_TOKENS_PER_CALL)),
            Ok(MAX_TOKENS_PER_CALL)
        );
        assert!(token_count("t", Some(i64::from(i32::MAX))).is_err());
        assert!(token_count("t", Some(-1)).is_err());
        assert!(5 * MAX_TOKENS_PER_CALL < i64::from(i32::MAX));
        assert_eq!(reported_cost("c", Some(-1.0)), Ok(None));
        assert_eq!(reported_cost("c", Some(0.5)), Ok(Some(0.5)));
        assert!(reported_cost("c", Some(f64::NAN)).is_err());
        assert!(reported_cost("c", Some(f64::INFINITY)).is_err());
        assert!(reported_cost("c", Some(1e12)).is_err());
    }
}
