//! Lenient readers for the JSON values of Claude CLI lines: numbers may be integers, floats or
//! numeric strings, and any field may be missing; Anthropic `usage` objects become [`Usage`].

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::Usage;

/// Anthropic `usage`: input excludes cache; `cache_creation` splits writes by TTL.
pub(crate) fn usage(u: &Value) -> Option<Usage> {
    if !u.is_object() {
        return None;
    }
    let get = |k: &str| int(&u[k]).unwrap_or(0).max(0);
    let cache_write = get("cache_creation_input_tokens");
    let split = &u["cache_creation"];
    let (w5m, w1h) = match (
        int(&split["ephemeral_5m_input_tokens"]),
        int(&split["ephemeral_1h_input_tokens"]),
    ) {
        (None, None) => (cache_write, 0),
        (five, hour) => (five.unwrap_or(0), hour.unwrap_or(0)),
    };
    Some(Usage {
        input: get("input_tokens"),
        output: get("output_tokens"),
        cache_read: get("cache_read_input_tokens"),
        cache_write,
        cache_write_5m: w5m,
        cache_write_1h: w1h,
    })
}

pub(crate) fn max_usage(a: &Usage, b: &Usage) -> Usage {
    Usage {
        input: a.input.max(b.input),
        output: a.output.max(b.output),
        cache_read: a.cache_read.max(b.cache_read),
        cache_write: a.cache_write.max(b.cache_write),
        cache_write_5m: a.cache_write_5m.max(b.cache_write_5m),
        cache_write_1h: a.cache_write_1h.max(b.cache_write_1h),
    }
}

/// A non-empty string.
pub(crate) fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// An integer sent as a number (integral or not) or a numeric string.
pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.round() as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f.round() as i64),
        _ => None,
    }
}

pub(crate) fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

pub(crate) fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}
