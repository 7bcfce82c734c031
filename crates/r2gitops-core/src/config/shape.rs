//! Structural check of a parsed YAML tree against the file's JSON Schema, reporting every
//! problem at once: unknown fields (with did-you-mean), missing fields, wrong types, values
//! outside an enum, integers out of range.
//!
//! Serde stops at the first problem; this walk does not, and because it is driven by the
//! schema `raw` derives, the schema and the checks cannot disagree. Patterns, `const` and
//! cross-field rules are left to `validate`, which words them better. Pure: no I/O.

use serde_json::Value as J;

use super::diagnostic::{Capped, Diagnostic, Diagnostics};
use super::yaml::{self, Node, Value};

/// One structural problem; `validate` and `load` add the file name. Ordered by position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Walk `root` against `schema`; an empty result means serde will accept the document.
/// Keeps the first problems by position and counts the rest (`Capped`).
pub fn check(root: &Node, schema: &J) -> Capped<Problem> {
    let mut walker = Walker {
        root: schema,
        problems: Capped::default(),
    };
    walker.walk(root, schema, "");
    walker.problems
}

/// Every structural problem of a document the typed pass refused, as diagnostics of
/// `file`: the parser's own error when the text is not YAML, else the walk against
/// `schema`. `empty` is the hint for an empty document.
pub fn diagnose(
    text: &str,
    file: &str,
    typed_error: serde_saphyr::Error,
    schema: &J,
    empty: &str,
) -> Diagnostics {
    let one = |line, column, path: &str, message, hint| {
        Diagnostics::one(Diagnostic {
            file: file.to_string(),
            line,
            column,
            path: path.to_string(),
            message,
            hint,
        })
    };
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return one(1, 1, "", "the file is empty".into(), Some(empty.into())),
        Err(e) => {
            let path = yaml::parse_keeping_duplicates(text)
                .map(|root| path_at(&root, e.line, e.column))
                .unwrap_or_default();
            return one(e.line, e.column, &path, e.message, e.hint);
        }
    };
    let (problems, omitted) = check(&root, schema).into_parts();
    if problems.is_empty() {
        // A corner the schema cannot express; still name the field.
        let e = yaml::from_saphyr(typed_error);
        let path = path_at(&root, e.line, e.column);
        return one(e.line, e.column, &path, e.message, e.hint);
    }
    Diagnostics::sorted(
        problems
            .into_iter()
            .map(|p| Diagnostic {
                file: file.to_string(),
                line: p.line,
                column: p.column,
                path: p.path,
                message: p.message,
                hint: p.hint,
            })
            .collect(),
        omitted,
    )
}

/// The path of the node or key at exactly this position (used to name the field of a late
/// serde error), or "" when none starts there.
pub fn path_at(root: &Node, line: usize, column: usize) -> String {
    fn find(node: &Node, path: &str, line: usize, column: usize) -> Option<String> {
        // Children first: a mapping starts where its first key does, and the key is the
        // more precise answer.
        let inner = match &node.value {
            Value::Map(entries) => entries.iter().find_map(|(k, v)| {
                let p = join(path, &k.name);
                if (k.line, k.column) == (line, column) {
                    Some(p)
                } else {
                    find(v, &p, line, column)
                }
            }),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| find(v, &format!("{path}[{i}]"), line, column)),
            _ => None,
        };
        inner.or_else(|| ((node.line, node.column) == (line, column)).then(|| path.to_string()))
    }
    find(root, "", line, column).unwrap_or_default()
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

struct Walker<'a> {
    root: &'a J,
    problems: Capped<Problem>,
}

impl<'a> Walker<'a> {
    fn problem(&mut self, at: (usize, usize), path: &str, message: String, hint: Option<String>) {
        self.problems.push(Problem {
            line: at.0,
            column: at.1,
            path: path.to_string(),
            message,
            hint,
        });
    }

