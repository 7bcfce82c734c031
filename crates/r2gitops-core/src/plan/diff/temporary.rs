//! The temporary-credential rules of the diff. Cloudflare keeps no record of
//! these credentials: the observed state is the inventory.
//!
//! - not recorded -> issue;
//! - its parent gets a new value in this pass (created, rolled, replaced) -> issue, after
//!   the parent's step (apply runs a parent's steps and then its children's, in order);
//! - its parent was rolled or replaced since it was issued (another id, or a value newer
//!   than the credential) -> issue;
//! - scope (bucket, access, prefixes, objects, ttl) changed -> issue;
//! - its output missing, altered, moved, re-keyed, or a shown detail changed -> issue;
//!   something the writer refuses at the output path -> blocked;
//! - expired, or inside the refresh window (`now >= expires_at - refresh_before`) -> issue;
//! - its parent's update may become a replacement -> issue only if it does;
//! - otherwise kept, with the time it has left;
//! - an issue whose parent cannot be had (blocked, not observed) -> blocked;
//! - recorded and no longer declared -> forgotten (bookkeeping), shown as an orphan: it
//!   cannot be revoked, it works until it expires or its parent is rolled;
//! - `--skip-outputs`: none is planned (a temporary credential is nothing but its output).
//!
//! The same rules plan a renewal between the daemon's full passes (`renewals`), with the
//! parents a full pass of the same desired state found usable: renewing costs one issue
//! call per credential due, not an observation of the whole account.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use time::OffsetDateTime;

use super::{Input, OutputFact};
use crate::config::TemporarySpec;
use crate::inventory::TemporaryRecord;
use crate::plan::timestamp;
use crate::plan::{
    Blocked, Bookkeeping, IssueReason, KeptTemporary, Kind, Orphan, Plan, RollReason, Step,
};

/// What `reconcile` read from disk for the temporary credentials' outputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemporaryFacts {
    /// What is at each declared credential's output path, by name (empty with
    /// `skip_outputs`).
    pub outputs: BTreeMap<String, OutputFact>,
    /// What each output written now would show (endpoint, jurisdiction), by name.
    pub details: BTreeMap<String, BTreeMap<String, String>>,
}

