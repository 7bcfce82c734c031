//! The token rules of the diff: missing -> create; present with other policies, condition,
//! validity window, name or status -> update in place (same id, same S3 key); outputs that
//! cannot be vouched for -> roll; an output path the writer refuses (a symlink on the way,
//! a FIFO) -> blocked, neither created nor rolled; duplicates -> keep one, delete the rest;
//! undeclared and recorded in this inventory -> delete with `prune`, else orphan;
//! undeclared, prefixed and not recorded -> another file's: shown, never touched. An
//! `adopt:` of r2gitops' own token, or of one whose policies no declaration can say,
//! refuses the plan; one that needs a roll waits for the operator's `--allow-adopt-roll`.

use std::collections::BTreeSet;

use ipnet::IpNet;
use time::OffsetDateTime;

use super::{Input, OutputFact};
use crate::config::{AdoptRolls, TokenScope, TokenSpec};
use crate::observed::{
    ObservedToken, PermissionGroupIds, Policy, TokenField, TokenRequest, TokenStatus,
};
use crate::plan::ReplaceReason;
use crate::plan::policy::{declaration, describe, desired_policies, lost};
use crate::plan::readback::seconds;
use crate::plan::timestamp;
use crate::plan::{
    Blocked, Bookkeeping, BucketRef, DeleteReason, Kind, NextRotation, Orphan, Plan, RollReason,
    Step,
};

