//! The token rules of the diff: missing -> create; present with other policies, condition,
//! validity window, name or status -> update in place (same id, same S3 key); outputs that
//! cannot be vouched for -> roll; an output path the writer refuses (a symlink on the way,
//! a FIFO) -> blocked, neither created nor rolled; duplicates -> keep one, delete the rest;
//! undeclared and recorded in this inventory -> delete with `prune`, else orphan;
//! undeclared, prefixed and not recorded -> another file's: shown, never touched. An
//! `adopt:` of r2gitops' own token, or of one whose policies no declaration can say,
//! refuses the plan; one that needs a roll waits for the operator's `--allow-adopt-roll`.
//!
//! Here the walk over declarations and what Cloudflare holds; `adopt` the takeover of an
//! existing token, `request` what a declaration asks for and how a held token differs,
//! `renew` when a token needs a new value and how it gets one.

mod adopt;
mod renew;
mod request;

use adopt::{Adoption, adoption};
pub use adopt::{held_beyond_policy, own_token_refusal, policies_refusal, state_parent_refusal};
use renew::{renew, retiring_keys, roll_reason, unwritable_output};
use request::{bucket_refs, removed_fields, request, token_changes};

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::Input;
use crate::config::TokenSpec;
use crate::observed::{ObservedToken, TokenRequest, TokenStatus};
use crate::plan::ReplaceReason;
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
        let expiry_passed = expiry_passed(t, input.now);

        if candidates.is_empty() {
            match create(t, want, buckets, expiry_passed, input) {
                Ok(step) => steps.push(step),
                Err(blocked) => plan.blocked.push(blocked),
            }
            continue;
        }
        let kept = keep_one(&candidates, adopting, record_id);
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

/// A token whose declared expiry has passed could only be created or updated dead: nothing
/// is sent for it (an expired token hidden from the list was once created again on every
/// pass, eating the quota).
fn expiry_passed(t: &TokenSpec, now: OffsetDateTime) -> Option<Blocked> {
    t.expires_on.filter(|e| *e <= now).map(|e| Blocked {
        kind: Kind::Token,
        name: t.name.clone(),
        reason: format!(
            "the declared expiry has passed (expires_on {}); declare a later expires_on",
            timestamp(e)
        ),
    })
}

/// A declared token Cloudflare holds none of: its create, or why it cannot be made.
fn create(
    t: &TokenSpec,
    want: TokenRequest,
    buckets: Vec<BucketRef>,
    expiry_passed: Option<Blocked>,
    input: &Input<'_>,
) -> Result<Step, Blocked> {
    if let Some(blocked) = expiry_passed {
        return Err(blocked);
    }
    if let Some(blocked) = unwritable_output(t, input) {
        // A token created now could never be delivered: its value would be lost.
        return Err(blocked);
    }
    if !input.observed.listed_owners.contains(&t.owner) {
        return Err(Blocked {
            kind: Kind::Token,
            name: t.name.clone(),
            reason: format!("{} tokens were not observed", t.owner.as_str()),
        });
    }
    Ok(Step::CreateToken {
        token: t.name.clone(),
        owner: t.owner,
        access: t.access,
        request: want,
        buckets,
        output: t.output.file.clone(),
        rotate_every: t.rotate_every,
    })
}

/// Which of the tokens a declaration finds it keeps (the others are its duplicates): the
/// one it adopts, else the one its record names, else the oldest (one without an issue
/// date last, the id breaking ties). `candidates` is not empty.
fn keep_one<'a>(
    candidates: &[&'a ObservedToken],
    adopting: Option<&'a ObservedToken>,
    record_id: Option<&str>,
) -> &'a ObservedToken {
    adopting
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
        .expect("candidates is not empty")
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
    let own_update = !acted && input.inventory.updating.contains(&t.name) && record.is_some();
    if own_update {
        plan.bookkeeping.push(Bookkeeping::OwnUpdate {
            token: t.name.clone(),
            id: kept.id.clone(),
            modified_on: kept.modified_on,
        });
    }
    let mut renewed = false;
    if !input.skip_outputs {
        match roll_reason(t, record, kept, own_update, input) {
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
