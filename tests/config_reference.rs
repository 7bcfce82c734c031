//! `docs/configuration-reference.md` is generated from the JSON Schema `r2gitops schema`
//! prints (its field descriptions are the doc comments of the file's serde mirror), so the
//! reference cannot drift from the file format: this test renders it again and fails when
//! the committed page differs. `R2GITOPS_UPDATE_GOLDEN=1 cargo test --test
//! config_reference` rewrites the page, as the other golden files are rewritten.

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

const PAGE: &str = "docs/configuration-reference.md";

fn schema() -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_r2gitops"))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_configuration_reference_is_the_one_the_schema_generates() {
    let page = render(&schema());
    let path = common::root().join(PAGE);
    if std::env::var_os("R2GITOPS_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    // The line a reader should look at (the longer file's extra lines count as different).
    let first_difference = (committed != page).then(|| {
        let (a, b): (Vec<_>, Vec<_>) = (committed.lines().collect(), page.lines().collect());
        (0..a.len().max(b.len()))
            .find(|&i| a.get(i) != b.get(i))
            .map_or(0, |i| i + 1)
    });
    assert!(
        committed == page,
        "{PAGE} is stale (from line {first_difference:?}): the schema changed. Regenerate it with\n  R2GITOPS_UPDATE_GOLDEN=1 cargo test --test config_reference"
    );
}

#[test]
fn every_field_of_the_schema_has_a_row_and_a_description() {
    let schema = schema();
    let page = render(&schema);
    let defs = schema["$defs"].as_object().unwrap();
    for (name, def) in
        std::iter::once(("(root)", &schema)).chain(defs.iter().map(|(k, v)| (k.as_str(), v)))
    {
        for (key, field) in def["properties"].as_object().into_iter().flatten() {
            assert!(
                page.contains(&format!("| `{key}` |")),
                "{name}.{key} has no row"
            );
            assert!(
                !describe(field, &schema["$defs"]).is_empty(),
                "{name}.{key} has no doc comment (nor has its type), so the reference cannot describe it"
            );
        }
    }
}

