//! A bucket's event notification rules (issue 15) as plain, canonical data: per queue, the
//! set of rules (`GET …/event_notifications/r2/{bucket}/configuration`), what the file
//! declares, the account's queues as listed, and one write of one queue's rules. No I/O.
//!
//! Canonical: a rule is its actions (a set), prefix, suffix and description, a missing one
//! "" (Terraform treats empty and null alike too); Cloudflare's `ruleId` and `createdAt` are
//! not part of it. A queue's rules compare as a set: order and ids are never drift.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{self, NotificationAction, NotificationEvent};

/// One rule, canonical. Actions are kept as Cloudflare spells them, so that one r2gitops
/// does not know (wrangler lists AbortMultipartUpload) still shows as a difference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NotificationRule {
    pub actions: BTreeSet<String>,
    pub prefix: String,
    pub suffix: String,
    pub description: String,
}

impl NotificationRule {
    pub fn declared(n: &config::Notification) -> Self {
        NotificationRule {
            actions: n.actions.iter().map(|a| a.as_str().to_string()).collect(),
            prefix: n.prefix.clone(),
            suffix: n.suffix.clone(),
            description: n.description.clone(),
        }
    }

    /// As a plan shows it: the event types it amounts to (or its actions), then the keys it
    /// covers, e.g. `object-create:images/*.jpg` or `DeleteObject:*`.
    pub fn label(&self) -> String {
        let mut left: BTreeSet<&str> = self.actions.iter().map(String::as_str).collect();
        let mut names = Vec::new();
        for e in NotificationEvent::ALL {
            let covers: Vec<&str> = e.actions().iter().map(|a| a.as_str()).collect();
            if covers.iter().all(|a| left.contains(a)) {
                names.push(e.as_str().to_string());
                for a in covers {
                    left.remove(a);
                }
            }
        }
        names.extend(left.into_iter().map(str::to_string));
        format!("{}:{}*{}", names.join("+"), self.prefix, self.suffix)
    }
}

/// One queue's rules on a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRules {
    /// Cloudflare's; in a declaration, set once the queue list resolves it.
    pub queue_id: Option<String>,
    /// Cloudflare's; in a declaration, the name or id as written until resolved.
    pub queue_name: Option<String>,
    pub rules: BTreeSet<NotificationRule>,
}

impl QueueRules {
    /// The declared rules grouped by queue as written, in the order of first mention.
    pub fn declared(list: &[config::Notification]) -> Vec<QueueRules> {
        let mut out: Vec<QueueRules> = Vec::new();
        for n in list {
            let rule = NotificationRule::declared(n);
            match out
                .iter_mut()
                .find(|q| q.queue_name.as_deref() == Some(n.queue.as_str()))
            {
                Some(q) => {
                    q.rules.insert(rule);
                }
                None => out.push(QueueRules {
                    queue_id: None,
                    queue_name: Some(n.queue.clone()),
                    rules: BTreeSet::from([rule]),
                }),
            }
        }
        out
    }

    /// Name what the file wrote (a queue's id, else its name) after the account's queue list;
    /// `None` when no queue has it.
    pub fn resolve(&mut self, queues: &[Queue]) -> Option<()> {
        let written = self.queue_name.clone()?;
        let q = queues
            .iter()
            .find(|q| q.id == written)
            .or_else(|| queues.iter().find(|q| q.name == written))?;
        self.queue_id = Some(q.id.clone());
        self.queue_name = Some(q.name.clone());
        Some(())
    }

    /// The same queue: by id where both sides know it, else by name.
    pub fn same_queue(&self, other: &QueueRules) -> bool {
        match (&self.queue_id, &other.queue_id) {
            (Some(a), Some(b)) => a == b,
            _ => self.queue_name.is_some() && self.queue_name == other.queue_name,
        }
    }

    /// The queue as a plan names it: its name, else its id.
    pub fn label(&self) -> &str {
        self.queue_name
            .as_deref()
            .or(self.queue_id.as_deref())
            .unwrap_or("?")
    }
}

/// Two sides hold the same rules for every queue (queues without rules do not count).
pub fn same_set(a: &[QueueRules], b: &[QueueRules]) -> bool {
    let covered = |x: &[QueueRules], y: &[QueueRules]| {
        x.iter().filter(|q| !q.rules.is_empty()).all(|q| {
            let theirs: BTreeSet<&NotificationRule> = y
                .iter()
                .filter(|o| o.same_queue(q))
                .flat_map(|o| o.rules.iter())
                .collect();
            theirs == q.rules.iter().collect()
        })
    };
    covered(a, b) && covered(b, a)
}

