//! `lifecycle:` from the observed rules, Cloudflare's default rule included (leaving it out
//! would plan its removal).

use super::age;
use super::quoted;
use crate::observed::bucket_config::{Condition, LifecycleRule, show_date};

fn when(what: &str, c: &Condition) -> Result<String, String> {
    match c {
        Condition::Age(s) => Ok(format!("{what}_after: {}", age(*s))),
        Condition::Date(t) => Ok(format!("{what}_on: {}", show_date(*t))),
        Condition::Other(raw) => Err(format!(
            "a condition r2gitops does not know ({})",
            quoted(raw)
        )),
    }
}

pub(super) fn lines(rules: &[LifecycleRule]) -> Result<Vec<String>, String> {
    if rules.is_empty() {
        return Ok(vec!["lifecycle: []".to_string()]);
    }
    let mut l = vec!["lifecycle:".to_string()];
    for r in rules {
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
        for (i, f) in fields.into_iter().enumerate() {
            l.push(format!("  {} {f}", if i == 0 { "-" } else { " " }));
        }
    }
    Ok(l)
}
