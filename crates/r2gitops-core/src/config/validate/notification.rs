//! `buckets[].notifications`: a queue named, at least one event or action (events expanded
//! to their actions), at most 100 rules per bucket, and no two rules for one queue that
//! overlap, which Cloudflare refuses: the same action on a key both could match (one prefix
//! starts the other and one suffix ends the other). An overlap names both rules.
//!
//! Rules of one queue whose keys overlap for different actions are a warning: Cloudflare's
//! staff say only a shared action clashes (cloudflare-docs PR #19130), alchemy's live tests
//! say any overlapping key range does. Should Cloudflare refuse the pair, a reconcile puts
//! the queue's held rules back and fails.

use super::*;

/// Cloudflare's limit per bucket (https://developers.cloudflare.com/r2/buckets/event-notifications/).
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
            if let Some(key) = keys_overlap(earlier, &this)
                && overlap(earlier, &this).is_none()
            {
                c.warn(
                    rule,
                    &here,
                    format!(
                        "this rule's keys overlap {path}[{k}] (line {}) for queue '{}', for other actions: both match a key like '{key}'",
                        list.value[k].line,
                        sanitize(&clip(&this.queue))
                    ),
                    "Cloudflare may refuse rules of one queue whose keys overlap even when their actions differ (alchemy saw it live; Cloudflare's docs say only a shared action clashes); if a reconcile says the held rules were put back, give the rules prefixes or suffixes that cannot both match, or merge them",
                );
            }
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
    let shared: Vec<&str> = a
        .actions
        .intersection(&b.actions)
        .map(|x| x.as_str())
        .collect();
    if shared.is_empty() {
        return None;
    }
    let key = keys_overlap(a, b)?;
    Some(format!("{} on a key like '{key}'", shared.join(", ")))
}

/// A key both rules of one queue match, whatever their actions, for messages (escaped);
/// `None` when no key can match both, or the queues differ.
pub fn keys_overlap(a: &Notification, b: &Notification) -> Option<String> {
    if a.queue != b.queue {
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
    Some(sanitize(&clip(&key)))
}

#[cfg(test)]
mod tests;
