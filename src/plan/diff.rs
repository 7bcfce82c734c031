//! The diff: a pure function of (desired, observed, inventory, output-file facts, now) to a
//! `Plan`. Level-triggered: it never asks why a pass started, only what is and what should be.
//!
//! Rules (each has a table test below):
//! - buckets: missing -> create; present -> adopt; storage class differs -> update; location
//!   or jurisdiction differs -> blocked (create-only), never delete-and-recreate.
//! - tokens: missing -> create; present with other policies, condition, validity window,
//!   name or a disabled status -> update in place (same id, same S3 key). Compared as sets,
//!   CIDRs normalised: Cloudflare's reordering is never drift.
//! - outputs: unrecorded, missing, altered, moved or re-keyed, or `rotate_every` elapsed ->
//!   roll (same key id, new secret). Something the writer refuses at the output path (a
//!   symlink on the way, a FIFO) -> blocked, neither created nor rolled.
//! - several managed tokens for one declared name -> keep the inventory's id, else the
//!   oldest; delete the rest.
//! - undeclared managed token -> delete with `prune`, else orphan. Undeclared bucket ->
//!   delete only with `prune`, if the inventory manages it and its last declared `protect`
//!   was false; else orphan. Unmanaged things are never touched.
//! - more deletions than `max_deletions` -> the whole plan is refused.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use time::OffsetDateTime;

use super::policy::{describe, desired_policies};
use super::render::timestamp;
use super::{Blocked, Bookkeeping, BucketRef, DeleteReason, Kind, Orphan, Plan, RollReason, Step};
use crate::config::{Desired, TokenScope, TokenSpec};
use crate::inventory::Inventory;
use crate::observed::{Observed, ObservedToken, Policy, TokenRequest, TokenStatus};

/// What is on disk at a declared token's output path, hashed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFact {
    Missing,
    Present {
        sha256: String,
    },
    /// Cannot be read or is not a plain file (e.g. a symlink): the writer would refuse it.
    Unreadable {
        reason: String,
    },
}

/// Everything the diff looks at. `outputs` is keyed by declared token name and may be empty
/// when `skip_outputs` is set.
pub struct Input<'a> {
    pub desired: &'a Desired,
    pub observed: &'a Observed,
    pub inventory: &'a Inventory,
    pub outputs: &'a BTreeMap<String, OutputFact>,
    pub now: OffsetDateTime,
    pub skip_outputs: bool,
}

pub fn diff(input: &Input<'_>) -> Plan {
    let mut plan = Plan {
        account_id: input.observed.account_id.clone(),
        steps: Vec::new(),
        blocked: Vec::new(),
        orphans: Vec::new(),
        unchanged: 0,
        bookkeeping: Vec::new(),
        refused: None,
        skip_outputs: input.skip_outputs,
    };
    let mut bucket_steps = Vec::new();
    let mut bucket_deletes = Vec::new();
    let mut token_deletes = Vec::new();
    let mut token_steps = Vec::new();

    diff_buckets(input, &mut plan, &mut bucket_steps, &mut bucket_deletes);
    diff_tokens(input, &mut plan, &mut token_deletes, &mut token_steps);

    plan.steps.extend(bucket_steps);
    plan.steps.extend(token_deletes);
    plan.steps.extend(token_steps);
    plan.steps.extend(bucket_deletes);

    let deletions = plan.deletions();
    let max = input.desired.settings.max_deletions as usize;
    if deletions > max {
        plan.refused = Some(format!(
            "the plan deletes {deletions} objects, more than settings.max_deletions ({max}); nothing will be applied (raise max_deletions, or declare what should stay)"
        ));
    }
    plan
}