pub(super) fn diff_tokens(
    input: &Input<'_>,
    plan: &mut Plan,
    deletes: &mut Vec<Step>,
    steps: &mut Vec<Step>,
) {
    let desired = input.desired;
    let observed = input.observed;
    let prefix = &desired.settings.token_name_prefix;
    let inventory_ids: BTreeSet<&str> = input.inventory.token_ids().collect();
    let managed = |t: &ObservedToken| {
        t.name.starts_with(prefix.as_str()) || inventory_ids.contains(t.id.as_str())
    };
    let mut claimed: BTreeSet<&str> = BTreeSet::new();
    let mut adopt_errors: Vec<String> = Vec::new();
    retiring_keys(input, plan, deletes, &mut claimed);

    for (index, t) in desired.tokens.iter().enumerate() {
        let cf_name = desired.cloudflare_token_name(t);
        let record = input
            .inventory
            .tokens
            .get(&t.name)
            .filter(|r| r.owner == t.owner);
        let record_id = record.map(|r| r.id.as_str());
        let same_name: Vec<&ObservedToken> = observed
            .tokens
            .iter()
            .filter(|o| managed(o) && o.owner == t.owner)
            .filter(|o| o.name == cf_name || Some(o.id.as_str()) == record_id)
            .filter(|o| !claimed.contains(o.id.as_str()))
            .collect();
        let adopting = match adoption(t, index, &cf_name, record_id, input) {
            Ok(Adoption::Not) => None,
            Ok(Adoption::Target(o)) => Some(o),
            // Whatever this entry managed before stays its own: never pruned for it.
            Ok(Adoption::Blocked(b)) => {
                claimed.extend(same_name.iter().map(|o| o.id.as_str()));
                plan.blocked.push(b);
                continue;
            }
            Err(e) => {
                claimed.extend(same_name.iter().map(|o| o.id.as_str()));
                adopt_errors.push(e);
                continue;
            }
        };
        let mut candidates: Vec<&ObservedToken> = adopting.into_iter().collect();
        candidates.extend(
            same_name
                .into_iter()
                .filter(|o| adopting.is_none_or(|a| a.id != o.id)),
        );
        let want = request(t, &cf_name, input);
        let buckets = bucket_refs(t);
        // A token whose declared expiry has passed could only be created or updated dead:
        // nothing is sent for it (an expired token hidden from the list was once created
        // again on every pass, eating the quota).
        let expiry_passed = t.expires_on.filter(|e| *e <= input.now).map(|e| Blocked {
            kind: Kind::Token,
            name: t.name.clone(),
            reason: format!(
                "the declared expiry has passed (expires_on {}); declare a later expires_on",
                timestamp(e)
            ),
        });

        if candidates.is_empty() {
            if let Some(blocked) = expiry_passed {
                plan.blocked.push(blocked);
            } else if let Some(blocked) = unwritable_output(t, input) {
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
                    rotate_every: t.rotate_every,
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
        let kept: &ObservedToken = adopting
            .or_else(|| {
                candidates
                    .iter()
                    .find(|o| Some(o.id.as_str()) == record_id)
                    .copied()
            })
            .or_else(|| {
                candidates
                    .iter()
                    .min_by_key(|o| (o.issued_on.is_none(), o.issued_on, o.id.clone()))
                    .copied()
            })
            .expect("candidates is not empty");
        for dup in candidates.iter().filter(|o| o.id != kept.id) {
            claimed.insert(&dup.id);
            if expiry_passed.is_some() {
                continue;
            }
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
        if let Some(blocked) = expiry_passed {
            plan.blocked.push(blocked);
            continue;
        }
        diff_kept(
            Kept {
                token: t,
                kept,
                want,
                buckets,
                record,
                adopting: adopting.is_some(),
            },
            input,
            plan,
            steps,
        );
    }

    undeclared(input, &claimed, &managed, plan, deletes);
    if !adopt_errors.is_empty() {
        plan.refused = Some(adopt_errors.join("; "));
    }

    forget_records(input, plan);
}

/// A declared token and the one Cloudflare holds that it keeps (the others are deleted).
struct Kept<'a> {
    token: &'a TokenSpec,
    kept: &'a ObservedToken,
    want: TokenRequest,
    buckets: Vec<BucketRef>,
    record: Option<&'a crate::inventory::TokenRecord>,
    /// Taken over by `adopt:` in this plan.
    adopting: bool,
}

/// What a kept token needs: a replacement (revoked as exposed, or an update Cloudflare
/// cannot make), an update in place, a roll, or nothing; and its next rotation.
fn diff_kept(k: Kept<'_>, input: &Input<'_>, plan: &mut Plan, steps: &mut Vec<Step>) {
    let Kept {
        token: t,
        kept,
        want,
        buckets,
        record,
        adopting,
    } = k;
    let replace = |reason| Step::ReplaceToken {
        token: t.name.clone(),
        old_id: kept.id.clone(),
        owner: t.owner,
        access: t.access,
        request: want.clone(),
        buckets: buckets.clone(),
        output: t.output.file.clone(),
        reason,
        rotate_every: t.rotate_every,
    };
    match &kept.status {
        TokenStatus::RevokedExposed => {
            // The replacement writes a fresh output: no roll alongside it. Where it
            // could not be written, creating it would only lose a value.
            match unwritable_output(t, input) {
                Some(blocked) => plan.blocked.push(blocked),
                None => steps.push(replace(ReplaceReason::RevokedExposed)),
            }
            return;
        }
        TokenStatus::Other(status) => {
            plan.blocked.push(Blocked {
                kind: Kind::Token,
                name: t.name.clone(),
                reason: format!(
                    "Cloudflare reports status '{status}', which r2gitops does not know; nothing is changed"
                ),
            });
            return;
        }
        _ => {}
    }

    let mut acted = false;
    let changes = token_changes(kept, &want, input);
    if !changes.is_empty() {
        let removed = removed_fields(kept, &want);
        if let Some(field) = removed
            .iter()
            .find(|f| input.inventory.learned.keeps_removed.contains(f))
        {
            steps.push(replace(ReplaceReason::KeepsRemoved(*field)));
            return;
        }
        let fallback = removed
            .first()
            .map(|f| ReplaceReason::KeepsRemoved(*f))
            .or((kept.status == TokenStatus::Expired).then_some(ReplaceReason::StaysExpired));
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
            fallback,
        });
    }
    if adopting {
        // Nobody supplied the value (`r2gitops adopt` records it first): only a roll
        // issues credentials. The guard in `adoption` let it through.
        match unwritable_output(t, input) {
            Some(blocked) => plan.blocked.push(blocked),
            None => steps.push(renew(t, kept, RollReason::Adopted, &want, input)),
        }
        return;
    }
    let record = record.filter(|r| r.id == kept.id);
    let mut renewed = false;
    if !input.skip_outputs {
        match roll_reason(t, record, kept, input) {
            Ok(Some(reason)) => {
                acted = true;
                renewed = true;
                steps.push(renew(t, kept, reason, &want, input));
            }
            Ok(None) => {}
            Err(blocked) => {
                acted = true;
                plan.blocked.push(blocked);
            }
        }
    }
    // A reviewer and `/status` see when the value in use is next rolled.
    if let (false, Some(every), Some(r)) = (renewed, t.rotate_every, record) {
        plan.rotations.push(NextRotation {
            token: t.name.clone(),
            id: kept.id.clone(),
            every,
            due: r.value_issued_at() + every,
        });
    }
    if !acted {
        plan.unchanged += 1;
    }
}

