//! `buckets[].notifications`: a queue named, at least one event or action (events expanded
//! to their actions), at most 100 rules per bucket, and no two rules for one queue that
//! overlap, which Cloudflare refuses: the same action on a key both could match (one prefix
//! starts the other and one suffix ends the other). An overlap names both rules.

use super::*;

/// Cloudflare's limit per bucket (R2-CONFIG-NOTES §5).
pub const MAX_NOTIFICATION_RULES: usize = 100;

pub(super) fn notifications(
    c: &mut Collector,
    list: &Sp<Vec<Sp<RawNotification>>>,
    path: &str,
) -> Vec<Notification> {
    if list.value.len() > MAX_NOTIFICATION_RULES {
        c.at(
            list,
            path,
            format!(
                "{} notification rules; Cloudflare allows at most {MAX_NOTIFICATION_RULES} per bucket",
                list.value.len()
            ),
        );
    }
    let mut out: Vec<Notification> = Vec::with_capacity(list.value.len());
    for (i, rule) in list.value.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let r = &rule.value;
        let queue = r.queue.value.trim().to_string();
        if queue.is_empty() {
            c.at(&r.queue, format!("{here}.queue"), "queue must not be empty");
        }
        let mut actions: BTreeSet<NotificationAction> = BTreeSet::new();
        for e in r.events.iter().flat_map(|l| l.value.iter()) {
            let event = match e.value {
                RawEvent::ObjectCreate => NotificationEvent::ObjectCreate,
                RawEvent::ObjectDelete => NotificationEvent::ObjectDelete,
            };
            actions.extend(event.actions());
        }
        for a in r.actions.iter().flat_map(|l| l.value.iter()) {
            actions.insert(match a.value {
                RawAction::PutObject => NotificationAction::PutObject,
                RawAction::CopyObject => NotificationAction::CopyObject,
                RawAction::CompleteMultipartUpload => NotificationAction::CompleteMultipartUpload,
                RawAction::DeleteObject => NotificationAction::DeleteObject,
                RawAction::LifecycleDeletion => NotificationAction::LifecycleDeletion,
            });
        }
        if actions.is_empty() {
            c.hint(
                rule,
                &here,
                "a notification rule needs at least one event or action",
                "add events: [object-create] (or object-delete), or actions: [PutObject, ...]",
            );
        }
        let text = |v: &Option<Sp<String>>| v.as_ref().map(|s| s.value.clone()).unwrap_or_default();
        let this = Notification {
            queue,
            actions,
            prefix: text(&r.prefix),
            suffix: text(&r.suffix),
            description: text(&r.description),
        };
        for (k, earlier) in out.iter().enumerate() {
            if let Some(words) = overlap(earlier, &this) {
                c.hint(
                    rule,
                    &here,
                    format!(
                        "this rule overlaps {path}[{k}] (line {}) for queue '{}': both match {words}",
                        list.value[k].line,
                        sanitize(&clip(&this.queue))
                    ),
                    "Cloudflare refuses rules of one queue that could both fire for one object and action: give them prefixes or suffixes that cannot both match, or different actions, or merge them",
                );
            }
        }
        out.push(this);
    }
    out
}

/// Whether two rules could both fire for one object and action, in words (the actions, and
/// a key both match); `None` when they cannot. Rules of different queues never overlap.
pub fn overlap(a: &Notification, b: &Notification) -> Option<String> {
    if a.queue != b.queue {
        return None;
    }
    let shared: Vec<&str> = a
        .actions
        .intersection(&b.actions)
        .map(|x| x.as_str())
        .collect();
    if shared.is_empty() {
        return None;
    }
    let compatible = |x: &str, y: &str, f: fn(&str, &str) -> bool| f(x, y) || f(y, x);
    if !compatible(&a.prefix, &b.prefix, |x, y| x.starts_with(y))
        || !compatible(&a.suffix, &b.suffix, |x, y| x.ends_with(y))
    {
        return None;
    }
    // The longer prefix followed by the longer suffix is a key both match.
    let longest = |x: &str, y: &str| {
        if x.len() >= y.len() {
            x.to_string()
        } else {
            y.to_string()
        }
    };
    let key = format!(
        "{}…{}",
        longest(&a.prefix, &b.prefix),
        longest(&a.suffix, &b.suffix)
    );
    Some(format!(
        "{} on a key like '{}'",
        shared.join(", "),
        sanitize(&clip(&key))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        queue: &str,
        actions: &[NotificationAction],
        prefix: &str,
        suffix: &str,
    ) -> Notification {
        Notification {
            queue: queue.into(),
            actions: actions.iter().copied().collect(),
            prefix: prefix.into(),
            suffix: suffix.into(),
            description: String::new(),
        }
    }

    #[test]
    fn rules_overlap_only_on_a_shared_action_and_a_key_both_match() {
        use NotificationAction::*;
        let cases = [
            // (a, b, overlaps)
            (
                rule("q", &[PutObject], "", ""),
                rule("q", &[PutObject], "images/", ""),
                true,
            ),
            (
                rule("q", &[PutObject], "images/", ""),
                rule("q", &[PutObject], "img/", ""),
                false,
            ),
            (
                rule("q", &[PutObject], "a/", ".jpg"),
                rule("q", &[PutObject], "a/", ".png"),
                false,
            ),
            (
                rule("q", &[PutObject], "a/", ".jpg"),
                rule("q", &[PutObject], "a/b/", ""),
                true,
            ),
            (
                rule("q", &[PutObject], "", "x.jpg"),
                rule("q", &[PutObject], "", ".jpg"),
                true,
            ),
            (
                rule("q", &[PutObject], "a/", ""),
                rule("q", &[CopyObject], "a/", ""),
                false,
            ),
            (
                rule("q", &[PutObject], "", ""),
                rule("other", &[PutObject], "", ""),
                false,
            ),
            (
                rule("q", &[PutObject, DeleteObject], "", ""),
                rule("q", &[DeleteObject], "logs/", ".gz"),
                true,
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(overlap(&a, &b).is_some(), want, "{a:?} {b:?}");
            assert_eq!(overlap(&b, &a).is_some(), want, "symmetric: {a:?} {b:?}");
        }
        let words = overlap(
            &rule("q", &[PutObject, CopyObject], "images/", ""),
            &rule("q", &[PutObject], "", ".jpg"),
        )
        .unwrap();
        assert_eq!(words, "PutObject on a key like 'images/….jpg'");
    }
}
