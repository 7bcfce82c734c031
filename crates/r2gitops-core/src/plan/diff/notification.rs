//! The notification rules of the diff, for a bucket whose file declares
//! `notifications` (every rule of the bucket, for every queue; absent is never compared):
//! - the declared rules of one queue, `events` expanded to their actions, compare as a set
//!   with the queue's rules on Cloudflare (order, rule ids and empty-versus-null are not
//!   drift; a rule declared without a description leaves the one Cloudflare made up alone);
//!   queues compare by `QueueId`, whichever form Cloudflare wrote the id in;
//! - a queue whose rules differ gets one step: DELETE the queue's rules, then PUT the whole
//!   list, because Cloudflare's PUT only adds and refuses a rule that overlaps one it holds
//!   (TF #6007). A rule added out of band to a declared queue is removed that way. The step
//!   carries what the queue held, to be put back should the PUT be refused;
//! - a declared queue the account's queue list does not hold is blocked with its name, and
//!   the bucket's other steps go on;
//! - a queue with rules the file does not name at all loses them only with
//!   `settings.prune` (each such queue counts toward `max_deletions`); without prune it is
//!   blocked.

use std::collections::BTreeSet;

use super::Input;
use crate::observed::notification::{NotificationRule, QueueRules, rule_changes, rules_met};
use crate::plan::QueueWrite;
use crate::plan::{Blocked, BucketRef, Kind, Plan, Step};

pub(super) fn diff(
    input: &Input<'_>,
    plan: &mut Plan,
    bucket: &BucketRef,
    have: &[QueueRules],
    want: &[QueueRules],
    steps: &mut Vec<Step>,
) {
    let queues = input.observed.queues.as_deref().unwrap_or_default();
    let mut owned: Vec<QueueRules> = Vec::new();
    for w in want {
        let mut w = w.clone();
        if w.resolve(queues).is_none() {
            plan.blocked.push(Blocked {
                kind: Kind::Bucket,
                name: bucket.name.clone(),
                reason: format!(
                    "notifications: unknown queue '{}' (not in the account's queue list)",
                    w.label()
                ),
            });
            continue;
        }
        // One queue named two ways (its name, its id) is one queue: one write of its rules,
        // or the second would delete what the first put.
        match owned.iter_mut().find(|o| o.same_queue(&w)) {
            Some(o) => o.rules.extend(w.rules),
            None => owned.push(w),
        }
    }
    for w in &owned {
        let Some(queue_id) = w.queue_id.clone() else {
            continue;
        };
        let held: BTreeSet<&NotificationRule> = have
            .iter()
            .filter(|h| h.same_queue(w))
            .flat_map(|h| h.rules.iter())
            .collect();
        let held: Vec<&NotificationRule> = held.into_iter().collect();
        let declared: Vec<&NotificationRule> = w.rules.iter().collect();
        if rules_met(&declared, &held) {
            continue;
        }
        let (added, removed) = rule_changes(&declared, &held);
        let mut changes: Vec<String> = added.iter().map(|r| format!("+{}", r.label())).collect();
        changes.extend(removed.iter().map(|r| format!("-{}", r.label())));
        steps.push(Step::ConfigureNotifications {
            bucket: bucket.clone(),
            write: QueueWrite {
                queue_id,
                queue_name: w.label().to_string(),
                clear_first: !held.is_empty(),
                rules: w.rules.iter().cloned().collect(),
                held: held.into_iter().cloned().collect(),
            },
            changes,
        });
    }
    for h in have.iter().filter(|h| !h.rules.is_empty()) {
        // A queue the file names, even one the queue list could not resolve (blocked above),
        // is never pruned as undeclared.
        let declared = owned.iter().any(|w| w.same_queue(h)) || want.iter().any(|w| w.names(h));
        let Some(id) = h.queue_id.clone() else {
            continue;
        };
        if declared {
            continue;
        }
        if !input.desired.settings.prune {
            plan.blocked.push(Blocked {
                kind: Kind::Bucket,
                name: bucket.name.clone(),
                reason: format!(
                    "notifications: queue '{}' has {} rule(s) the file does not declare; r2gitops removes a queue's rules only with settings.prune: true (each queue counts toward max_deletions)",
                    h.label(),
                    h.rules.len()
                ),
            });
            continue;
        }
        steps.push(Step::ConfigureNotifications {
            bucket: bucket.clone(),
            write: QueueWrite {
                queue_id: id,
                queue_name: h.label().to_string(),
                clear_first: true,
                rules: Vec::new(),
                held: h.rules.iter().cloned().collect(),
            },
            changes: h.rules.iter().map(|r| format!("-{}", r.label())).collect(),
        });
    }
}