fn diff_buckets(
    input: &Input<'_>,
    plan: &mut Plan,
    steps: &mut Vec<Step>,
    deletes: &mut Vec<Step>,
) {
    let observed = input.observed;
    let find = |j, name: &str| {
        observed
            .buckets
            .iter()
            .find(|b| b.jurisdiction == j && b.name == name)
    };
    let declared: BTreeSet<(crate::config::Jurisdiction, &str)> = input
        .desired
        .buckets
        .iter()
        .map(|b| (b.jurisdiction, b.name.as_str()))
        .collect();
    let declared_names: BTreeSet<&str> = declared.iter().map(|(_, n)| *n).collect();

    for b in &input.desired.buckets {
        let bucket = BucketRef {
            jurisdiction: b.jurisdiction,
            name: b.name.clone(),
        };
        let Some(o) = find(b.jurisdiction, &b.name) else {
            // Managed under another jurisdiction: the jurisdiction is fixed at creation.
            let moved = input
                .inventory
                .buckets
                .keys()
                .find(|(j, n)| n == &b.name && *j != b.jurisdiction && find(*j, n).is_some());
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
            continue;
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
            steps.push(Step::UpdateBucket {
                bucket,
                from: o.storage_class,
                to: b.storage_class,
            });
        }
        if !changed {
            plan.unchanged += 1;
        }
    }

    for ((j, name), record) in &input.inventory.buckets {
        if declared.contains(&(*j, name.as_str())) || !observed.listed_jurisdictions.contains(j) {
            continue;
        }
        let bucket = BucketRef {
            jurisdiction: *j,
            name: name.clone(),
        };
        if find(*j, name).is_none() {
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
        } else {
            deletes.push(Step::DeleteBucket { bucket });
        }
    }
}

