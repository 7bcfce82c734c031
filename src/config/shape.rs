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
mod tests {
    use super::super::{raw, yaml};
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let node = yaml::parse(text).unwrap().unwrap();
        check(&node, raw::json_schema())
            .into_parts()
            .0
            .into_iter()
            .map(|p| {
                format!(
                    "{}:{}: {}: {}{}",
                    p.line,
                    p.column,
                    p.path,
                    p.message,
                    p.hint.map(|h| format!(" [{h}]")).unwrap_or_default()
                )
            })
            .collect()
    }

    const TOKEN: &str = "\n    access: admin-read\n    output: {file: a, format: env}";

    #[test]
    fn a_well_formed_document_has_no_structural_problem() {
        let text = format!(
            "version: 1\nsettings:\n  prune: false\n  recipients: [age1x]\nbuckets:\n  - name: abc\n    jurisdiction: eu\ntokens:\n  - name: t{TOKEN}\n    buckets: [abc]\n"
        );
        assert_eq!(problems(&text), Vec::<String>::new());
    }

    #[test]
    fn every_structural_problem_is_reported_with_its_position_and_path() {
        let text = format!(
            "version: 1\nbuckts: []\nsettings:\n  prune: yes\n  max_deletions: -1\nbuckets:\n  - name: abc\n    jurisdiction: europe\n    color: red\ntokens:\n  - name: t{TOKEN}\n    owner: acount\n  - access: nope\n"
        );
        let got = problems(&text);
        let want = [
            "2:1: buckts: unknown field 'buckts' [did you mean 'buckets'? fields here: account_id, buckets, settings, temporary_credentials, tokens, version]",
            "4:10: settings.prune: expected a boolean, found a string ('yes') [write true or false (YAML 1.2 reads yes/no/on/off as strings)]",
            "5:18: settings.max_deletions: -1 is out of range (0..=4294967295)",
            "8:19: buckets[0].jurisdiction: unknown jurisdiction 'europe' [one of: default, eu, fedramp, us]",
            "9:5: buckets[0].color: unknown field 'color' [fields here: cors, custom_domains, jurisdiction, lifecycle, location_hint, lock, name, notifications, protect, public_dev_url, storage_class]",
            "14:12: tokens[0].owner: unknown owner 'acount' [did you mean 'account'? one of: account, user]",
            "15:5: tokens[1]: missing field 'name'",
            "15:5: tokens[1]: missing field 'output'",
            "15:13: tokens[1].access: unknown access 'nope' [one of: object-read, object-read-write, admin-read, admin-read-write]",
        ];
        let mut got_sorted = got.clone();
        got_sorted.sort();
        let mut want_sorted: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want_sorted.sort();
        assert_eq!(got_sorted, want_sorted);
    }

    #[test]
    fn root_must_be_a_mapping_with_a_version() {
        assert_eq!(
            problems("- 1\n"),
            [":1:1: : expected a mapping, found a list"].map(|s| s[1..].to_string())
        );
        assert_eq!(
            problems("account_id: x\n"),
            ["1:1: : missing field 'version'"]
        );
    }

    #[test]
    fn null_is_accepted_for_optional_fields_only() {
        assert_eq!(
            problems("version: 1\nsettings:\nbuckets: ~\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            problems("version: ~\n"),
            ["1:10: version: expected an integer, found null [give it a value, or remove the key]"]
        );
    }

    #[test]
    fn path_at_names_the_key_or_value_at_a_position() {
        let node = yaml::parse("a:\n  b: [x, y]\n").unwrap().unwrap();
        assert_eq!(path_at(&node, 2, 3), "a.b");
        assert_eq!(path_at(&node, 2, 10), "a.b[1]");
        assert_eq!(path_at(&node, 9, 9), "");
    }

    #[test]
    fn did_you_mean_picks_the_closest_candidate_within_reach() {
        let cases = [
            ("buckts", Some("buckets")),
            ("TOKENS", Some("tokens")),
            ("zzzzzz", None),
            ("eur", Some("eu")),
        ];
        for (input, want) in cases {
            assert_eq!(
                did_you_mean(input, ["buckets", "tokens", "eu", "us"]),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn typed_and_shape_passes_agree_on_scalar_corner_cases() {
        // (document, typed pass accepts). Where the typed pass accepts, the walk must find
        // nothing (load skips it then); where it refuses, the walk must say why.
        let cases = [
            "version: 1.0",
            "version: '1'",
            "version: 0x1",
            "version: '-1'",
            "version: '99999999999'",
            "version: 1\nsettings: {max_deletions: '0x10'}",
            "version: 1\nsettings: {prune: 'yes'}",
            "version: 1\nsettings: {max_deletions: '1_000'}",
            "version: 1\nsettings: {max_deletions: 1_000}",
            "version: 1\nsettings: {max_deletions: '+5'}",
            "version: 1\nsettings: {max_deletions: ' 5'}",
            "version: 1\nsettings: {max_deletions: 0o17}",
            "version: 1\nsettings: {prune: 'false'}",
            "version: 1\nsettings: {max_deletions: 0x10}",
            "version: 1\nsettings: {max_deletions: 1e3}",
            "version: 1\nsettings: {max_deletions: 4294967296}",
            "version: 1\nsettings: {prune: True}",
            "version: 1\nsettings: {prune: 'true'}",
            "version: 1\nsettings: {prune: 1}",
            "version: 1\nsettings: {token_name_prefix: 12}",
            "version: 1\nsettings: {token_name_prefix: true}",
            "version: 1\nsettings: {token_name_prefix: ~}",
            "version: 1\nbuckets: [{name: 2024}]",
            "version: 1\nbuckets: [{name: media, protect: ~}]",
            "version: 1\nbuckets: {}",
            "version: 1\nbuckets: [{name: media, jurisdiction: EU}]",
            "version: 1\nbuckets: [{name: media, storage_class: standard}]",
            "version: 1\nsettings: []",
            "version: 1\n1: x",
            "version: 1\n? [a]\n: x",
        ];
        let mut disagreements = Vec::new();
        for text in cases {
            let typed = serde_saphyr::from_str_with_options::<raw::RawDoc>(text, yaml::options());
            let Ok(Some(node)) = yaml::parse(text) else {
                if typed.is_ok() {
                    disagreements.push(format!("{text:?}: typed accepts, tree refuses"));
                }
                continue;
            };
            let found = check(&node, raw::json_schema());
            if typed.is_ok() != found.is_empty() {
                disagreements.push(format!("{text:?}: typed {typed:?}, shape {found:?}"));
            }
        }
        assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    }
}
