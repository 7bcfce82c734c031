//! `buckets[].lifecycle`: ids required and unique, at most one of each `*_after`/`*_on`
//! pair, ages and dates that parse, a transition earlier than the expiry, a rule that does
//! something, at most 1,000 rules.

use super::bucket_config::{age, one_of, rule_limit, unique_id};
use super::*;

pub(super) fn lifecycle(
    c: &mut Collector,
    list: &Sp<Vec<Sp<RawLifecycleRule>>>,
    path: &str,
) -> Vec<LifecycleRule> {
    rule_limit(c, list, path, "lifecycle");
    let mut ids = HashMap::new();
    let mut out = Vec::with_capacity(list.value.len());
    for (i, rule) in list.value.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let r = &rule.value;
        unique_id(c, &mut ids, &r.id, &format!("{here}.id"), "lifecycle rule");
        let expire = when(
            c,
            &here,
            ("expire_after", &r.expire_after),
            ("expire_on", &r.expire_on),
        );
        let transition = when(
            c,
            &here,
            (
                "transition_to_infrequent_access_after",
                &r.transition_to_infrequent_access_after,
            ),
            (
                "transition_to_infrequent_access_on",
                &r.transition_to_infrequent_access_on,
            ),
        );
        let abort = r
            .abort_multipart_after
            .as_ref()
            .and_then(|a| age(c, a, &format!("{here}.abort_multipart_after")));
        // Cloudflare expires first when both fall on the same day: a transition at or after
        // the expiry would never happen.
        let late = match (transition, expire) {
            (Some(When::After(t)), Some(When::After(e))) => (t.secs >= e.secs)
                .then(|| format!("the transition ({t}) is not earlier than the expiry ({e})")),
            (Some(When::On(t)), Some(When::On(e))) => (t >= e)
                .then(|| "the transition date is not earlier than the expiry date".to_string()),
            _ => None,
        };
        if let Some(why) = late {
            let (field, sp) = match (
                &r.transition_to_infrequent_access_after,
                &r.transition_to_infrequent_access_on,
            ) {
                (Some(sp), _) => ("transition_to_infrequent_access_after", sp),
                (None, Some(sp)) => ("transition_to_infrequent_access_on", sp),
                (None, None) => unreachable!("a transition was parsed"),
            };
            c.hint(
                sp,
                format!("{here}.{field}"),
                why,
                "objects are deleted before they would move: transition earlier, or drop the transition",
            );
        }
        let declared = r.expire_after.is_some()
            || r.expire_on.is_some()
            || r.transition_to_infrequent_access_after.is_some()
            || r.transition_to_infrequent_access_on.is_some()
            || r.abort_multipart_after.is_some();
        if !declared {
            c.hint(
                &r.id,
                &here,
                format!("lifecycle rule '{}' does nothing", sanitize(&clip(&r.id.value))),
                "give it expire_after or expire_on, transition_to_infrequent_access_after or _on, or abort_multipart_after",
            );
        }
        out.push(LifecycleRule {
            id: r.id.value.clone(),
            prefix: r
                .prefix
                .as_ref()
                .map(|p| p.value.clone())
                .unwrap_or_default(),
            enabled: r.enabled.as_ref().is_none_or(|e| e.value),
            expire,
            transition_to_infrequent_access: transition,
            abort_multipart_after: abort,
        });
    }
    out
}

/// One `*_after`/`*_on` pair: at most one, parsed.
fn when(
    c: &mut Collector,
    here: &str,
    after: (&str, &Option<Sp<String>>),
    on: (&str, &Option<Sp<String>>),
) -> Option<When> {
    if !one_of(c, after, on, here) {
        return None;
    }
    if let Some(a) = after.1 {
        return age(c, a, &format!("{here}.{}", after.0)).map(When::After);
    }
    timestamp(c, on.1.as_ref(), &format!("{here}.{}", on.0)).map(When::On)
}