/// What the file would declare for the rules Cloudflare holds (`r2gitops import`): one
/// entry per rule, by queue name, `events` where the actions are exactly event types.
pub fn declare(queues: &[QueueRules]) -> Vec<config::Notification> {
    queues
        .iter()
        .flat_map(|q| {
            q.rules.iter().map(move |r| config::Notification {
                queue: q.label().to_string(),
                actions: r
                    .actions
                    .iter()
                    .filter_map(|a| NotificationAction::parse(a))
                    .collect(),
                prefix: r.prefix.clone(),
                suffix: r.suffix.clone(),
                description: r.description.clone(),
            })
        })
        .collect()
}

/// The event types a set of actions is exactly made of (for rendering `events:`), or `None`.
pub fn as_events(actions: &BTreeSet<NotificationAction>) -> Option<Vec<NotificationEvent>> {
    let mut covered = BTreeSet::new();
    let mut events = Vec::new();
    for e in NotificationEvent::ALL {
        if e.actions().iter().all(|a| actions.contains(a)) {
            events.push(e);
            covered.extend(e.actions().iter().copied());
        }
    }
    (!events.is_empty() && covered == *actions).then_some(events)
}

/// A queue of the account (`GET /accounts/{id}/queues`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub id: String,
    pub name: String,
}

/// One write of one queue's rules on a bucket: the queue's rules are deleted (Cloudflare's
/// PUT adds, and refuses a rule that overlaps one it holds), then the whole list is put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueWrite {
    pub queue_id: String,
    /// For messages.
    pub queue_name: String,
    /// `DELETE …/queues/{id}` first (the queue holds rules now).
    pub clear_first: bool,
    /// `PUT …/queues/{id}` with these; empty: nothing is put (the queue's rules are removed).
    pub rules: Vec<NotificationRule>,
}

/// Rules per queue id, for the read-back.
pub fn by_queue(queues: &[QueueRules]) -> BTreeMap<&str, &BTreeSet<NotificationRule>> {
    queues
        .iter()
        .filter_map(|q| Some((q.queue_id.as_deref()?, &q.rules)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(queue: &str, actions: &[NotificationAction], prefix: &str) -> config::Notification {
        config::Notification {
            queue: queue.into(),
            actions: actions.iter().copied().collect(),
            prefix: prefix.into(),
            suffix: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn rules_compare_as_a_set_per_queue_after_resolution() {
        use NotificationAction::*;
        let queues = [Queue {
            id: "q1".into(),
            name: "uploads".into(),
        }];
        let mut want = QueueRules::declared(&[
            decl("uploads", &[PutObject], "a/"),
            decl("uploads", &[DeleteObject], "b/"),
        ]);
        assert_eq!(want.len(), 1, "grouped by queue");
        want[0].resolve(&queues).unwrap();
        let have = vec![QueueRules {
            queue_id: Some("q1".into()),
            queue_name: Some("uploads".into()),
            rules: want[0].rules.iter().rev().cloned().collect(),
        }];
        assert!(same_set(&want, &have));
        let mut more = have.clone();
        more[0].rules.insert(NotificationRule::declared(&decl(
            "uploads",
            &[CopyObject],
            "c/",
        )));
        assert!(!same_set(&want, &more), "a rule added out of band");
        let empty_other = vec![
            have[0].clone(),
            QueueRules {
                queue_id: Some("q2".into()),
                queue_name: Some("other".into()),
                rules: BTreeSet::new(),
            },
        ];
        assert!(
            same_set(&want, &empty_other),
            "a queue without rules is nothing"
        );
        let mut by_id = QueueRules::declared(&[decl("q1", &[PutObject], "a/")]);
        assert!(by_id[0].resolve(&queues).is_some(), "an id resolves too");
        assert_eq!(by_id[0].queue_name.as_deref(), Some("uploads"));
        assert!(
            QueueRules::declared(&[decl("nope", &[PutObject], "")])[0]
                .clone()
                .resolve(&queues)
                .is_none()
        );
    }

    #[test]
    fn labels_and_renderings_use_event_types_where_the_actions_are_exactly_them() {
        use NotificationAction::*;
        let create = decl(
            "q",
            &[PutObject, CopyObject, CompleteMultipartUpload],
            "images/",
        );
        assert_eq!(
            NotificationRule::declared(&create).label(),
            "object-create:images/*"
        );
        let mixed = decl(
            "q",
            &[PutObject, CopyObject, CompleteMultipartUpload, DeleteObject],
            "",
        );
        assert_eq!(
            NotificationRule::declared(&mixed).label(),
            "object-create+DeleteObject:*"
        );
        assert_eq!(
            as_events(&create.actions),
            Some(vec![NotificationEvent::ObjectCreate])
        );
        assert_eq!(as_events(&mixed.actions), None);
        let have = vec![QueueRules {
            queue_id: Some("q1".into()),
            queue_name: Some("uploads".into()),
            rules: BTreeSet::from([NotificationRule::declared(&mixed)]),
        }];
        let mut back = QueueRules::declared(&declare(&have));
        back[0]
            .resolve(&[Queue {
                id: "q1".into(),
                name: "uploads".into(),
            }])
            .unwrap();
        assert!(same_set(&back, &have));
    }
}