/// Where a parent token stands in this pass.
enum Parent {
    /// A new value is written in this pass, before the children run.
    Renewed(&'static str),
    /// Updated with a replacement fallback: a new id only if the fallback happens.
    MayBeReplaced,
    /// As recorded: its id and when its current value was issued.
    Present {
        id: String,
        value_issued_at: OffsetDateTime,
    },
    /// No id can be had in this pass, and why.
    Unavailable(String),
}

fn parent_state(name: &str, token_steps: &[Step], plan: &Plan, input: &Input<'_>) -> Parent {
    let mut may_be_replaced = false;
    for s in token_steps.iter().filter(|s| s.object_name() == name) {
        match s {
            Step::CreateToken { .. } => return Parent::Renewed("created"),
            Step::ReplaceToken { .. } => return Parent::Renewed("replaced"),
            Step::RollToken { .. } => return Parent::Renewed("rolled"),
            Step::RotateToken { .. } => return Parent::Renewed("rotated"),
            Step::UpdateToken { fallback, .. } => may_be_replaced |= fallback.is_some(),
            _ => {}
        }
    }
    if may_be_replaced {
        return Parent::MayBeReplaced;
    }
    if plan
        .blocked
        .iter()
        .any(|b| b.kind == Kind::Token && b.name == name)
    {
        return Parent::Unavailable(format!("its parent token {name} is blocked"));
    }
    let adopted = plan.bookkeeping.iter().find_map(|b| match b {
        Bookkeeping::AdoptToken {
            token,
            id,
            issued_on,
            ..
        } if token == name => Some((id.clone(), issued_on.unwrap_or(input.now))),
        _ => None,
    });
    if let Some((id, value_issued_at)) = adopted {
        return Parent::Present {
            id,
            value_issued_at,
        };
    }
    let observed = |id: &str| input.observed.tokens.iter().any(|t| t.id == id);
    match input.inventory.tokens.get(name) {
        Some(r) if observed(&r.id) => Parent::Present {
            id: r.id.clone(),
            value_issued_at: r.value_issued_at(),
        },
        _ => Parent::Unavailable(format!(
            "its parent token {name} was not found in Cloudflare"
        )),
    }
}

/// Where the parents' state comes from.
pub(super) enum Parents<'a> {
    /// This pass's token steps and observation (a full pass).
    ThisPass(&'a [Step]),
    /// The tokens a full pass of this same desired state found usable (neither blocked nor
    /// missing), at their inventory ids: a renewal between full passes observes nothing.
    Vouched(&'a BTreeSet<String>),
}

/// A parent the last full pass vouched for, as the inventory records it now.
fn vouched_state(name: &str, vouched: &BTreeSet<String>, input: &Input<'_>) -> Parent {
    match input.inventory.tokens.get(name) {
        Some(r) if vouched.contains(name) => Parent::Present {
            id: r.id.clone(),
            value_issued_at: r.value_issued_at(),
        },
        _ => Parent::Unavailable(format!(
            "its parent token {name} was not usable in the last full pass"
        )),
    }
}

pub(super) fn diff_temporary(
    input: &Input<'_>,
    plan: &mut Plan,
    parents: Parents<'_>,
    steps: &mut Vec<Step>,
) {
    // A temporary credential is nothing but its output: with outputs not examined (a CI
    // machine without them, nor the inventory) there is nothing to plan for it.
    let declared = if input.skip_outputs {
        &[][..]
    } else {
        &input.desired.temporary_credentials[..]
    };
    for t in declared {
        let parent = match parents {
            Parents::ThisPass(token_steps) => parent_state(&t.parent, token_steps, plan, input),
            Parents::Vouched(names) => vouched_state(&t.parent, names, input),
        };
        let record = input.inventory.temporary.get(&t.name);
        let blocked = |reason: String| Blocked {
            kind: Kind::Temporary,
            name: t.name.clone(),
            reason,
        };
        if let Some(OutputFact::Unreadable { reason }) = input.temporary.outputs.get(&t.name) {
            // A credential issued now could never be delivered.
            plan.blocked.push(blocked(format!(
                "output file {} cannot be checked: {reason}",
                t.output.file.display()
            )));
            continue;
        }
        match issue_reason(t, record, &parent, input) {
            Some(reason) => match parent {
                Parent::Unavailable(why) => plan
                    .blocked
                    .push(blocked(format!("{why}; nothing can be issued under it"))),
                _ => steps.push(Step::IssueTemporary {
                    name: t.name.clone(),
                    parent: t.parent.clone(),
                    scope: t.scope.clone(),
                    jurisdiction: t.jurisdiction,
                    output: t.output.file.clone(),
                    reason,
                }),
            },
            None => {
                let r = record.expect("a credential without a record is issued");
                plan.unchanged += 1;
                plan.temporary.push(KeptTemporary {
                    name: t.name.clone(),
                    scope: r.scope.clone(),
                    expires_at: r.expires_at,
                    expires_in: left(r.expires_at, input.now),
                    renew_at: r.expires_at - t.refresh_before,
                });
            }
        }
    }

    for (name, r) in &input.inventory.temporary {
        if input
            .desired
            .temporary_credentials
            .iter()
            .any(|t| &t.name == name)
        {
            continue;
        }
        plan.bookkeeping
            .push(Bookkeeping::ForgetTemporary { name: name.clone() });
        let reason = if r.expires_at <= input.now {
            "no longer declared: forgotten (it has expired)".to_string()
        } else {
            "no longer declared: forgotten; it cannot be revoked and works until it expires (rolling its parent token ends it now); its output file is left in place".to_string()
        };
        plan.orphans.push(Orphan {
            kind: Kind::Temporary,
            name: name.clone(),
            detail: format!("expires {}", timestamp(r.expires_at)),
            reason,
        });
    }
}

fn left(expires_at: OffsetDateTime, now: OffsetDateTime) -> Duration {
    Duration::try_from(expires_at - now).unwrap_or_default()
}

/// Why `t` must be issued in this pass, or `None` when the recorded credential stays.
fn issue_reason(
    t: &TemporarySpec,
    record: Option<&TemporaryRecord>,
    parent: &Parent,
    input: &Input<'_>,
) -> Option<IssueReason> {
    let Some(r) = record else {
        return Some(IssueReason::Unrecorded);
    };
    if let Parent::Renewed(how) = parent {
        return Some(IssueReason::ParentRenewed {
            parent: t.parent.clone(),
            how,
        });
    }
    let mut changes = Vec::new();
    if r.parent != t.parent {
        changes.push(format!("parent {} -> {}", r.parent, t.parent));
    }
    changes.extend(r.scope.changes(&t.scope));
    if !changes.is_empty() {
        return Some(IssueReason::ScopeChanged { changes });
    }
    if let Parent::Present {
        id,
        value_issued_at,
    } = parent
        && (*id != r.parent_id || *value_issued_at > r.issued_at)
    {
        return Some(IssueReason::ParentChanged {
            parent: t.parent.clone(),
        });
    }
    if let Some(why) = output_reason(t, r, input) {
        return Some(IssueReason::Output(why));
    }
    if input.now >= r.expires_at {
        return Some(IssueReason::Expired { at: r.expires_at });
    }
    if input.now >= r.expires_at - t.refresh_before {
        return Some(IssueReason::Refresh {
            expires_in: left(r.expires_at, input.now),
        });
    }
    if matches!(parent, Parent::MayBeReplaced) {
        return Some(IssueReason::ParentMayBeReplaced {
            parent: t.parent.clone(),
        });
    }
    None
}

/// The token rules for outputs (`token::roll_reason`), applied to a temporary credential.
fn output_reason(t: &TemporarySpec, r: &TemporaryRecord, input: &Input<'_>) -> Option<RollReason> {
    let Some(out) = &r.output else {
        return Some(RollReason::OutputUnrecorded);
    };
    if out.path != t.output.file {
        return Some(RollReason::OutputMoved {
            from: out.path.clone(),
        });
    }
    match input.temporary.outputs.get(&t.name) {
        None | Some(OutputFact::Missing) => return Some(RollReason::OutputMissing),
        Some(OutputFact::Present { sha256 }) if *sha256 != out.ciphertext_sha256 => {
            return Some(RollReason::OutputAltered);
        }
        _ => {}
    }
    if out.fingerprint != t.output.fingerprint() {
        return Some(RollReason::OutputSpecChanged);
    }
    let now = input.temporary.details.get(&t.name)?;
    let changes: Vec<(String, String, String)> = now
        .iter()
        .filter_map(|(k, to)| {
            out.details
                .get(k)
                .filter(|from| *from != to)
                .map(|from| (k.clone(), from.clone(), to.clone()))
        })
        .collect();
    (!changes.is_empty()).then_some(RollReason::OutputDetailChanged { changes })
}

#[cfg(test)]
mod tests;
