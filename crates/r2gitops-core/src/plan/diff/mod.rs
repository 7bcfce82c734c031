//! The diff: a pure function of (desired, observed, inventory, output-file facts, now) to a
//! `Plan`. Level-triggered: it never asks why a pass started, only what is and what should be.
//!
//! Rules (each has a table test below):
//! - buckets: missing -> create; present -> adopt; storage class differs -> update; location
//!   or jurisdiction differs -> blocked (create-only), never delete-and-recreate.
//! - buckets: a storage-class change Cloudflare refused for good -> blocked for 24 h.
//! - tokens: missing -> create; present with other policies, condition, validity window,
//!   name or a disabled or expired status -> update in place (same id, same S3 key).
//!   Compared as sets, CIDRs normalised: Cloudflare's reordering is never drift. An update
//!   that removes IP rules or a time (or re-activates an expired token) carries a replace
//!   fallback; once the inventory knows Cloudflare keeps such a field, it is a replace.
//!   `revoked (exposed)` -> replace; an unknown status -> blocked; a declared `expires_on`
//!   that has passed -> blocked, and nothing is sent for that token.
//! - outputs: unrecorded, missing, altered, moved or re-keyed, a shown detail changed, or
//!   `rotate_every` elapsed -> roll (same key id, new secret). Something the writer refuses
//!   at the output path (a symlink on the way, a FIFO) -> blocked, neither created nor rolled.
//! - several managed tokens for one declared name -> keep the inventory's id, else the
//!   oldest; delete the rest.
//! - undeclared token this inventory records -> delete with `prune`, else orphan. One
//!   that only carries the prefix belongs to another file on the account (or to a lost
//!   inventory): listed in `elsewhere`, never touched, so two files never prune each
//!   other's tokens and a lost inventory never causes a deletion. Undeclared bucket ->
//!   delete only with `prune`, if the inventory manages it and its last declared `protect`
//!   was false; else orphan. Unmanaged things are never touched.
//! - `adopt: ID` on a token: the existing token becomes the declared one (renamed and
//!   corrected in place; the update names every permission it loses). Without a recorded
//!   value that needs a roll, which breaks its S3 keys: blocked unless the operator allowed
//!   it (`Desired::adopt_rolls`, never the file), and at most `--max-adopt-rolls` of them.
//!   An id that is r2gitops' own token, that does not exist, whose policies the file cannot
//!   express, or that is managed under another name -> the whole plan is refused, with the
//!   line of the `adopt:`.
//! - bucket configuration (`bucket_config`): an undeclared block is never compared; a
//!   declared one is exact, compared semantically; `cors: []` deletes; a lock change that
//!   loosens retention is deletion-class (blocked without prune, counted with it).
//! - custom domains (`custom_domain`) and notification rules (`notification`):
//!   per domain and per queue, after the zone and queue lookups; an unknown zone or queue
//!   blocks only that item; removing a domain or a queue's rules is deletion-class.
//! - more deletions (loosened lock rules included) than `max_deletions`, or more adopt
//!   rolls than the operator's `--max-adopt-rolls` -> the whole plan is refused.
//! - temporary credentials: see `temporary`; issued after their parent's steps.
//!   `renewals` plans them alone, for the daemon's renewals between full passes.

mod bucket;
mod bucket_config;
mod custom_domain;
mod notification;
mod temporary;
mod token;

pub use temporary::TemporaryFacts;
pub use token::{held_beyond_policy, own_token_refusal, policies_refusal, state_parent_refusal};

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::Plan;
use crate::config::Desired;
use crate::inventory::Inventory;
use crate::observed::Observed;

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
    /// What each declared token's output would show now (`secrets::format::details`), by
    /// token name; compared with what the inventory recorded at the last write.
    pub details: &'a BTreeMap<String, BTreeMap<String, String>>,
    pub now: OffsetDateTime,
    pub skip_outputs: bool,
    /// The temporary credentials' output facts (their observed state is the inventory).
    pub temporary: &'a TemporaryFacts,
}

