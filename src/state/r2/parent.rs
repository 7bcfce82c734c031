//! The managed parent token of `--state-credentials temporary`: an account R2 token named
//! `r2gitops:state` with object read & write on the state bucket alone. r2gitops mints the
//! state's short-lived S3 credentials under it (`temp-access-credentials` takes the parent's
//! id, never its value: the value is dropped the moment it is created). Pure: what to
//! create, which of the tokens found is the parent, and whether it may be used.
//!
//! No desired-state file can declare, adopt or prune a token of this name (validation,
//! `observe` and `import` leave it out), so that a committer cannot widen, roll or delete
//! the parent of the credentials that guard the inventory.

use std::collections::BTreeSet;

use crate::config::Jurisdiction;
use crate::observed::{
    Effect, ObservedToken, PermissionGroupIds, Policy, ResourceValue, TokenRequest, TokenStatus,
};

/// The parent's Cloudflare name, whatever the file's `token_name_prefix`.
pub const PARENT_NAME: &str = crate::config::STATE_PARENT_NAME;

/// The parent as r2gitops creates it: Workers R2 Storage Bucket Item Write on the state
/// bucket, nothing else; no expiry (it is never handed to anyone), no IP rule (the minted
/// children are used from wherever the runner runs).
pub fn request(
    account_id: &str,
    bucket: &str,
    jurisdiction: Jurisdiction,
    groups: &PermissionGroupIds,
) -> TokenRequest {
    TokenRequest {
        name: PARENT_NAME.to_string(),
        policies: vec![Policy {
            effect: Effect::Allow,
            permission_groups: BTreeSet::from([groups.object_write.to_ascii_lowercase()]),
            resources: [(
                crate::plan::policy::bucket_key(account_id, jurisdiction, bucket),
                ResourceValue::Str("*".into()),
            )]
            .into(),
        }],
        not_before: None,
        expires_on: None,
        condition: Default::default(),
        status: None,
    }
}

/// Of the account tokens found, the parent: the oldest named `PARENT_NAME` (by issue time,
/// then id), so that two runners that created one each at the same moment agree on one.
pub fn keeper(tokens: &[ObservedToken]) -> Option<&ObservedToken> {
    tokens
        .iter()
        .filter(|t| t.name == PARENT_NAME)
        .min_by(|a, b| (a.issued_on, &a.id).cmp(&(b.issued_on, &b.id)))
}

/// Whether the parent found may be used as it is. r2gitops neither widens, narrows nor
/// re-enables it: one that differs was changed out of band, and the operator decides.
pub fn refusal(found: &ObservedToken, want: &TokenRequest, bucket: &str) -> Option<String> {
    if found.status != TokenStatus::Active {
        return Some(format!(
            "the parent token '{PARENT_NAME}' ({}) is {}; r2gitops does not re-enable it (delete it to have a new one created)",
            found.id,
            found.status.as_str()
        ));
    }
    let have: BTreeSet<&Policy> = found.policies.iter().collect();
    let wanted: BTreeSet<&Policy> = want.policies.iter().collect();
    if have != wanted {
        return Some(format!(
            "the parent token '{PARENT_NAME}' ({}) does not grant exactly object read & write on the state bucket '{bucket}' (changed out of band, or made for another state bucket); r2gitops does not change it (delete it to have a new one created)",
            found.id
        ));
    }
    None
}

#[cfg(test)]
mod tests;
