//! The bucket rules of the diff: missing -> create; present -> adopt; storage class differs
//! -> update; location or jurisdiction differs -> blocked (create-only), never
//! delete-and-recreate; undeclared and managed -> delete only with `prune` and not protected.

use std::collections::BTreeSet;

use super::Input;
use crate::config::{BucketSpec, Jurisdiction};
use crate::observed::{Observed, ObservedBucket};
use crate::plan::timestamp;
use crate::plan::{Blocked, Bookkeeping, BucketRef, Kind, Orphan, Plan, Step};

/// How long a permanent refusal of a storage-class change is remembered: long enough not
/// to repeat a refused call every pass, short enough to notice when Cloudflare starts
/// accepting it (one third-party live test got 405 / 7001 in 2026-08).
pub const REFUSAL_MEMORY: time::Duration = time::Duration::hours(24);

pub(super) fn diff_buckets(
    input: &Input<'_>,
    plan: &mut Plan,
    steps: &mut Vec<Step>,
    deletes: &mut Vec<Step>,
) {
    for b in &input.desired.buckets {
        match find(input.observed, b.jurisdiction, &b.name) {
            None => missing(input, b, plan, steps),
            Some(o) => present(input, b, o, plan, steps),
        }
    }
    undeclared(input, plan, deletes);
}

fn find<'a>(observed: &'a Observed, j: Jurisdiction, name: &str) -> Option<&'a ObservedBucket> {
    observed
        .buckets
        .iter()
        .find(|b| b.jurisdiction == j && b.name == name)
}

/// A declared bucket Cloudflare does not show: created, unless it is managed in another
/// jurisdiction or its jurisdiction was not listed.
fn missing(input: &Input<'_>, b: &BucketSpec, plan: &mut Plan, steps: &mut Vec<Step>) {
    let observed = input.observed;
    let bucket = BucketRef {
        jurisdiction: b.jurisdiction,
        name: b.name.clone(),
    };
    // Managed under another jurisdiction: the jurisdiction is fixed at creation.
    let moved = input
        .inventory
        .buckets
        .keys()
        .find(|(j, n)| n == &b.name && *j != b.jurisdiction && find(observed, *j, n).is_some());
    if let Some((have, _)) = moved {
        plan.blocked.push(Blocked {
            kind: Kind::Bucket,
            name: b.name.clone(),
            reason: format!(
                "jurisdiction is create-only (have {}, want {})",
                have.as_str(),
                b.jurisdiction.as_str()
            ),
        });
    } else if !observed.listed_jurisdictions.contains(&b.jurisdiction) {
        plan.blocked.push(Blocked {
            kind: Kind::Bucket,
            name: b.name.clone(),
            reason: format!("jurisdiction {} was not observed", b.jurisdiction.as_str()),
        });
    } else {
        steps.push(Step::CreateBucket {
            bucket,
            location_hint: b.location_hint,
            storage_class: b.storage_class,
            protect: b.protect,
        });
    }
}

/// A declared bucket that exists: recorded with its protection; a different location is
/// blocked (create-only), a different storage class updated.
fn present(
    input: &Input<'_>,
    b: &BucketSpec,
    o: &ObservedBucket,
    plan: &mut Plan,
    steps: &mut Vec<Step>,
) {
    let bucket = BucketRef {
        jurisdiction: b.jurisdiction,
        name: b.name.clone(),
    };
    let key = (b.jurisdiction, b.name.clone());
    if input.inventory.buckets.get(&key).map(|r| r.protect) != Some(b.protect) {
        plan.bookkeeping.push(Bookkeeping::TrackBucket {
            bucket: bucket.clone(),
            protect: b.protect,
        });
    }
    let mut changed = false;
    if let (Some(want), Some(have)) = (b.location_hint, o.location)
        && want != have
    {
        changed = true;
        plan.blocked.push(Blocked {
            kind: Kind::Bucket,
            name: b.name.clone(),
            reason: format!(
                "location is create-only (have {}, want {})",
                have.as_str(),
                want.as_str()
            ),
        });
    }
    if o.storage_class != b.storage_class {
        changed = true;
        storage_class(input, b, o, bucket, plan, steps);
    }
    if !changed {
        plan.unchanged += 1;
    }
}

/// The storage class differs: an update, unless Cloudflare refused this very change
/// within `REFUSAL_MEMORY`.
fn storage_class(
    input: &Input<'_>,
    b: &BucketSpec,
    o: &ObservedBucket,
    bucket: BucketRef,
    plan: &mut Plan,
    steps: &mut Vec<Step>,
) {
    let key = (b.jurisdiction, b.name.clone());
    let refused = input
        .inventory
        .buckets
        .get(&key)
        .and_then(|r| r.storage_class_refused.as_ref())
        .filter(|r| r.to == b.storage_class && input.now < r.at + REFUSAL_MEMORY);
    match refused {
        Some(r) => plan.blocked.push(Blocked {
            kind: Kind::Bucket,
            name: b.name.clone(),
            reason: format!(
                "Cloudflare refused to change the storage class to {} ({}) at {}; r2gitops tries again after {}",
                b.storage_class.as_str(),
                r.detail,
                timestamp(r.at),
                timestamp(r.at + REFUSAL_MEMORY)
            ),
        }),
        None => steps.push(Step::UpdateBucket {
            bucket,
            from: o.storage_class,
            to: b.storage_class,
        }),
    }
}

/// Buckets the inventory holds and the file no longer declares: forgotten when gone,
/// kept as orphans unless prune allows deleting them.
fn undeclared(input: &Input<'_>, plan: &mut Plan, deletes: &mut Vec<Step>) {
    let observed = input.observed;
    let declared: BTreeSet<(Jurisdiction, &str)> = input
        .desired
        .buckets
        .iter()
        .map(|b| (b.jurisdiction, b.name.as_str()))
        .collect();
    let declared_names: BTreeSet<&str> = declared.iter().map(|(_, n)| *n).collect();
    for ((j, name), record) in &input.inventory.buckets {
        if declared.contains(&(*j, name.as_str())) || !observed.listed_jurisdictions.contains(j) {
            continue;
        }
        let bucket = BucketRef {
            jurisdiction: *j,
            name: name.clone(),
        };
        if find(observed, *j, name).is_none() {
            plan.bookkeeping.push(Bookkeeping::ForgetBucket { bucket });
            continue;
        }
        if declared_names.contains(name.as_str()) {
            // Redeclared in another jurisdiction: reported as blocked above, never deleted.
            continue;
        }
        let orphan = |reason: &str| Orphan {
            kind: Kind::Bucket,
            name: name.clone(),
            detail: j.as_str().to_string(),
            reason: reason.to_string(),
        };
        if !input.desired.settings.prune {
            plan.orphans
                .push(orphan("no longer declared; prune is off, so it is kept"));
        } else if record.protect {
            plan.orphans.push(orphan(
                "no longer declared; kept because its last declaration had protect: true",
            ));
        } else if let Some(why) = input
            .desired
            .policy
            .as_ref()
            .and_then(|p| p.bucket_delete())
        {
            plan.orphans.push(orphan(&why));
        } else {
            deletes.push(Step::DeleteBucket { bucket });
        }
    }
}
