//! `lock:`, the bucket's lock rules (`GET …/lock`), keyed by id. A change that shortens,
//! narrows, turns off or removes a rule's retention loosens it: an object it retained might
//! become deletable, so the plan counts it as a deletion (`Change::loosens`).

use super::rules::{
    FieldChange, Keyed, Units, age, by_id, common_fields, field_words, rule_changes, rule_lines,
    rule_summary, show_date, unit_of,
};
use super::{Change, Replaced, SubResource, Written, quote};
use crate::config::yaml::quoted;
use crate::config::{self, BucketConfig};
use serde_json::{Value, json as value};

use super::json;

pub struct Lock;

/// How long a lock rule retains.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Retention {
    Age(u64),
    Date(i64),
    Indefinite,
    /// A condition type r2gitops does not know, verbatim.
    Other(String),
}

impl Retention {
    pub fn show(&self, unit: char) -> String {
        match self {
            Retention::Age(s) => config::Age::show(*s, unit),
            Retention::Date(t) => show_date(*t),
            Retention::Indefinite => "indefinite".into(),
            Retention::Other(s) => s.clone(),
        }
    }

    /// Whether `self` retains every object at least as long as `before` did. Different
    /// kinds (an age against a date) cannot be compared for every object: not "at least".
    pub fn at_least(&self, before: &Retention) -> bool {
        match (self, before) {
            (Retention::Indefinite, _) => true,
            (Retention::Age(a), Retention::Age(b)) => a >= b,
            (Retention::Date(a), Retention::Date(b)) => a >= b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockRule {
    pub id: String,
    pub enabled: bool,
    pub prefix: String,
    pub retention: Retention,
}

impl Keyed for LockRule {
    fn key(&self) -> &str {
        &self.id
    }
}

impl LockRule {
    fn declared(r: &config::LockRule) -> Self {
        LockRule {
            id: r.id.clone(),
            enabled: r.enabled,
            prefix: r.prefix.clone(),
            retention: match r.retention {
                config::Retention::For(a) => Retention::Age(a.secs),
                config::Retention::Until(t) => Retention::Date(t.unix_timestamp()),
                config::Retention::Indefinite => Retention::Indefinite,
            },
        }
    }
}

impl SubResource for Lock {
    type Value = Vec<LockRule>;
    const KEY: &'static str = "lock";
    const LABEL: &'static str = "lock rules";
    const WRITTEN: Written = Written::Whole;

    fn new_bucket() -> Self::Value {
        Vec::new()
    }

    fn cleared() -> Self::Value {
        Vec::new()
    }

    fn declared(config: &BucketConfig) -> Option<Self::Value> {
        let rules = config.lock.as_ref()?;
        Some(rules.iter().map(LockRule::declared).collect())
    }

    fn matches(a: &Self::Value, b: &Self::Value) -> bool {
        by_id(a) == by_id(b)
    }

    fn is_empty(v: &Self::Value) -> bool {
        v.is_empty()
    }

    fn summary(v: &Self::Value) -> String {
        rule_summary(v.iter().map(|r| quote(&r.id)).collect())
    }

    fn import_lines(v: &Self::Value) -> Result<Vec<String>, String> {
        let mut rules = Vec::new();
        for r in v {
            let mut fields = vec![format!("id: {}", quoted(&r.id))];
            if !r.prefix.is_empty() {
                fields.push(format!("prefix: {}", quoted(&r.prefix)));
            }
            if !r.enabled {
                fields.push("enabled: false".into());
            }
            fields.push(match &r.retention {
                Retention::Age(s) => format!("retain_for: {}", age(*s)),
                Retention::Date(t) => format!("retain_until: {}", show_date(*t)),
                Retention::Indefinite => "retain: indefinite".into(),
                Retention::Other(raw) => {
                    return Err(format!(
                        "rule {} retains by a condition r2gitops does not know ({})",
                        quoted(&r.id),
                        quoted(raw)
                    ));
                }
            });
            rules.push(fields);
        }
        Ok(rule_lines(Self::KEY, rules))
    }

    fn decode(result: &Value) -> Result<Self::Value, String> {
        Ok(json::rules(result)?
            .iter()
            .map(|r| {
                let c = r.get("condition").cloned().unwrap_or(Value::Null);
                let retention = match c.get("type").and_then(Value::as_str) {
                    Some("Age") => json::seconds(c.get("maxAgeSeconds"))
                        .map_or_else(|| Retention::Other(c.to_string()), Retention::Age),
                    Some("Date") => json::instant(c.get("date"))
                        .map_or_else(|| Retention::Other(c.to_string()), Retention::Date),
                    Some("Indefinite") => Retention::Indefinite,
                    _ => Retention::Other(c.to_string()),
                };
                LockRule {
                    id: json::text(r, "id"),
                    enabled: json::enabled(r),
                    prefix: json::text(r, "prefix"),
                    retention,
                }
            })
            .collect())
    }
}

impl Replaced for Lock {
    fn change(have: &Self::Value, want: &Self::Value, declared: &BucketConfig) -> Change {
        let units = units(declared);
        Change {
            loosens: loosened(have, want, &units),
            ..Change::words(rule_changes(have, want, |o, n| {
                fields(o, n, unit_of(&units, &n.id))
            }))
        }
    }

    fn body(rules: &Self::Value) -> Value {
        let rules = rules.iter().map(|r| {
            let condition = match &r.retention {
                Retention::Age(s) => value!({"type": "Age", "maxAgeSeconds": s}),
                Retention::Date(t) => value!({"type": "Date", "date": json::date(*t)}),
                Retention::Indefinite => value!({"type": "Indefinite"}),
                Retention::Other(raw) => serde_json::from_str(raw).unwrap_or(Value::Null),
            };
            value!({"id": r.id, "enabled": r.enabled, "prefix": r.prefix, "condition": condition})
        });
        value!({"rules": rules.collect::<Vec<_>>()})
    }
}

fn fields(o: &LockRule, n: &LockRule, unit: impl Fn(&'static str) -> char) -> Vec<FieldChange> {
    let mut out = common_fields(o.enabled, n.enabled, &o.prefix, &n.prefix);
    if o.retention != n.retention {
        out.push((
            "retention",
            o.retention.show(unit("retention")),
            n.retention.show(unit("retention")),
        ));
    }
    out
}

fn units(declared: &BucketConfig) -> Units {
    declared
        .lock
        .iter()
        .flatten()
        .filter_map(|r| match r.retention {
            config::Retention::For(a) => Some(((r.id.clone(), "retention"), a.unit)),
            _ => None,
        })
        .collect()
}

/// Every enabled lock rule of `have` that `want` shortens, narrows, turns off or removes,
/// in words. An object it retained might become deletable: that is a deletion.
fn loosened(have: &[LockRule], want: &[LockRule], units: &Units) -> Vec<String> {
    let w = by_id(want);
    let mut out = Vec::new();
    for o in have.iter().filter(|o| o.enabled) {
        let Some(n) = w.get(o.id.as_str()) else {
            out.push(format!("-{}", quote(&o.id)));
            continue;
        };
        // A shorter prefix covers more; any other change covers something else.
        let narrower = !o.prefix.starts_with(n.prefix.as_str());
        let shorter = !n.retention.at_least(&o.retention);
        if !n.enabled || narrower || shorter {
            let fields = fields(o, n, unit_of(units, &n.id));
            out.push(format!("{} {}", quote(&o.id), field_words(&fields)));
        }
    }
    out
}
