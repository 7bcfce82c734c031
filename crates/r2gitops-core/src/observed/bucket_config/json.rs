//! Reading and writing Cloudflare's JSON of a sub-resource, shared by the kinds' `decode`
//! and `body`. Reading is lenient where Cloudflare is known to stray from its spec, and
//! that leniency is what keeps a plan free of false drift: the default lifecycle rule's
//! `conditions: {}` has no `prefix`, lists come back `null`, methods in any case, ages as
//! floats, and fields r2gitops does not know are ignored.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Condition;

/// The `rules` list of an answer; `null` or absent is none.
pub(super) fn rules(result: &Value) -> Result<&[Value], String> {
    match result.get("rules") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(format!("'rules' is {}", kind_of(other))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A list of strings; `null` or absent is empty (Cloudflare's generator special-cases
/// these fields in cloudflare-typescript's `r2/buckets/cors.ts`).
pub(super) fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

pub(super) fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Whole seconds from a number that may come back as a float.
pub(super) fn seconds(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64))
}

pub(super) fn instant(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// `enabled` is required by the spec; an answer without it is taken as on (the shape
/// Cloudflare itself creates).
pub(super) fn enabled(v: &Value) -> bool {
    v.get("enabled").and_then(Value::as_bool).unwrap_or(true)
}

/// A lifecycle `condition` (`{type: Age, maxAge}` or `{type: Date, date}`); `None` for an
/// absent, null or empty one (an unused transition is not a transition: TF #7338).
pub(super) fn condition(c: Option<&Value>) -> Option<Condition> {
    let c = c.filter(|c| c.as_object().is_some_and(|o| !o.is_empty()))?;
    let t = c.get("type").and_then(Value::as_str).unwrap_or_default();
    Some(match t {
        "Age" => match seconds(c.get("maxAge")) {
            Some(s) => Condition::Age(s),
            None => Condition::Other(c.to_string()),
        },
        "Date" => match instant(c.get("date")) {
            Some(t) => Condition::Date(t),
            None => Condition::Other(c.to_string()),
        },
        _ => Condition::Other(c.to_string()),
    })
}

/// The `condition` inside a transition object (`{condition: {...}}`).
pub(super) fn transition(t: Option<&Value>) -> Option<Condition> {
    condition(t?.get("condition"))
}

/// An instant as Cloudflare takes it: RFC 3339.
pub(super) fn date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub(super) fn wire_condition(c: &Condition, age_key: &str) -> Value {
    match c {
        Condition::Age(s) => json!({"type": "Age", age_key: s}),
        Condition::Date(t) => json!({"type": "Date", "date": date(*t)}),
        // Never built from a declaration; sent back as read.
        Condition::Other(raw) => serde_json::from_str(raw).unwrap_or(Value::Null),
    }
}
