//! A bucket's event notification rules as plain, canonical data: per queue, the
//! set of rules (`GET …/event_notifications/r2/{bucket}/configuration`), what the file
//! declares, and the account's queues as listed (its writes are `plan::QueueWrite`). No I/O.
//!
//! Canonical: a rule is its actions (a set), prefix, suffix and description, a missing one
//! "" (Terraform treats empty and null alike too); Cloudflare's `ruleId` and `createdAt` are
//! not part of it. A queue's rules compare as a set: order and ids are never drift. A queue
//! id is one `QueueId` whichever form Cloudflare wrote it in, and a declared rule without a
//! description leaves Cloudflare's (it makes one up) unmanaged: `NotificationRule::is_met_by`
//! is the one comparison the diff, the read-back and import share.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::{self, NotificationAction, NotificationEvent};

/// A queue's id in one form, 32 lowercase hex digits. The configuration GET names a queue by
/// a dashed UUID (`9af92711-53ee-4b1c-a0b5-…`), while the queue list and the PUT and DELETE
/// paths use 32 hex (alchemy `Cloudflare/R2/BucketEventNotification.ts`, with live tests).
/// Anything that is neither form (a queue name, while a declaration is unresolved) is kept
/// as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct QueueId(String);

impl QueueId {
    pub fn new(written: &str) -> QueueId {
        let t = written.trim();
        let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
        let dashed = t.len() == 36
            && t.char_indices()
                .all(|(i, c)| (c == '-') == matches!(i, 8 | 13 | 18 | 23))
            && hex(&t.replace('-', ""));
        if dashed || (t.len() == 32 && hex(t)) {
            QueueId(t.replace('-', "").to_ascii_lowercase())
        } else {
            QueueId(t.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for QueueId {
    fn from(s: &str) -> QueueId {
        QueueId::new(s)
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One rule, canonical. Actions are kept as Cloudflare spells them, so that one r2gitops
/// does not know (wrangler lists AbortMultipartUpload) still shows as a difference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NotificationRule {
    pub actions: BTreeSet<String>,
    pub prefix: String,
    pub suffix: String,
    /// In a declaration, "" is not managed: Cloudflare makes up a description for a rule
    /// sent without one (alchemy compares descriptions only where declared, too).
    pub description: String,
}

impl NotificationRule {
    /// One rule of Cloudflare's answer; `null` keys are empty.
    pub fn decode(v: &Value) -> Result<Self, String> {
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(NotificationRule {
            actions: v
                .get("actions")
                .and_then(Value::as_array)
                .ok_or("a rule without 'actions'")?
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            prefix: text("prefix"),
            suffix: text("suffix"),
            description: text("description"),
        })
    }

    /// The rule as the PUT takes it: empty prefix, suffix and description are left out.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("actions".into(), json!(self.actions));
        for (k, v) in [
            ("prefix", &self.prefix),
            ("suffix", &self.suffix),
            ("description", &self.description),
        ] {
            if !v.is_empty() {
                m.insert(k.into(), json!(v));
            }
        }
        Value::Object(m)
    }

    /// Whether `held`, as Cloudflare holds it, is this declared rule: the same actions and
    /// keys, and the same description where this one declares one.
    pub fn is_met_by(&self, held: &NotificationRule) -> bool {
        self.actions == held.actions
            && self.prefix == held.prefix
            && self.suffix == held.suffix
            && (self.description.is_empty() || self.description == held.description)
    }

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
    pub queue_id: Option<QueueId>,
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
            .find(|q| q.id == QueueId::new(&written))
            .or_else(|| queues.iter().find(|q| q.name == written))?;
        self.queue_id = Some(q.id.clone());
        self.queue_name = Some(q.name.clone());
        Some(())
    }

    /// Whether this (declared, perhaps unresolved) queue is the one `held` names: by id
    /// where both sides know it, else by name, else by what the file wrote as an id.
    pub fn names(&self, held: &QueueRules) -> bool {
        self.same_queue(held)
            || (self.queue_id.is_none()
                && self
                    .queue_name
                    .as_deref()
                    .is_some_and(|w| held.queue_id.as_ref() == Some(&QueueId::new(w))))
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
            .or(self.queue_id.as_ref().map(QueueId::as_str))
            .unwrap_or("?")
    }
}

/// What turns one queue's `held` rules into the declared `want`: the declared rules no held
/// rule meets, and the held rules that meet no declared one. Both empty: nothing to do.
pub fn rule_changes<'a>(
    want: &[&'a NotificationRule],
    held: &[&'a NotificationRule],
) -> (Vec<&'a NotificationRule>, Vec<&'a NotificationRule>) {
    let added = want
        .iter()
        .filter(|w| !held.iter().any(|h| w.is_met_by(h)))
        .copied()
        .collect();
    let removed = held
        .iter()
        .filter(|h| !want.iter().any(|w| w.is_met_by(h)))
        .copied()
        .collect();
    (added, removed)
}

/// Whether one queue's `held` rules are the declared `want`, as a set.
pub fn rules_met(want: &[&NotificationRule], held: &[&NotificationRule]) -> bool {
    let (added, removed) = rule_changes(want, held);
    // Rules of one queue never share actions and keys, so no match stands for two.
    added.is_empty() && removed.is_empty() && want.len() == held.len()
}

/// The declared side `want` and Cloudflare's `held` hold the same rules for every queue
/// (queues without rules do not count).
pub fn same_set(want: &[QueueRules], held: &[QueueRules]) -> bool {
    want.iter()
        .chain(held)
        .filter(|q| !q.rules.is_empty())
        .all(|q| rules_met(&of_queue(want, q), &of_queue(held, q)))
}

/// Every rule one side holds for queue `q`, once each.
fn of_queue<'a>(side: &'a [QueueRules], q: &QueueRules) -> Vec<&'a NotificationRule> {
    let rules: BTreeSet<&NotificationRule> = side
        .iter()
        .filter(|o| o.same_queue(q))
        .flat_map(|o| o.rules.iter())
        .collect();
    rules.into_iter().collect()
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
    pub id: QueueId,
    pub name: String,
}

#[cfg(test)]
mod tests;
