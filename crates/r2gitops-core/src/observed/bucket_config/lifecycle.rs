//! `lifecycle:`, the bucket's object lifecycle rules (`GET …/lifecycle`), keyed by id. A
//! new bucket holds Cloudflare's "Default Multipart Abort Rule"; a declared list replaces
//! the whole set, so a list without it drops it (the plan says so on a line of its own).

use std::collections::BTreeSet;

use super::rules::{
    FieldChange, Keyed, Units, age, by_id, common_fields, rule_changes, rule_lines, rule_summary,
    show_date, unit_of,
};
use super::{Change, Replaced, SubResource, Written, quote};
use crate::config::yaml::quoted;
use crate::config::{self, Age, BucketConfig, When};
use serde_json::{Map, Value, json as value};

use super::json;

pub struct Lifecycle;

/// When a lifecycle transition applies: an age in seconds, an instant (Unix seconds), or a
/// shape r2gitops does not know (kept verbatim: never equal to a declared one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Condition {
    Age(u64),
    Date(i64),
    Other(String),
}

impl Condition {
    fn declared(w: &config::When) -> Self {
        match w {
            config::When::After(a) => Condition::Age(a.secs),
            config::When::On(t) => Condition::Date(t.unix_timestamp()),
        }
    }

    /// As a plan shows it; ages in `unit` where it divides.
    pub fn show(&self, unit: char) -> String {
        match self {
            Condition::Age(s) => config::Age::show(*s, unit),
            Condition::Date(t) => show_date(*t),
            Condition::Other(s) => s.clone(),
        }
    }
}

/// A lifecycle rule, canonical: whole-bucket prefix "", transitions to Infrequent Access
/// as a set, empty transitions gone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    pub prefix: String,
    pub expire: Option<Condition>,
    pub transitions: BTreeSet<Condition>,
    pub abort_multipart_secs: Option<u64>,
}

impl Keyed for LifecycleRule {
    fn key(&self) -> &str {
        &self.id
    }
}

impl LifecycleRule {
    /// "Default Multipart Abort Rule": every new bucket's, abort after 7 days.
    pub fn cloudflare_default() -> Self {
        LifecycleRule {
            id: config::DEFAULT_LIFECYCLE_RULE_ID.to_string(),
            enabled: true,
            prefix: String::new(),
            expire: None,
            transitions: BTreeSet::new(),
            abort_multipart_secs: Some(config::DEFAULT_LIFECYCLE_RULE_ABORT_SECS),
        }
    }

    pub fn is_cloudflare_default(&self) -> bool {
        self.id == config::DEFAULT_LIFECYCLE_RULE_ID
    }

    fn declared(r: &config::LifecycleRule) -> Self {
        LifecycleRule {
            id: r.id.clone(),
            enabled: r.enabled,
            prefix: r.prefix.clone(),
            expire: r.expire.as_ref().map(Condition::declared),
            transitions: r
                .transition_to_infrequent_access
                .as_ref()
                .map(Condition::declared)
                .into_iter()
                .collect(),
            abort_multipart_secs: r.abort_multipart_after.map(|a| a.secs),
        }
    }
}

impl SubResource for Lifecycle {
    type Value = Vec<LifecycleRule>;
    const KEY: &'static str = "lifecycle";
    const LABEL: &'static str = "lifecycle rules";
    const WRITTEN: Written = Written::Whole;

    fn new_bucket() -> Self::Value {
        vec![LifecycleRule::cloudflare_default()]
    }

    fn cleared() -> Self::Value {
        Vec::new()
    }

