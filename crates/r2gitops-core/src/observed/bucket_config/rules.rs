//! What every kind made of rules shares, written once: rules keyed by id compared as sets,
//! the words of a change (`+id`, `-id`, `id 7d→3d`), ids and dates as a plan shows them,
//! the units the file wrote its ages in, and the pieces of YAML `import` writes.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Age;
use crate::config::yaml::quoted;

/// A rule with an id.
pub trait Keyed {
    fn key(&self) -> &str;
}

/// Rules with an id, keyed by it. Ids are unique in a declaration; should Cloudflare ever
/// answer with a repeated id, the last one stands (a set cannot hold both).
pub fn by_id<R: Keyed>(rules: &[R]) -> BTreeMap<&str, &R> {
    rules.iter().map(|r| (r.key(), r)).collect()
}

/// An id as a plan shows it: quoted when it holds a space.
pub fn quote(id: &str) -> String {
    if id.chars().any(char::is_whitespace) || id.is_empty() {
        format!("{id:?}")
    } else {
        id.to_string()
    }
}

/// An instant as RFC 3339.
pub fn show_date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// One field of a rule that differs: its name, the value before, the value after.
pub type FieldChange = (&'static str, String, String);

/// `+id`, `-id`, and for a rule in both that differs, `id` and its changes (`field_words`).
pub fn rule_changes<R: Keyed + PartialEq>(
    have: &[R],
    want: &[R],
    fields: impl Fn(&R, &R) -> Vec<FieldChange>,
) -> Vec<String> {
    let (h, w) = (by_id(have), by_id(want));
    let mut out = Vec::new();
    for (id, rule) in &w {
        match h.get(id) {
            None => out.push(format!("+{}", quote(id))),
            Some(old) if *old != *rule => {
                out.push(format!("{} {}", quote(id), field_words(&fields(old, rule))));
            }
            Some(_) => {}
        }
    }
    for id in h.keys().filter(|id| !w.contains_key(*id)) {
        out.push(format!("-{}", quote(id)));
    }
    out
}

/// `7d→3d` when the one change is the rule's age or date (the plan reads `lifecycle
/// expire-tmp 7d→3d`), else each change named: `enabled true→false, abort_multipart 1d→2d`.
pub fn field_words(fields: &[FieldChange]) -> String {
    match fields {
        [(f, from, to)] if !matches!(*f, "enabled" | "prefix") => format!("{from}→{to}"),
        _ => fields
            .iter()
            .map(|(f, from, to)| format!("{f} {from}→{to}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The changes of the two fields every rule has: `enabled` and `prefix`.
pub fn common_fields(
    old_enabled: bool,
    new_enabled: bool,
    old_prefix: &str,
    new_prefix: &str,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if old_enabled != new_enabled {
        out.push(("enabled", old_enabled.to_string(), new_enabled.to_string()));
    }
    if old_prefix != new_prefix {
        out.push((
            "prefix",
            format!("{old_prefix:?}"),
            format!("{new_prefix:?}"),
        ));
    }
    out
}

/// The unit each declared age field was written in, by rule id and field.
pub type Units = HashMap<(String, &'static str), char>;

/// The units of one rule's fields; `d` where the file wrote none.
pub fn unit_of(units: &Units, id: &str) -> impl Fn(&'static str) -> char {
    let units: HashMap<&'static str, char> = units
        .iter()
        .filter(|((rule, _), _)| rule == id)
        .map(|((_, field), u)| (*field, *u))
        .collect();
    move |field| units.get(field).copied().unwrap_or('d')
}

/// `0 rules`, `1 rule (web)`, `2 rules (web, [*])`: a list of rules in a few words.
pub fn rule_summary(labels: Vec<String>) -> String {
    match labels.len() {
        0 => "no rule".to_string(),
        1 => format!("1 rule ({})", labels[0]),
        n => format!("{n} rules ({})", labels.join(", ")),
    }
}

/// An age as the file writes it: in the largest unit that divides it.
pub fn age(secs: u64) -> String {
    Age::show(secs, 'd')
}

/// A YAML flow list of double-quoted strings.
pub fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|s| quoted(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A block of rules as `import` writes it: `key: []`, or `key:` and each rule's fields as
/// a YAML list item.
pub fn rule_lines(key: &str, rules: Vec<Vec<String>>) -> Vec<String> {
    if rules.is_empty() {
        return vec![format!("{key}: []")];
    }
    let mut l = vec![format!("{key}:")];
    for fields in rules {
        for (i, f) in fields.into_iter().enumerate() {
            l.push(format!("  {} {f}", if i == 0 { "-" } else { " " }));
        }
    }
    l
}