/// The whole page.
fn render(schema: &Value) -> String {
    let defs = &schema["$defs"];
    let mut out = String::new();
    out.push_str("# Configuration reference\n\n");
    out.push_str(
        "<!-- Generated from `r2gitops schema` by tests/config_reference.rs; do not edit.\n     \
         Regenerate: R2GITOPS_UPDATE_GOLDEN=1 cargo test --test config_reference -->\n\n",
    );
    let _ = writeln!(
        out,
        "{}\n",
        prose(&one_line(str_of(&schema["description"])))
    );
    out.push_str(
        "Every key of the desired-state file (`r2gitops.yaml`), generated from the JSON Schema \
         that `r2gitops schema` prints, so it always matches the binary. An absent key takes \
         its default; a key that is not listed is an error. Durations are a number and a unit \
         (`s`, `m`, `h`, `d`); dates are RFC 3339 (`2027-01-01T00:00:00Z`). What each block \
         means, with examples: [the configuration guide](configuration.md); a file with every \
         key and a comment each: [`examples/full.yaml`](../examples/full.yaml).\n\n",
    );
    // Each object once, at the first path that reaches it (depth first, in file order).
    let mut sections: Vec<(String, Value, Vec<String>)> = Vec::new();
    collect(schema, defs, "", &mut sections);
    out.push_str("## Contents\n\n");
    for (path, _, _) in &sections {
        let _ = writeln!(out, "- [{}](#{})", title(path), anchor(&title(path)));
    }
    out.push('\n');
    for (path, object, also) in &sections {
        let _ = writeln!(out, "## {}\n", title(path));
        if !path.is_empty()
            && let Some(d) = object.get("description")
        {
            let _ = writeln!(out, "{}\n", prose(&one_line(str_of(d))));
        }
        if !also.is_empty() {
            let _ = writeln!(
                out,
                "The same keys at {}.\n",
                also.iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let required: BTreeSet<&str> = object["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        out.push_str("| key | type | required | default | description |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
        let mut patterns = Vec::new();
        for (key, field) in ordered(object, path) {
            let child = join(path, key);
            let mut kind = kind(field, defs, &child, &sections);
            if let Some(pattern) = long_pattern(field, defs) {
                kind = if field.get("items").is_some() {
                    "list of string"
                } else {
                    "string"
                }
                .to_string();
                patterns.push(format!("`{key}` matches `{pattern}`"));
            }
            let default = field
                .get("default")
                .map(|d| format!("`{}`", cell(&d.to_string())))
                .unwrap_or_default();
            let mut description = prose(&one_line(describe(field, defs)));
            if field.get("deprecated") == Some(&Value::Bool(true)) {
                description = format!("**Deprecated.** {description}");
            }
            let _ = writeln!(
                out,
                "| `{key}` | {} | {} | {default} | {} |",
                kind,
                if required.contains(key.as_str()) {
                    "yes"
                } else {
                    ""
                },
                cell(&description),
            );
        }
        let mut rules = rules(object);
        rules.extend(patterns);
        if !rules.is_empty() {
            out.push_str("\nAlso:\n\n");
            for rule in rules {
                let _ = writeln!(out, "- {rule}");
            }
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// The top level in the order files are written; elsewhere the required keys first (in
/// the order they are declared), then the rest by name.
fn ordered<'a>(object: &'a Value, path: &str) -> Vec<(&'a String, &'a Value)> {
    const TOP: [&str; 6] = [
        "version",
        "account_id",
        "settings",
        "buckets",
        "tokens",
        "temporary_credentials",
    ];
    let required: Vec<&str> = object["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut fields: Vec<(&String, &Value)> = object["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .collect();
    fields.sort_by_key(|(key, _)| {
        let rank = TOP
            .iter()
            .position(|k| path.is_empty() && k == key)
            .or_else(|| {
                required
                    .iter()
                    .position(|k| k == key)
                    .map(|i| i + TOP.len())
            })
            .unwrap_or(usize::MAX);
        (rank, key.to_string())
    });
    fields
}

/// `buckets[].cors[]` from `buckets[]` and `cors` (an array path gets `[]` later).
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn title(path: &str) -> String {
    if path.is_empty() {
        "The top level".to_string()
    } else {
        format!("`{path}`")
    }
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// What a field's `$ref` (or `anyOf: [$ref, null]`, or array `items`) points at.
fn target<'a>(field: &'a Value, defs: &'a Value) -> Option<(&'a str, &'a Value)> {
    let reference = field
        .get("$ref")
        .or_else(|| {
            field["anyOf"]
                .as_array()?
                .iter()
                .find_map(|alt| alt.get("$ref"))
        })?
        .as_str()?;
    let name = reference.strip_prefix("#/$defs/")?;
    Some((name, &defs[name]))
}

fn is_object(def: &Value) -> bool {
    def["type"] == "object" && def.get("properties").is_some()
}

fn collect(
    object: &Value,
    defs: &Value,
    path: &str,
    sections: &mut Vec<(String, Value, Vec<String>)>,
) {
    if let Some(seen) = sections.iter_mut().find(|(_, o, _)| o == object) {
        seen.2.push(path.to_string());
        return;
    }
    sections.push((path.to_string(), object.clone(), Vec::new()));
    for (key, field) in ordered(object, path) {
        let (child, resolved) = match field.get("items") {
            Some(items) => (format!("{}[]", join(path, key)), target(items, defs)),
            None => (join(path, key), target(field, defs)),
        };
        if let Some((_, def)) = resolved.filter(|(_, d)| is_object(d)) {
            collect(def, defs, &child, sections);
        }
    }
}

/// The type column: scalars with their constraint, enums by value, objects as a link.
fn kind(
    field: &Value,
    defs: &Value,
    path: &str,
    sections: &[(String, Value, Vec<String>)],
) -> String {
    let (list, single) = match field.get("items") {
        Some(items) => (true, items),
        None => (false, field),
    };
    let inner = match target(single, defs) {
        Some((_, def)) if is_object(def) => {
            let at = sections
                .iter()
                .find(|(_, o, _)| o == def)
                .map(|(p, _, _)| p.clone())
                .unwrap_or_else(|| path.to_string());
            format!("[object](#{})", anchor(&title(&at)))
        }
        Some((_, def)) => scalar(def),
        None => scalar(single),
    };
    if list {
        format!("list of {inner}")
    } else {
        inner
    }
}

fn scalar(def: &Value) -> String {
    if let Some(values) = def["enum"].as_array() {
        return values
            .iter()
            .map(|v| {
                format!(
                    "`{}`",
                    cell(
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                            .as_str()
                    )
                )
            })
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    if let Some(c) = def.get("const") {
        return format!("`{c}`");
    }
    let types: Vec<&str> = match &def["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => vec![],
    };
    let base = types.join(" or ");
    match (def["pattern"].as_str(), def["format"].as_str()) {
        (Some("^[0-9]+[smhd]$"), _) => "duration".to_string(),
        (_, Some("date-time")) => "date (RFC 3339)".to_string(),
        (Some(p), _) => format!("{base} matching `{}`", cell(p)),
        _ => {
            let mut s = base;
            if let Some(min) = def["minLength"].as_u64() {
                let _ = write!(
                    s,
                    ", at least {min} character{}",
                    if min == 1 { "" } else { "s" }
                );
            }
            if let Some(max) = def["maxLength"].as_u64() {
                let _ = write!(s, ", at most {max}");
            }
            s
        }
    }
}

/// A pattern too long for the type column (hostnames), shown under the table instead.
fn long_pattern<'a>(field: &'a Value, defs: &'a Value) -> Option<&'a str> {
    let single = field.get("items").unwrap_or(field);
    let def = target(single, defs).map(|(_, d)| d).unwrap_or(single);
    def["pattern"].as_str().filter(|p| p.len() > 48)
}

/// The object's cross-field rules (`allOf`), in words.
fn rules(object: &Value) -> Vec<String> {
    object["allOf"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| rule_words(rule).unwrap_or_else(|| format!("`{rule}`")))
        .collect()
}

fn keys(list: &Value) -> Option<Vec<String>> {
    list.as_array()?
        .iter()
        .map(|k| k.as_str().map(|k| format!("`{k}`")))
        .collect()
}

/// The keys each alternative of an `anyOf`/`oneOf` requires, when each requires one.
fn alternatives(list: &Value) -> Option<String> {
    let names: Option<Vec<String>> = list
        .as_array()?
        .iter()
        .map(|alt| match keys(&alt["required"])?.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        })
        .collect();
    Some(names?.join(", "))
}

fn rule_words(rule: &Value) -> Option<String> {
    if let Some(not) = rule.get("not") {
        return Some(format!(
            "not both of {}",
            keys(&not["required"])?.join(" and ")
        ));
    }
    if let Some(any) = rule.get("anyOf") {
        return Some(format!("at least one of {}", alternatives(any)?));
    }
    if let Some(one) = rule.get("oneOf") {
        return Some(format!("exactly one of {}", alternatives(one)?));
    }
    let (cond, then) = (rule.get("if")?, rule.get("then")?);
    let (key, test) = cond["properties"].as_object()?.iter().next()?;
    let when = if let Some(values) = keys(&test["enum"]) {
        format!("when `{key}` is {}", values.join(" or "))
    } else if test["not"].get("const").is_some() && test["type"] == "array" {
        format!(
            "when `{key}` is a list other than `{}`",
            test["not"]["const"]
        )
    } else {
        return None;
    };
    let consequence = if let Some(not) = then.get("not") {
        format!("no {}", keys(&not["required"])?.join(", "))
    } else {
        format!("{} is required", keys(&then["required"])?.join(", "))
    };
    Some(format!("{when}: {consequence}"))
}

/// A field's doc comment, or else its type's (`settings` is described by `Settings`).
fn describe<'a>(field: &'a Value, defs: &'a Value) -> &'a str {
    match field["description"].as_str() {
        Some(d) => d,
        None => target(field.get("items").unwrap_or(field), defs)
            .map(|(_, def)| str_of(&def["description"]))
            .unwrap_or(""),
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Doc comments wrap at 100 columns; a table cell is one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A table cell cannot hold a bare `|`.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Prose from a doc comment: outside its code spans, `*` (as in `object-*`) and `<` are
/// literal, not emphasis or HTML.
fn prose(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                part.to_string()
            } else {
                part.replace('*', "\\*").replace('<', "&lt;")
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}
