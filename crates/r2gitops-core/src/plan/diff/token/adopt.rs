//! `adopt:`, taking over a token Cloudflare already holds: the refusals the plan and
//! `r2gitops adopt` share (r2gitops' own token, the state backend's parent, policies no
//! declaration can say, access beyond the operator's policy), and whether an entry adopts
//! in this pass, waits for the operator's `--allow-adopt-roll`, or is done.

use std::collections::BTreeSet;

use crate::config::{AdoptRolls, TokenSpec};
use crate::observed::{ObservedToken, PermissionGroupIds, Policy};
use crate::plan::diff::Input;
use crate::plan::policy::declaration;
use crate::plan::{Blocked, Kind};

pub(super) enum Adoption<'a> {
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
pub(super) fn adoption<'a>(
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