    fn declared(config: &BucketConfig) -> Option<Self::Value> {
        let rules = config.lifecycle.as_ref()?;
        Some(rules.iter().map(LifecycleRule::declared).collect())
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

    /// Cloudflare's default rule included: leaving it out would plan its removal.
    fn import_lines(v: &Self::Value) -> Result<Vec<String>, String> {
        let when = |what: &str, c: &Condition| match c {
            Condition::Age(s) => Ok(format!("{what}_after: {}", age(*s))),
            Condition::Date(t) => Ok(format!("{what}_on: {}", show_date(*t))),
            Condition::Other(raw) => Err(format!(
                "a condition r2gitops does not know ({})",
                quoted(raw)
            )),
        };
        let mut rules = Vec::new();
        for r in v {
            let mut fields = vec![format!("id: {}", quoted(&r.id))];
            if !r.prefix.is_empty() {
                fields.push(format!("prefix: {}", quoted(&r.prefix)));
            }
            if !r.enabled {
                fields.push("enabled: false".into());
            }
            if let Some(e) = &r.expire {
                fields.push(when("expire", e)?);
            }
            match r.transitions.len() {
                0 => {}
                1 => fields.push(when(
                    "transition_to_infrequent_access",
                    r.transitions.iter().next().expect("one"),
                )?),
                n => {
                    return Err(format!(
                        "rule {} has {n} storage-class transitions; the file declares one",
                        quoted(&r.id)
                    ));
                }
            }
            if let Some(s) = r.abort_multipart_secs {
                fields.push(format!("abort_multipart_after: {}", age(s)));
            }
            rules.push(fields);
        }
        Ok(rule_lines(Self::KEY, rules))
    }

    fn decode(result: &Value) -> Result<Self::Value, String> {
        Ok(json::rules(result)?
            .iter()
            .map(|r| LifecycleRule {
                id: json::text(r, "id"),
                enabled: json::enabled(r),
                // `conditions: {}` on the default rule has no prefix: the whole bucket.
                prefix: r
                    .get("conditions")
                    .and_then(|c| c.get("prefix"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                expire: json::transition(r.get("deleteObjectsTransition")),
                transitions: r
                    .get("storageClassTransitions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        let c = json::condition(t.get("condition"))?;
                        // Infrequent Access is the only class; another one is kept
                        // visible rather than read as it.
                        Some(match t.get("storageClass").and_then(Value::as_str) {
                            None | Some("InfrequentAccess") => c,
                            Some(other) => Condition::Other(format!("{other}: {t}")),
                        })
                    })
                    .collect(),
                abort_multipart_secs: match json::transition(
                    r.get("abortMultipartUploadsTransition"),
                ) {
                    Some(Condition::Age(s)) => Some(s),
                    // Only ages are defined here; anything else cannot match a
                    // declaration, so it shows as drift rather than vanishing.
                    Some(_) => Some(u64::MAX),
                    None => None,
                },
            })
            .collect())
    }
}

impl Replaced for Lifecycle {
    /// `+id`, `-id`, `expire-tmp 7d→3d`, in the units the file wrote. The default rule's
    /// removal is not among the words: the plan gives it a line of its own.
    fn change(have: &Self::Value, want: &Self::Value, declared: &BucketConfig) -> Change {
        let removes_default_rule = have.iter().any(LifecycleRule::is_cloudflare_default)
            && !want.iter().any(LifecycleRule::is_cloudflare_default);
        let units = units(declared);
        let have: Vec<LifecycleRule> = have
            .iter()
            .filter(|r| !r.is_cloudflare_default() || want.iter().any(|w| w.id == r.id))
            .cloned()
            .collect();
        let words = rule_changes(&have, want, |o, n| fields(o, n, unit_of(&units, &n.id)));
        Change {
            removes_default_rule,
            ..Change::words(words)
        }
    }

    fn body(rules: &Self::Value) -> Value {
        let rules = rules.iter().map(|r| {
            let mut rule = Map::new();
            rule.insert("id".into(), value!(r.id));
            rule.insert("enabled".into(), value!(r.enabled));
            rule.insert("conditions".into(), value!({"prefix": r.prefix}));
            if let Some(e) = &r.expire {
                let condition = json::wire_condition(e, "maxAge");
                rule.insert(
                    "deleteObjectsTransition".into(),
                    value!({ "condition": condition }),
                );
            }
            if !r.transitions.is_empty() {
                let transitions = r.transitions.iter().map(|c| {
                    value!({
                        "condition": json::wire_condition(c, "maxAge"),
                        "storageClass": "InfrequentAccess",
                    })
                });
                rule.insert(
                    "storageClassTransitions".into(),
                    value!(transitions.collect::<Vec<_>>()),
                );
            }
            if let Some(s) = r.abort_multipart_secs {
                rule.insert(
                    "abortMultipartUploadsTransition".into(),
                    value!({"condition": {"type": "Age", "maxAge": s}}),
                );
            }
            Value::Object(rule)
        });
        value!({"rules": rules.collect::<Vec<_>>()})
    }
}

/// What differs between two rules of one id, in `unit` per field.
fn fields(
    o: &LifecycleRule,
    n: &LifecycleRule,
    unit: impl Fn(&'static str) -> char,
) -> Vec<FieldChange> {
    let mut out = common_fields(o.enabled, n.enabled, &o.prefix, &n.prefix);
    let show = |c: &Option<Condition>, field| {
        c.as_ref()
            .map_or("none".to_string(), |c| c.show(unit(field)))
    };
    if o.expire != n.expire {
        out.push((
            "expire",
            show(&o.expire, "expire"),
            show(&n.expire, "expire"),
        ));
    }
    if o.transitions != n.transitions {
        let all = |s: &BTreeSet<Condition>| {
            if s.is_empty() {
                "none".to_string()
            } else {
                s.iter()
                    .map(|c| c.show(unit("transition")))
                    .collect::<Vec<_>>()
                    .join("+")
            }
        };
        out.push(("transition", all(&o.transitions), all(&n.transitions)));
    }
    if o.abort_multipart_secs != n.abort_multipart_secs {
        let show = |s: Option<u64>| {
            s.map_or("none".to_string(), |s| {
                Age::show(s, unit("abort_multipart"))
            })
        };
        out.push((
            "abort_multipart",
            show(o.abort_multipart_secs),
            show(n.abort_multipart_secs),
        ));
    }
    out
}

/// The unit each declared age was written in, by rule id and field.
fn units(declared: &BucketConfig) -> Units {
    let mut out = Units::new();
    for r in declared.lifecycle.iter().flatten() {
        let mut put = |field: &'static str, a: Option<Age>| {
            if let Some(a) = a {
                out.insert((r.id.clone(), field), a.unit);
            }
        };
        let after = |w: &Option<When>| match w {
            Some(When::After(a)) => Some(*a),
            _ => None,
        };
        put("expire", after(&r.expire));
        put("transition", after(&r.transition_to_infrequent_access));
        put("abort_multipart", r.abort_multipart_after);
    }
    out
}
