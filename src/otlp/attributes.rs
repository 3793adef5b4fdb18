//! Reading OTLP attributes leniently: producers send numbers as ints, doubles or strings, and
//! attribute types changed between versions of the same producer, so every getter accepts any
//! representation that has an unambiguous meaning.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Any};
use serde_json::{Map, Value};

/// Deeper values are replaced by a marker when converted to JSON: a hostile or broken producer
/// must not make us recurse without bound.
const MAX_JSON_DEPTH: usize = 16;

/// A span's attributes, falling back to its resource's attributes.
pub struct Attributes<'a> {
    span: HashMap<&'a str, &'a AnyValue>,
    resource: HashMap<&'a str, &'a AnyValue>,
}

impl<'a> Attributes<'a> {
    pub fn new(span: &'a [KeyValue], resource: &'a [KeyValue]) -> Self {
        Self {
            span: index(span),
            resource: index(resource),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Any> {
        self.span
            .get(key)
            .or_else(|| self.resource.get(key))
            .and_then(|v| v.value.as_ref())
    }

    /// A non-empty string; numbers and booleans are rendered as text.
    pub fn str(&self, key: &str) -> Option<String> {
        let text = match self.get(key)? {
            Any::StringValue(s) => s.trim().to_string(),
            Any::IntValue(i) => i.to_string(),
            Any::DoubleValue(d) => d.to_string(),
            Any::BoolValue(b) => b.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    /// An integer from an int, an integral double, or a decimal string.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Any::IntValue(i) => Some(*i),
            Any::DoubleValue(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(*d as i64),
            Any::StringValue(s) => {
                let s = s.trim();
                s.parse::<i64>().ok().or_else(|| {
                    let d = s.parse::<f64>().ok()?;
                    (d.fract() == 0.0 && d.abs() < 9.0e15).then_some(d as i64)
                })
            }
            _ => None,
        }
    }

    /// A finite number from a double, an int, or a decimal string.
    pub fn float(&self, key: &str) -> Option<f64> {
        let value = match self.get(key)? {
            Any::DoubleValue(d) => *d,
            Any::IntValue(i) => *i as f64,
            Any::StringValue(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        value.is_finite().then_some(value)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Any::BoolValue(b) => Some(*b),
            Any::StringValue(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            Any::IntValue(i) => Some(*i != 0),
            _ => None,
        }
    }
}

fn index(kvs: &[KeyValue]) -> HashMap<&str, &AnyValue> {
    // First occurrence wins: duplicate keys are a producer bug and the spec says to keep one.
    let mut map = HashMap::with_capacity(kvs.len());
    for kv in kvs {
        if let Some(value) = kv.value.as_ref() {
            map.entry(kv.key.as_str()).or_insert(value);
        }
    }
    map
}

/// Attributes as a JSON object, to keep everything a producer sent.
pub fn to_json(kvs: &[KeyValue]) -> Value {
    Value::Object(object(kvs, 0))
}

fn object(kvs: &[KeyValue], depth: usize) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any_to_json(kv.value.as_ref(), depth)))
        .collect()
}

fn any_to_json(value: Option<&AnyValue>, depth: usize) -> Value {
    if depth >= MAX_JSON_DEPTH {
        return Value::String("<nested too deep>".into());
    }
    match value.and_then(|v| v.value.as_ref()) {
        None => Value::Null,
        Some(Any::StringValue(s)) => Value::String(s.clone()),
        Some(Any::BoolValue(b)) => Value::Bool(*b),
        Some(Any::IntValue(i)) => Value::from(*i),
        Some(Any::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number)
        }
        Some(Any::BytesValue(b)) => Value::String(hex(b)),
        Some(Any::ArrayValue(a)) => Value::Array(
            a.values
                .iter()
                .map(|v| any_to_json(Some(v), depth + 1))
                .collect(),
        ),
        Some(Any::KvlistValue(kv)) => Value::Object(object(&kv.values, depth + 1)),
        // An index into a profiles string table: meaningless without the table.
        Some(Any::StringValueStrindex(_)) => Value::Null,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: Any) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    #[test]
    fn numbers_are_read_from_any_representation() {
        let span = vec![
            kv("a", Any::IntValue(7)),
            kv("b", Any::DoubleValue(7.0)),
            kv("c", Any::StringValue(" 7 ".into())),
            kv("d", Any::DoubleValue(7.5)),
            kv("e", Any::StringValue("seven".into())),
        ];
        let attrs = Attributes::new(&span, &[]);
        assert_eq!(attrs.int("a"), Some(7));
        assert_eq!(attrs.int("b"), Some(7));
        assert_eq!(attrs.int("c"), Some(7));
        assert_eq!(attrs.int("d"), None);
        assert_eq!(attrs.int("e"), None);
        assert_eq!(attrs.float("d"), Some(7.5));
        assert_eq!(attrs.float("c"), Some(7.0));
    }

    #[test]
    fn span_attributes_shadow_resource_attributes() {
        let span = vec![kv("k", Any::StringValue("span".into()))];
        let resource = vec![
            kv("k", Any::StringValue("resource".into())),
            kv("r", Any::StringValue("only".into())),
        ];
        let attrs = Attributes::new(&span, &resource);
        assert_eq!(attrs.str("k").as_deref(), Some("span"));
        assert_eq!(attrs.str("r").as_deref(), Some("only"));
    }

    #[test]
    fn json_conversion_stops_at_the_depth_limit() {
        let mut value = Any::StringValue("leaf".into());
        for _ in 0..50 {
            value = Any::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: vec![AnyValue { value: Some(value) }],
            });
        }
        let json = to_json(&[kv("deep", value)]).to_string();
        assert!(json.contains("<nested too deep>"));
    }
}