fn empty_plan(input: &Input<'_>) -> Plan {
    Plan {
        account_id: input.observed.account_id.clone(),
        steps: Vec::new(),
        blocked: Vec::new(),
        orphans: Vec::new(),
        elsewhere: Vec::new(),
        unchanged: 0,
        bookkeeping: Vec::new(),
        refused: None,
        skip_outputs: input.skip_outputs,
        temporary: Vec::new(),
        domains: Vec::new(),
        rotations: Vec::new(),
        retiring: Vec::new(),
        publish: None,
    }
}

/// The temporary credentials alone, between full passes: `parents` are the tokens the last
/// full pass of this same desired state found usable. Nothing else is compared, so the
/// input's observation may be empty (a renewal observes nothing).
pub fn renewals(input: &Input<'_>, parents: &std::collections::BTreeSet<String>) -> Plan {
    let mut plan = empty_plan(input);
    let mut steps = Vec::new();
    temporary::diff_temporary(
        input,
        &mut plan,
        temporary::Parents::Vouched(parents),
        &mut steps,
    );
    plan.steps = steps;
    plan
}

pub fn diff(input: &Input<'_>) -> Plan {
    let mut plan = empty_plan(input);
    let mut bucket_steps = Vec::new();
    let mut bucket_deletes = Vec::new();
    let mut token_deletes = Vec::new();
    let mut token_steps = Vec::new();

    let mut config_steps = Vec::new();
    bucket::diff_buckets(input, &mut plan, &mut bucket_steps, &mut bucket_deletes);
    bucket_config::diff_bucket_configs(input, &mut plan, &bucket_steps, &mut config_steps);
    token::diff_tokens(input, &mut plan, &mut token_deletes, &mut token_steps);
    let mut temporary_steps = Vec::new();
    temporary::diff_temporary(
        input,
        &mut plan,
        temporary::Parents::ThisPass(&token_steps),
        &mut temporary_steps,
    );

    plan.steps.extend(bucket_steps);
    plan.steps.extend(config_steps);
    plan.steps.extend(token_deletes);
    plan.steps.extend(token_steps);
    plan.steps.extend(temporary_steps);
    plan.steps.extend(bucket_deletes);

    let deletions = plan.deletions();
    let max = input.desired.settings.max_deletions as usize;
    if deletions > max {
        // Configuration changes can be deletion-class (objects a lock retained may go, a
        // domain's DNS record goes, a queue stops hearing of events): say which are counted.
        let kind_of = |s: &super::Step| match s {
            super::Step::ConfigureBucket { loosens, .. } if !loosens.is_empty() => {
                Some("loosened lock rules")
            }
            super::Step::ConfigureDomain { .. } if s.deletion_weight() > 0 => {
                Some("removed custom domains")
            }
            super::Step::ConfigureNotifications { .. } if s.deletion_weight() > 0 => {
                Some("queues losing their notification rules")
            }
            _ => None,
        };
        let kinds: std::collections::BTreeSet<&str> =
            plan.steps.iter().filter_map(kind_of).collect();
        let kinds: Vec<&str> = kinds.into_iter().collect();
        let counted = if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({} included)", kinds.join(", "))
        };
        refuse(
            &mut plan,
            format!(
                "the plan deletes {deletions} objects{counted}, more than settings.max_deletions ({max}); nothing will be applied (raise max_deletions, or declare what should stay)"
            ),
        );
    }
    // The operator's bound, not the file's: a committer could raise max_deletions.
    let adopt_rolls = plan.adopt_rolls();
    if let crate::config::AdoptRolls::Allowed { max } = input.desired.adopt_rolls
        && adopt_rolls > max as usize
    {
        refuse(
            &mut plan,
            format!(
                "the plan rolls {adopt_rolls} adopted tokens whose S3 keys are in use, more than --max-adopt-rolls ({max}); nothing will be applied (raise --max-adopt-rolls, or hand values over with r2gitops adopt NAME --value-from-stdin)"
            ),
        );
    }
    plan
}

/// Add `refusal` to the plan's refusals.
fn refuse(plan: &mut Plan, refusal: String) {
    plan.refused = Some(match plan.refused.take() {
        Some(earlier) => format!("{earlier}; {refusal}"),
        None => refusal,
    });
}

#[cfg(test)]
mod tests;
