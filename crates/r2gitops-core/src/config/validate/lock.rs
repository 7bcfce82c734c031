//! `buckets[].lock`: ids required and unique, exactly one of `retain_for`, `retain_until`
//! and `retain: indefinite`, ages and dates that parse, at most 1,000 rules.

use super::bucket_config::{age, rule_limit, unique_id};
use super::*;

pub(super) fn lock(
    c: &mut Collector,
    list: &Sp<Vec<Sp<RawLockRule>>>,
    path: &str,
) -> Vec<LockRule> {
    rule_limit(c, list, path, "lock");
    let mut ids = HashMap::new();
    let mut out = Vec::with_capacity(list.value.len());
    for (i, rule) in list.value.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let r = &rule.value;
        unique_id(c, &mut ids, &r.id, &format!("{here}.id"), "lock rule");
        let given: Vec<(&str, usize, usize)> = [
            (
                "retain_for",
                r.retain_for.as_ref().map(|s| (s.line, s.column)),
            ),
            (
                "retain_until",
                r.retain_until.as_ref().map(|s| (s.line, s.column)),
            ),
            ("retain", r.retain.as_ref().map(|s| (s.line, s.column))),
        ]
        .into_iter()
        .filter_map(|(k, at)| at.map(|(l, col)| (k, l, col)))
        .collect();
        let retention = match given.as_slice() {
            [] => {
                c.hint(
                    &r.id,
                    &here,
                    format!(
                        "lock rule '{}' does not say how long to retain",
                        sanitize(&clip(&r.id.value))
                    ),
                    "give it one of retain_for (e.g. 365d), retain_until (a date) or retain: indefinite",
                );
                None
            }
            [_] => {
                if let Some(f) = &r.retain_for {
                    age(c, f, &format!("{here}.retain_for")).map(Retention::For)
                } else if r.retain_until.is_some() {
                    timestamp(c, r.retain_until.as_ref(), &format!("{here}.retain_until"))
                        .map(Retention::Until)
                } else {
                    Some(Retention::Indefinite)
                }
            }
            [first, rest @ ..] => {
                for (key, line, column) in rest {
                    c.push(
                        *line,
                        *column,
                        format!("{here}.{key}"),
                        format!("{} and {key} are exclusive", first.0),
                        Some("keep one of retain_for, retain_until and retain".into()),
                    );
                }
                None
            }
        };
        out.push(LockRule {
            id: r.id.value.clone(),
            prefix: r
                .prefix
                .as_ref()
                .map(|p| p.value.clone())
                .unwrap_or_default(),
            enabled: r.enabled.as_ref().is_none_or(|e| e.value),
            // A rule that failed is reported; the model is discarded with the errors.
            retention: retention.unwrap_or(Retention::Indefinite),
        });
    }
    out
}
