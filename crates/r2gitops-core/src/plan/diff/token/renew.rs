//! When a kept token needs a new value (its output cannot be vouched for, it is due for
//! rotation, or it was rolled elsewhere), the step that gives it one (a rotation with an
//! overlap, or a roll), and the old keys of rotated tokens until they retire.

use std::collections::BTreeSet;

use super::request::bucket_refs;
use crate::config::TokenSpec;
use crate::observed::{ObservedToken, TokenRequest};
use crate::plan::diff::{Input, OutputFact};
use crate::plan::readback::seconds;
use crate::plan::{Blocked, Bookkeeping, Kind, Plan, RollReason, Step};

/// The token is blocked when what is at its output path is something the writer refuses
/// (a symlink on the way, a FIFO): creating or rolling it would mint a value that can never
/// be written, on every pass.
pub(super) fn unwritable_output(t: &TokenSpec, input: &Input<'_>) -> Option<Blocked> {
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

/// `own_update`: an update of ours was in flight and the token is as declared, so a
/// `modified_on` past the record is that update's, not a change made elsewhere.
pub(super) fn roll_reason(
    t: &TokenSpec,
    record: Option<&crate::inventory::TokenRecord>,
    observed: &ObservedToken,
    own_update: bool,
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
        && !own_update
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

/// The step that gives a kept token a new value its output can hold. Where the old secret
/// may still be in use (`RollReason::overlaps`) and the token has an overlap, a rotation: a
/// new token, proven, delivered, and the old one retired after the overlap. Otherwise a
/// roll (same access key id, new secret): the old secret is dead already (rolled
/// elsewhere), the overlap is 0, or the value is one r2gitops issued and never delivered
/// (a create, roll or rotation whose write failed or was interrupted: nobody holds it).
pub(super) fn renew(
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
pub(super) fn retiring_keys<'a>(
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