    fn resolve(&self, schema: &'a J) -> &'a J {
        let mut s = schema;
        // `$ref` chains are short; the bound only guards against a cyclic schema.
        for _ in 0..8 {
            match s.get("$ref").and_then(J::as_str) {
                Some(r) => {
                    let target = r
                        .strip_prefix("#/$defs/")
                        .and_then(|name| self.root.get("$defs")?.get(name));
                    match target {
                        Some(t) => s = t,
                        None => return s,
                    }
                }
                None => return s,
            }
        }
        s
    }

    fn walk(&mut self, node: &Node, schema: &'a J, path: &str) {
        let schema = self.resolve(schema);
        if let Some(alternatives) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(J::as_array)
        {
            self.walk_alternatives(node, alternatives, path);
            return;
        }
        if !self.type_matches(node, schema, path) {
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(J::as_array) {
            self.check_enum(node, allowed, path);
        }
        match &node.value {
            Value::Map(entries) => self.walk_map(node, entries, schema, path),
            Value::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item, item_schema, &format!("{path}[{i}]"));
                    }
                }
            }
            Value::Int(i) => self.check_range(node, *i, schema, path),
            Value::Str(s) => {
                if let Some(i) = parse_int(s) {
                    self.check_range(node, i, schema, path);
                }
            }
            _ => {}
        }
    }

    /// `Option<T>` becomes `anyOf [T, null]`: null matches the null branch, anything else is
    /// checked against the first branch that is not null (and reported from it).
    fn walk_alternatives(&mut self, node: &Node, alternatives: &'a [J], path: &str) {
        let is_null_schema = |s: &J| s.get("type").and_then(J::as_str) == Some("null");
        if node.value == Value::Null && alternatives.iter().any(is_null_schema) {
            return;
        }
        let candidates: Vec<&J> = alternatives.iter().filter(|s| !is_null_schema(s)).collect();
        for candidate in &candidates {
            let mut trial = Walker {
                root: self.root,
                problems: Capped::default(),
            };
            trial.walk(node, candidate, path);
            if trial.problems.is_empty() {
                return;
            }
        }
        if let Some(first) = candidates.first() {
            self.walk(node, first, path);
        }
    }

    fn type_matches(&mut self, node: &Node, schema: &J, path: &str) -> bool {
        let types: Vec<&str> = match schema.get("type") {
            Some(J::String(t)) => vec![t.as_str()],
            Some(J::Array(ts)) => ts.iter().filter_map(J::as_str).collect(),
            _ => return true,
        };
        let ok = types.iter().any(|t| match (*t, &node.value) {
            ("object", Value::Map(_)) | ("array", Value::Seq(_)) => true,
            ("boolean", Value::Bool(_)) | ("null", Value::Null) => true,
            ("integer", Value::Int(_)) | ("number", Value::Int(_) | Value::Float(_)) => true,
            // The typed reader takes a plain `2024` or `true` as the string "2024"/"true",
            // as YAML tools do when the schema says string; accept what it accepts.
            ("string", Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)) => true,
            // ... and, the other way round, a quoted '10' or 'true' where the type says so.
            ("integer", Value::Str(s)) => parse_int(s).is_some(),
            ("number", Value::Str(s)) => s.parse::<f64>().is_ok(),
            ("boolean", Value::Str(s)) => s == "true" || s == "false",
            _ => false,
        });
        if !ok {
            let wanted: Vec<&str> = types
                .iter()
                .filter(|t| **t != "null")
                .map(|t| match *t {
                    "object" => "a mapping",
                    "array" => "a list",
                    "boolean" => "a boolean",
                    "integer" => "an integer",
                    "number" => "a number",
                    _ => "a string",
                })
                .collect();
            let found = match &node.value {
                Value::Str(s) => format!("a string ('{}')", super::yaml::sanitize(&clip(s))),
                v => v.kind().to_string(),
            };
            let hint = match (&node.value, wanted.first()) {
                (Value::Str(s), Some(&"a boolean")) => Some(format!(
                    "write true or false{}",
                    if ["yes", "no", "on", "off", "y", "n"].contains(&s.to_lowercase().as_str()) {
                        " (YAML 1.2 reads yes/no/on/off as strings)"
                    } else {
                        ""
                    }
                )),
                (Value::Str(_), Some(&"an integer")) => {
                    Some("write the number without quotes".into())
                }
                (Value::Null, _) => Some("give it a value, or remove the key".into()),
                (_, Some(&"a list")) => {
                    Some("write a list, even of one item: [item] or one '- item' line each".into())
                }
                _ => None,
            };
            self.problem(
                (node.line, node.column),
                path,
                format!("expected {}, found {found}", wanted.join(" or ")),
                hint,
            );
        }
        ok
    }

    fn check_enum(&mut self, node: &Node, allowed: &[J], path: &str) {
        let allowed: Vec<&str> = allowed.iter().filter_map(J::as_str).collect();
        let Some(text) = node.value.scalar_text() else {
            return;
        };
        if allowed.contains(&text.as_str()) {
            return;
        }
        let field = path.rsplit('.').next().unwrap_or(path);
        let field = field.split('[').next().unwrap_or(field).replace('_', " ");
        let suggestion = did_you_mean(&text, allowed.iter().copied());
        let hint = match suggestion {
            Some(s) => format!("did you mean '{s}'? one of: {}", allowed.join(", ")),
            None => format!("one of: {}", allowed.join(", ")),
        };
        self.problem(
            (node.line, node.column),
            path,
            format!("unknown {field} '{}'", super::yaml::sanitize(&clip(&text))),
            Some(hint),
        );
    }

    fn check_range(&mut self, node: &Node, value: i128, schema: &J, path: &str) {
        let min = schema.get("minimum").and_then(J::as_i64).map(i128::from);
        let max = match schema.get("format").and_then(J::as_str) {
            Some("uint32") => Some(i128::from(u32::MAX)),
            Some("uint64") => Some(i128::from(u64::MAX)),
            _ => None,
        };
        let max = schema
            .get("maximum")
            .and_then(J::as_i64)
            .map(i128::from)
            .or(max);
        if min.is_some_and(|m| value < m) || max.is_some_and(|m| value > m) {
            self.problem(
                (node.line, node.column),
                path,
                format!(
                    "{value} is out of range ({}..={})",
                    min.map_or(String::new(), |m| m.to_string()),
                    max.map_or(String::new(), |m| m.to_string())
                ),
                None,
            );
        }
    }

    fn walk_map(
        &mut self,
        node: &Node,
        entries: &[(super::yaml::Key, Node)],
        schema: &'a J,
        path: &str,
    ) {
        let properties = schema.get("properties").and_then(J::as_object);
        let closed = schema.get("additionalProperties") == Some(&J::Bool(false));
        for (key, value) in entries {
            // A path names the key as messages do: clipped, so that a huge key is not
            // copied into every problem below it.
            let field_path = join(path, &super::yaml::sanitize(&clip(&key.name)));
            match properties.and_then(|p| p.get(&key.name)) {
                Some(field_schema) => self.walk(value, field_schema, &field_path),
                None if closed => {
                    let known: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let hint = match did_you_mean(&key.name, known.iter().copied()) {
                        Some(s) => format!("did you mean '{s}'? fields here: {}", known.join(", ")),
                        None => format!("fields here: {}", known.join(", ")),
                    };
                    self.problem(
                        (key.line, key.column),
                        &field_path,
                        format!(
                            "unknown field '{}'",
                            super::yaml::sanitize(&clip(&key.name))
                        ),
                        Some(hint),
                    );
                }
                None => {}
            }
        }
        if let Some(required) = schema.get("required").and_then(J::as_array) {
            for name in required.iter().filter_map(J::as_str) {
                if !entries.iter().any(|(k, _)| k.name == name) {
                    self.problem(
                        (node.line, node.column),
                        path,
                        format!("missing field '{name}'"),
                        None,
                    );
                }
            }
        }
    }
}

/// An integer as YAML writes it (decimal, 0x, 0o, 0b, signed), as the typed reader reads
/// a quoted one.
fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = match digits.get(..2) {
        Some("0x" | "0X") => (16, &digits[2..]),
        Some("0o" | "0O") => (8, &digits[2..]),
        Some("0b" | "0B") => (2, &digits[2..]),
        _ => (10, digits),
    };
    let digits = digits.replace('_', "");
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let value = i128::from_str_radix(&digits, radix).ok()?;
    Some(if negative { -value } else { value })
}

/// Long values are cut in messages: a message names the value, it does not reprint a blob.
pub fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// The closest candidate within a small edit distance, for "did you mean" hints.
pub fn did_you_mean<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let input_lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (levenshtein(&input_lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
