//! `lock:` from the observed retention rules.

use super::age;
use super::quoted;
use crate::observed::bucket_config::{LockRule, Retention, show_date};

pub(super) fn lines(rules: &[LockRule]) -> Result<Vec<String>, String> {
    if rules.is_empty() {
        return Ok(vec!["lock: []".to_string()]);
    }
    let mut l = vec!["lock:".to_string()];
    for r in rules {
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
        for (i, f) in fields.into_iter().enumerate() {
            l.push(format!("  {} {f}", if i == 0 { "-" } else { " " }));
        }
    }
    Ok(l)
}
