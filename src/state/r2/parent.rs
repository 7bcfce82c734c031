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
mod tests {
    use super::*;
    use time::macros::datetime;

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

    fn token(id: &str, name: &str, issued: time::OffsetDateTime) -> ObservedToken {
        ObservedToken {
            id: id.into(),
            name: name.into(),
            owner: crate::config::Owner::Account,
            status: TokenStatus::Active,
            issued_on: Some(issued),
            modified_on: None,
            not_before: None,
            expires_on: None,
            policies: request(
                ACCOUNT,
                "state",
                Jurisdiction::Default,
                &PermissionGroupIds::known(),
            )
            .policies,
            condition: Default::default(),
        }
    }

    #[test]
    fn the_parent_is_object_write_on_the_state_bucket_alone() {
        let r = request(
            ACCOUNT,
            "state",
            Jurisdiction::Eu,
            &PermissionGroupIds::known(),
        );
        assert_eq!(r.name, "r2gitops:state");
        assert_eq!(r.policies.len(), 1);
        let p = &r.policies[0];
        assert_eq!(
            p.permission_groups,
            BTreeSet::from(["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()])
        );
        assert_eq!(
            p.resources.keys().collect::<Vec<_>>(),
            [&format!("com.cloudflare.edge.r2.bucket.{ACCOUNT}_eu_state")]
        );
        assert!(r.expires_on.is_none() && r.condition.is_empty());
    }

    #[test]
    fn the_oldest_token_of_that_name_is_the_parent_and_others_are_ignored() {
        let t0 = datetime!(2026-12-01 10:00 UTC);
        let tokens = [
            token("b0", "r2gitops:state", t0),
            token("a0", "r2gitops:state", t0),
            token("00", "r2gitops:uploader", t0 - time::Duration::hours(1)),
            token("c0", "r2gitops:state", t0 + time::Duration::seconds(1)),
        ];
        assert_eq!(keeper(&tokens).unwrap().id, "a0");
        assert!(keeper(&tokens[2..3]).is_none());
    }

    #[test]
    fn a_parent_changed_out_of_band_is_refused_not_repaired() {
        let want = request(
            ACCOUNT,
            "state",
            Jurisdiction::Default,
            &PermissionGroupIds::known(),
        );
        let t = token("a0", PARENT_NAME, datetime!(2026-12-01 10:00 UTC));
        assert_eq!(refusal(&t, &want, "state"), None);
        let mut disabled = t.clone();
        disabled.status = TokenStatus::Disabled;
        assert!(
            refusal(&disabled, &want, "state")
                .unwrap()
                .contains("is disabled; r2gitops does not re-enable it")
        );
        let other = request(
            ACCOUNT,
            "other",
            Jurisdiction::Default,
            &PermissionGroupIds::known(),
        );
        assert!(
            refusal(&t, &other, "other")
                .unwrap()
                .contains("does not grant exactly object read & write on the state bucket 'other'")
        );
    }
}