/// Tokens Cloudflare holds that no declaration kept: this file's are deleted with `prune`
/// (else orphans), another file's are only shown.
fn undeclared(
    input: &Input<'_>,
    claimed: &BTreeSet<&str>,
    managed: &dyn Fn(&ObservedToken) -> bool,
    plan: &mut Plan,
    deletes: &mut Vec<Step>,
) {
    let desired = input.desired;
    let prefix = &desired.settings.token_name_prefix;
    let inventory_ids: BTreeSet<&str> = input.inventory.token_ids().collect();
    for o in &input.observed.tokens {
        if claimed.contains(o.id.as_str()) || !managed(o) {
            continue;
        }
        // The prefix names tokens some r2gitops file manages; only this file's inventory
        // says which are this file's. Another file's token (or one a lost inventory knew)
        // is never deleted or orphaned from here, only shown.
        if !inventory_ids.contains(o.id.as_str()) {
            plan.elsewhere.push(Orphan {
            kind: Kind::Token,
            name: o.name.clone(),
            detail: o.id.clone(),
            reason: "not declared here and not in this file's inventory: another file manages it (or an inventory was lost); never touched".into(),
        });
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
                reason: DeleteReason::Pruned {
                    output: input
                        .inventory
                        .tokens
                        .values()
                        .find(|r| r.id == o.id)
                        .and_then(|r| r.output.as_ref())
                        .map(|out| out.path.clone()),
                },
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
}

/// Records of tokens neither declared nor in Cloudflare any more (for an owner whose tokens
/// were listed) are forgotten.
fn forget_records(input: &Input<'_>, plan: &mut Plan) {
    let (desired, observed) = (input.desired, input.observed);
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

/// The step that gives a kept token a new value its output can hold. Where the old secret
/// may still be in use (`RollReason::overlaps`) and the token has an overlap, a rotation: a
/// new token, proven, delivered, and the old one retired after the overlap. Otherwise a
/// roll (same access key id, new secret): the old secret is dead already (rolled
/// elsewhere), the overlap is 0, or the value is one r2gitops issued and never delivered
/// (a create, roll or rotation whose write failed or was interrupted: nobody holds it).
fn renew(
    t: &TokenSpec,
    kept: &ObservedToken,
    reason: RollReason,
    want: &TokenRequest,
    input: &Input<'_>,
) -> Step {
    let issued_here = match input.inventory.tokens.get(&t.name) {
        Some(r) if r.id == kept.id => r.output.is_none() && !r.unheld,
        // Found under its name, unrecorded: ours if a create of ours was in flight.
        _ => input.inventory.pending.contains(&t.name),
    };
    let undelivered = reason == RollReason::OutputUnrecorded && issued_here;
    if reason.overlaps() && !t.rotation_overlap.is_zero() && !undelivered {
        return Step::RotateToken {
            token: t.name.clone(),
            old_id: kept.id.clone(),
            owner: t.owner,
            access: t.access,
            request: TokenRequest {
                status: None,
                ..want.clone()
            },
            buckets: bucket_refs(t),
            output: t.output.file.clone(),
            reason,
            overlap: t.rotation_overlap,
            revoke_old: input.desired.rotate_now.get(&t.name) == Some(&true),
            rotate_every: t.rotate_every,
        };
    }
    Step::RollToken {
        token: t.name.clone(),
        id: kept.id.clone(),
        owner: t.owner,
        reason,
    }
}

/// The old keys of rotated tokens: each one Cloudflare still holds is claimed (never a
/// duplicate, never pruned) and, at or after its `retire_at`, retired; before, it is shown
/// among the unchanged. One Cloudflare no longer holds is forgotten.
fn retiring_keys<'a>(
    input: &Input<'a>,
    plan: &mut Plan,
    steps: &mut Vec<Step>,
    claimed: &mut BTreeSet<&'a str>,
) {
    let current: BTreeSet<&str> = input
        .inventory
        .tokens
        .values()
        .map(|r| r.id.as_str())
        .collect();
    for r in &input.inventory.retiring {
        // The record that serves a name wins over a stale retiring entry of the same id.
        if current.contains(r.id.as_str()) {
            continue;
        }
        let Some(o) = input
            .observed
            .tokens
            .iter()
            .find(|o| o.id == r.id && o.owner == r.owner)
        else {
            if input.observed.listed_owners.contains(&r.owner) {
                plan.bookkeeping
                    .push(Bookkeeping::ForgetRetiring { id: r.id.clone() });
            }
            continue;
        };
        claimed.insert(o.id.as_str());
        if input.now >= r.retire_at {
            steps.push(Step::RetireToken {
                token: r.token.clone(),
                name: o.name.clone(),
                id: o.id.clone(),
                owner: o.owner,
                retire_at: r.retire_at,
            });
        } else {
            plan.retiring.push(crate::plan::RetiringKey {
                token: r.token.clone(),
                id: r.id.clone(),
                retire_at: r.retire_at,
                remaining: (r.retire_at - input.now).unsigned_abs(),
            });
        }
    }
}

enum Adoption<'a> {
    /// No `adopt:`, or it is done (the inventory records that id for this name), or the
    /// token already carries the managed name: the usual rules apply.
    Not,
    /// An existing token to take over in this pass.
    Target(&'a ObservedToken),
    /// Taking it over would roll it, and the operator did not allow that.
    Blocked(Blocked),
}

/// Why the token `id` cannot be taken over because it is r2gitops' own API token (`own`,
/// from `verify`), or `None`. Pure; the plan and `r2gitops adopt` ask the same.
pub fn own_token_refusal(id: &str, own: Option<&str>) -> Option<String> {
    (own == Some(id)).then(|| format!(
        "token {id} is the API token r2gitops itself calls Cloudflare with (verify names it); taking it over would rewrite or roll r2gitops' own access, so no file may adopt it"
    ))
}

/// Why the token `id` cannot be taken over because it is the parent of the state's
/// temporary credentials (`config::STATE_PARENT_NAME`), or `None`.
pub fn state_parent_refusal(id: &str, parents: &BTreeSet<String>) -> Option<String> {
    parents.contains(id).then(|| format!(
        "token {id} is '{}', the parent r2gitops mints the state's temporary credentials under; no file may adopt it",
        crate::config::STATE_PARENT_NAME
    ))
}

/// Why the token `id` cannot be taken over because its policies grant what no declaration
/// can say (the rule `import` applies), which a takeover would silently drop; or `None`.
pub fn policies_refusal(
    id: &str,
    policies: &[Policy],
    account_id: &str,
    groups: &PermissionGroupIds,
) -> Option<String> {
    let why = declaration(policies, account_id, groups).err()?;
    Some(format!(
        "token {id} holds what no declaration can say ({why}); adopting it would drop that, so r2gitops leaves it alone"
    ))
}

/// Why the token `id` cannot be taken over because what it holds now (an access level,
/// or buckets it reaches) is outside the operator's policy, or `None`. The declaration
/// passed the policy; the token it takes over must too, or the takeover would hand a
/// committer a value the policy never allowed. Pure; the plan and `r2gitops adopt` ask
/// the same.
pub fn held_beyond_policy(
    policy: &crate::config::policy::Policy,
    id: &str,
    policies: &[Policy],
    account_id: &str,
    groups: &PermissionGroupIds,
) -> Option<String> {
    let (access, scope, _) = declaration(policies, account_id, groups).ok()?;
    let why = policy.grant(access, &scope)?;
    Some(format!(
        "token {id} holds more than the policy allows: {why}; adopting it would hand that over"
    ))
}

/// What `adopt:` means for this pass. `Err` is a located message for a plan refusal: the
/// id is r2gitops' own token, not a token of this account, one whose policies the file
/// cannot express, or one managed under another name.
fn adoption<'a>(
    t: &TokenSpec,
    index: usize,
    cf_name: &str,
    record_id: Option<&str>,
    input: &Input<'a>,
) -> Result<Adoption<'a>, String> {
    let Some(adopt) = &t.adopt else {
        return Ok(Adoption::Not);
    };
    let at = format!(
        "{}:{}:{}: tokens[{index}].adopt",
        input.desired.source.display(),
        adopt.line,
        adopt.column
    );
    let observed = input.observed;
    // Before anything else, the inventory included: whatever recorded it, r2gitops' own
    // token is never taken over.
    if let Some(why) = own_token_refusal(&adopt.id, observed.own_token_id.as_deref()) {
        return Err(format!("{at}: {why}"));
    }
    if let Some(why) = state_parent_refusal(&adopt.id, &observed.state_parent_ids) {
        return Err(format!("{at}: {why}"));
    }
    if record_id == Some(adopt.id.as_str()) {
        return Ok(Adoption::Not);
    }
    if !observed.listed_owners.contains(&t.owner) {
        return Ok(Adoption::Blocked(Blocked {
            kind: Kind::Token,
            name: t.name.clone(),
            reason: format!("{} tokens were not observed", t.owner.as_str()),
        }));
    }
    let Some(target) = observed.tokens.iter().find(|o| o.id == adopt.id) else {
        return Err(format!(
            "{at}: no {} token with id {} in account {} (r2gitops import lists the tokens that can be adopted)",
            t.owner.as_str(),
            adopt.id,
            observed.account_id
        ));
    };
    if target.owner != t.owner {
        return Err(format!(
            "{at}: token {} is a {} token, and this entry declares owner {}",
            adopt.id,
            target.owner.as_str(),
            t.owner.as_str()
        ));
    }
    if let Some((other, _)) = input
        .inventory
        .tokens
        .iter()
        .find(|(name, r)| r.id == adopt.id && *name != &t.name)
    {
        return Err(format!(
            "{at}: token {} is already managed as '{other}'; remove this adopt: (a token has one declared name)",
            adopt.id
        ));
    }
    let prefix = &input.desired.settings.token_name_prefix;
    if target.name == cf_name {
        return Ok(Adoption::Not);
    }
    if target.name.starts_with(prefix.as_str()) {
        return Err(format!(
            "{at}: token {} is already managed as '{}'; remove this adopt: (a token has one declared name)",
            adopt.id,
            &target.name[prefix.len()..]
        ));
    }
    if let Some(why) = policies_refusal(
        &adopt.id,
        &target.policies,
        &observed.account_id,
        &observed.permission_groups,
    ) {
        return Err(format!("{at}: {why}"));
    }
    if let Some(policy) = &input.desired.policy
        && let Some(why) = held_beyond_policy(
            policy,
            &adopt.id,
            &target.policies,
            &observed.account_id,
            &observed.permission_groups,
        )
    {
        return Err(format!("{at}: {why}"));
    }
    if input.desired.adopt_rolls == AdoptRolls::Refused {
        return Ok(Adoption::Blocked(Blocked {
            kind: Kind::Token,
            name: t.name.clone(),
            reason: format!(
                "adopting {} without its value needs a roll, which stops its existing S3 keys: \
                 supply the value with 'r2gitops adopt {} --value-from-stdin' (no downtime), \
                 or an operator allows the roll with --allow-adopt-roll (the file cannot)",
                adopt.id, t.name
            ),
        }));
    }
    Ok(Adoption::Target(target))
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

/// Restrictions the observed token has and the declaration drops: an update leaves them
/// out, and Cloudflare may keep them (Terraform PR #902).
fn removed_fields(have: &ObservedToken, want: &TokenRequest) -> Vec<TokenField> {
    let mut out = Vec::new();
    if !have.condition.is_empty() && want.condition.is_empty() {
        out.push(TokenField::IpRules);
    }
    if have.expires_on.is_some() && want.expires_on.is_none() {
        out.push(TokenField::ExpiresOn);
    }
    if have.not_before.is_some() && want.not_before.is_none() {
        out.push(TokenField::NotBefore);
    }
    out
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
        // Named in Cloudflare's words: what a reviewer must see before a token loses it
        // (a takeover once cost a CI token a permission nobody had read).
        changes.extend(lost(&have.policies, &want.policies, account, groups));
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
    if matches!(have.status, TokenStatus::Disabled | TokenStatus::Expired) {
        changes.push(format!("status {} -> active", have.status.as_str()));
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
/// be written, on every pass.
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
    observed: &ObservedToken,
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
    if let Some(now) = input.details.get(&t.name) {
        // A detail the record does not hold was written by an older release: not known
        // to differ, so no roll for it.
        let changes: Vec<(String, String, String)> = now
            .iter()
            .filter_map(|(k, to)| {
                out.details
                    .get(k)
                    .filter(|from| *from != to)
                    .map(|from| (k.clone(), from.clone(), to.clone()))
            })
            .collect();
        if !changes.is_empty() {
            return Ok(Some(RollReason::OutputDetailChanged { changes }));
        }
    }
    if let (Some(ours), Some(at)) = (seconds(record.modified_on), seconds(observed.modified_on))
        && at > ours
    {
        return Ok(Some(RollReason::ChangedElsewhere { at }));
    }
    if let Some(period) = t.rotate_every {
        let issued_at = record.value_issued_at();
        if input.now >= issued_at + period {
            return Ok(Some(RollReason::Rotation { issued_at }));
        }
    }
    if input.desired.rotate_now.contains_key(&t.name) {
        return Ok(Some(RollReason::Requested));
    }
    Ok(None)
}