fn diff_tokens(input: &Input<'_>, plan: &mut Plan, deletes: &mut Vec<Step>, steps: &mut Vec<Step>) {
    let desired = input.desired;
    let observed = input.observed;
    let prefix = &desired.settings.token_name_prefix;
    let inventory_ids: BTreeSet<&str> = input.inventory.token_ids().collect();
    let managed = |t: &ObservedToken| {
        t.name.starts_with(prefix.as_str()) || inventory_ids.contains(t.id.as_str())
    };
    let mut claimed: BTreeSet<&str> = BTreeSet::new();

    for t in &desired.tokens {
        let cf_name = desired.cloudflare_token_name(t);
        let record = input
            .inventory
            .tokens
            .get(&t.name)
            .filter(|r| r.owner == t.owner);
        let record_id = record.map(|r| r.id.as_str());
        let candidates: Vec<&ObservedToken> = observed
            .tokens
            .iter()
            .filter(|o| managed(o) && o.owner == t.owner)
            .filter(|o| o.name == cf_name || Some(o.id.as_str()) == record_id)
            .filter(|o| !claimed.contains(o.id.as_str()))
            .collect();
        let want = request(t, &cf_name, input);
        let buckets = bucket_refs(t);

        if candidates.is_empty() {
            if let Some(blocked) = unwritable_output(t, input) {
                // A token created now could never be delivered: its value would be lost.
                plan.blocked.push(blocked);
            } else if observed.listed_owners.contains(&t.owner) {
                steps.push(Step::CreateToken {
                    token: t.name.clone(),
                    owner: t.owner,
                    access: t.access,
                    request: want,
                    buckets,
                    output: t.output.file.clone(),
                });
            } else {
                plan.blocked.push(Blocked {
                    kind: Kind::Token,
                    name: t.name.clone(),
                    reason: format!("{} tokens were not observed", t.owner.as_str()),
                });
            }
            continue;
        }
        let kept = candidates
            .iter()
            .find(|o| Some(o.id.as_str()) == record_id)
            .or_else(|| {
                candidates
                    .iter()
                    .min_by_key(|o| (o.issued_on.is_none(), o.issued_on, o.id.clone()))
            })
            .copied()
            .expect("candidates is not empty");
        for dup in candidates.iter().filter(|o| o.id != kept.id) {
            claimed.insert(&dup.id);
            deletes.push(Step::DeleteToken {
                token: t.name.clone(),
                name: dup.name.clone(),
                id: dup.id.clone(),
                owner: dup.owner,
                reason: DeleteReason::Duplicate {
                    kept: kept.id.clone(),
                },
            });
        }
        claimed.insert(&kept.id);
        if record_id != Some(kept.id.as_str()) {
            plan.bookkeeping.push(Bookkeeping::AdoptToken {
                token: t.name.clone(),
                id: kept.id.clone(),
                owner: kept.owner,
                issued_on: kept.issued_on,
            });
        }

        let mut acted = false;
        let changes = token_changes(kept, &want, input);
        if !changes.is_empty() {
            acted = true;
            steps.push(Step::UpdateToken {
                token: t.name.clone(),
                id: kept.id.clone(),
                owner: t.owner,
                request: TokenRequest {
                    status: Some(TokenStatus::Active),
                    ..want.clone()
                },
                changes,
                buckets,
            });
        } else if kept.status == TokenStatus::Expired {
            acted = true;
            plan.blocked.push(Blocked {
                kind: Kind::Token,
                name: t.name.clone(),
                reason: match t.expires_on {
                    Some(e) => format!(
                        "expired (expires_on {} has passed); declare a later expires_on",
                        timestamp(e)
                    ),
                    None => "Cloudflare reports it expired".into(),
                },
            });
        }
        if !input.skip_outputs {
            let record = record.filter(|r| r.id == kept.id);
            match roll_reason(t, record, input) {
                Ok(Some(reason)) => {
                    acted = true;
                    steps.push(Step::RollToken {
                        token: t.name.clone(),
                        id: kept.id.clone(),
                        owner: t.owner,
                        reason,
                    });
                }
                Ok(None) => {}
                Err(blocked) => {
                    acted = true;
                    plan.blocked.push(blocked);
                }
            }
        }
        if !acted {
            plan.unchanged += 1;
        }
    }

    for o in &observed.tokens {
        if claimed.contains(o.id.as_str()) || !managed(o) {
            continue;
        }
        if desired.settings.prune {
            deletes.push(Step::DeleteToken {
                token: o
                    .name
                    .strip_prefix(prefix.as_str())
                    .unwrap_or(&o.name)
                    .to_string(),
                name: o.name.clone(),
                id: o.id.clone(),
                owner: o.owner,
                reason: DeleteReason::Pruned,
            });
        } else {
            plan.orphans.push(Orphan {
                kind: Kind::Token,
                name: o.name.clone(),
                detail: o.id.clone(),
                reason: "no longer declared; prune is off, so it is kept".into(),
            });
        }
    }

    let declared: BTreeSet<&str> = desired.tokens.iter().map(|t| t.name.as_str()).collect();
    let observed_ids: BTreeSet<&str> = observed.tokens.iter().map(|t| t.id.as_str()).collect();
    for (name, record) in &input.inventory.tokens {
        if !declared.contains(name.as_str())
            && !observed_ids.contains(record.id.as_str())
            && observed.listed_owners.contains(&record.owner)
        {
            plan.bookkeeping.push(Bookkeeping::ForgetToken {
                token: name.clone(),
            });
        }
    }
}

