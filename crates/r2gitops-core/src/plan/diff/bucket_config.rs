//! The configuration rules of the diff, shared by every kind, then one function
//! per kind that words what changes:
//! - a block the file does not declare is never compared, read nor written (absent means
//!   unmanaged); a declared block is the whole configuration (exact ownership);
//! - comparison is `ConfigValue::matches` (sets keyed by id, canonical values): what
//!   Cloudflare normalises is never drift;
//! - a bucket about to be created is compared with what Cloudflare gives every new bucket
//!   (no CORS, the default lifecycle rule, no lock, r2.dev off);
//! - `cors: []` against existing rules is the CORS DELETE; every other change is one PUT;
//! - a lock change that shortens or removes retention is deletion-class: without
//!   `settings.prune` it is blocked; with it, each loosened rule counts toward
//!   `max_deletions` and the step is marked `! loosens retention`.

use super::Input;
use crate::config::BucketSpec;
use crate::observed::bucket_config::{Change, ConfigKind, ConfigValue, Written};
use crate::plan::ConfigWrite;
use crate::plan::{Blocked, BucketRef, Kind, Plan, Step};

pub(super) fn diff_bucket_configs(
    input: &Input<'_>,
    plan: &mut Plan,
    bucket_steps: &[Step],
    steps: &mut Vec<Step>,
) {
    for b in input
        .desired
        .buckets
        .iter()
        .filter(|b| b.config.manages_any())
    {
        let bucket = BucketRef {
            jurisdiction: b.jurisdiction,
            name: b.name.clone(),
        };
        let exists = input
            .observed
            .buckets
            .iter()
            .any(|o| o.jurisdiction == b.jurisdiction && o.name == b.name);
        let created = bucket_steps
            .iter()
            .any(|s| matches!(s, Step::CreateBucket { bucket: c, .. } if *c == bucket));
        // Neither there nor about to be (blocked, or its jurisdiction unobserved): nothing
        // can be said about its configuration.
        if !exists && !created {
            continue;
        }
        let read = input
            .observed
            .bucket_configs
            .get(&(b.jurisdiction, b.name.clone()));
        let before = (steps.len(), plan.blocked.len());
        // Listed, but its configuration endpoints said there is no such bucket: just created
        // (their post-create lag) or just deleted. Nothing is known of it, and the plan says
        // so rather than passing over it.
        if !created && read.is_none() {
            plan.blocked.push(Blocked {
                kind: Kind::Bucket,
                name: b.name.clone(),
                reason: format!(
                    "configuration of bucket {} was not read: Cloudflare lists the bucket, but its configuration endpoints answered that there is no such bucket (it was created moments ago, or deleted since the list); the next pass reads it again",
                    b.name
                ),
            });
        }
        for kind in ConfigKind::ALL {
            let Some(want) = ConfigValue::declared(&b.config, kind) else {
                continue;
            };
            let have = if created {
                kind.new_bucket()
            } else {
                match read.and_then(|r| r.get(&kind)) {
                    Some(v) => v.clone(),
                    // Not read (blocked above).
                    None => continue,
                }
            };
            // Written item by item after lookups: each such kind has its own rules.
            if kind.written() == Written::ItemByItem {
                match (&have, &want) {
                    (ConfigValue::CustomDomains(h), ConfigValue::CustomDomains(w)) => {
                        super::custom_domain::diff(input, plan, &bucket, h, w, steps);
                    }
                    (ConfigValue::Notifications(h), ConfigValue::Notifications(w)) => {
                        super::notification::diff(input, plan, &bucket, h, w, steps);
                    }
                    _ => unreachable!("declared and observed values of one kind"),
                }
                continue;
            }
            if want.matches(&have) {
                continue;
            }
            if let Some(step) = change(input, plan, b, &bucket, have, want) {
                steps.push(step);
            }
        }
        // `diff_buckets` counted an existing bucket without a step of its own as
        // unchanged; a configuration change makes it changed.
        let touched = (steps.len(), plan.blocked.len()) != before;
        let counted = exists
            && !bucket_steps
                .iter()
                .any(|s| matches!(s, Step::UpdateBucket { bucket: u, .. } if *u == bucket))
            && !plan.blocked[..before.1]
                .iter()
                .any(|x| x.kind == Kind::Bucket && x.name == b.name);
        if touched && counted {
            plan.unchanged = plan.unchanged.saturating_sub(1);
        }
    }
}

/// The step that brings `have` to `want` (one whole-document kind), or a blocked entry
/// (and `None`).
fn change(
    input: &Input<'_>,
    plan: &mut Plan,
    b: &BucketSpec,
    bucket: &BucketRef,
    have: ConfigValue,
    want: ConfigValue,
) -> Option<Step> {
    let Change {
        words,
        loosens,
        removes_default_rule,
        public_url,
    } = have
        .change(&want, &b.config)
        .expect("declared and observed values of one kind replaced whole");
    if !loosens.is_empty() && !input.desired.settings.prune {
        plan.blocked.push(Blocked {
            kind: Kind::Bucket,
            name: b.name.clone(),
            reason: format!(
                "lock {} loosens retention; r2gitops shortens or removes lock rules only with settings.prune: true (each counts toward max_deletions)",
                loosens.join(" ")
            ),
        });
        return None;
    }
    let kind = want.kind();
    let write = if kind.cleared_by_delete() && want.is_empty() && !have.is_empty() {
        ConfigWrite::Delete(kind)
    } else {
        ConfigWrite::Put(want)
    };
    Some(Step::ConfigureBucket {
        bucket: bucket.clone(),
        write,
        changes: words,
        loosens,
        removes_default_rule,
        public_url,
    })
}