fn bucket_refs(t: &TokenSpec) -> Vec<BucketRef> {
    match &t.scope {
        TokenScope::Buckets(names) => names
            .iter()
            .map(|n| BucketRef {
                jurisdiction: t.jurisdiction,
                name: n.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn request(t: &TokenSpec, cf_name: &str, input: &Input<'_>) -> TokenRequest {
    TokenRequest {
        name: cf_name.to_string(),
        policies: desired_policies(
            t,
            &input.observed.account_id,
            &input.observed.permission_groups,
        ),
        not_before: t.not_before,
        expires_on: t.expires_on,
        condition: t.ip.clone(),
        status: None,
    }
}

/// Cloudflare keeps timestamps to the second.
fn seconds(t: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    t.map(|t| t.replace_nanosecond(0).unwrap_or(t))
}

fn token_changes(have: &ObservedToken, want: &TokenRequest, input: &Input<'_>) -> Vec<String> {
    let mut changes = Vec::new();
    if have.name != want.name {
        changes.push(format!("name '{}' -> '{}'", have.name, want.name));
    }
    let have_set: BTreeSet<&Policy> = have.policies.iter().collect();
    let want_set: BTreeSet<&Policy> = want.policies.iter().collect();
    if have_set != want_set {
        let account = &input.observed.account_id;
        let groups = &input.observed.permission_groups;
        let h = describe(&have.policies, account, groups);
        let w = describe(&want.policies, account, groups);
        let before = changes.len();
        if h.access != w.access {
            changes.push(format!(
                "access {} -> {}",
                h.access.map_or("(other)", |a| a.as_str()),
                w.access.map_or("(other)", |a| a.as_str())
            ));
        }
        if let (Some(hb), Some(wb)) = (&h.buckets, &w.buckets)
            && hb != wb
        {
            let mut parts: Vec<String> = wb.difference(hb).map(|b| format!("+{b}")).collect();
            parts.extend(hb.difference(wb).map(|b| format!("-{b}")));
            changes.push(format!("buckets {}", parts.join(" ")));
        }
        if changes.len() == before {
            changes.push("policies differ from the declaration (edited out of band)".into());
        }
    }
    for (field, h, w) in [
        ("not_before", have.not_before, want.not_before),
        ("expires_on", have.expires_on, want.expires_on),
    ] {
        if seconds(h) != seconds(w) {
            let show = |t: Option<OffsetDateTime>| t.map_or("(none)".into(), timestamp);
            changes.push(format!("{field} {} -> {}", show(h), show(w)));
        }
    }
    for (field, h, w) in [
        ("ip allow", &have.condition.allow, &want.condition.allow),
        ("ip deny", &have.condition.deny, &want.condition.deny),
    ] {
        let delta = set_delta(h, w);
        if !delta.is_empty() {
            changes.push(format!("{field} {delta}"));
        }
    }
    if have.status == TokenStatus::Disabled {
        changes.push("status disabled -> active".into());
    }
    changes
}

fn set_delta(have: &[IpNet], want: &[IpNet]) -> String {
    let h: BTreeSet<&IpNet> = have.iter().collect();
    let w: BTreeSet<&IpNet> = want.iter().collect();
    let mut parts: Vec<String> = w.difference(&h).map(|n| format!("+{n}")).collect();
    parts.extend(h.difference(&w).map(|n| format!("-{n}")));
    parts.join(" ")
}

/// The token is blocked when what is at its output path is something the writer refuses
/// (a symlink on the way, a FIFO): creating or rolling it would mint a value that can never
/// be written, on every pass (issue 12).
fn unwritable_output(t: &TokenSpec, input: &Input<'_>) -> Option<Blocked> {
    match input.outputs.get(&t.name) {
        Some(OutputFact::Unreadable { reason }) if !input.skip_outputs => Some(Blocked {
            kind: Kind::Token,
            name: t.name.clone(),
            reason: format!(
                "output file {} cannot be checked: {reason}",
                t.output.file.display()
            ),
        }),
        _ => None,
    }
}

fn roll_reason(
    t: &TokenSpec,
    record: Option<&crate::inventory::TokenRecord>,
    input: &Input<'_>,
) -> Result<Option<RollReason>, Blocked> {
    if let Some(blocked) = unwritable_output(t, input) {
        return Err(blocked);
    }
    let fact = input
        .outputs
        .get(&t.name)
        .cloned()
        .unwrap_or(OutputFact::Missing);
    let Some(record) = record else {
        return Ok(Some(RollReason::OutputUnrecorded));
    };
    let Some(out) = &record.output else {
        return Ok(Some(RollReason::OutputUnrecorded));
    };
    if out.path != t.output.file {
        return Ok(Some(RollReason::OutputMoved {
            from: out.path.clone(),
        }));
    }
    match &fact {
        OutputFact::Missing => return Ok(Some(RollReason::OutputMissing)),
        OutputFact::Present { sha256 } if *sha256 != out.ciphertext_sha256 => {
            return Ok(Some(RollReason::OutputAltered));
        }
        _ => {}
    }
    if out.fingerprint != t.output.fingerprint() {
        return Ok(Some(RollReason::OutputSpecChanged));
    }
    if let Some(period) = t.rotate_every {
        let issued_at = record.value_issued_at();
        if input.now >= issued_at + period {
            return Ok(Some(RollReason::Rotation { issued_at }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
