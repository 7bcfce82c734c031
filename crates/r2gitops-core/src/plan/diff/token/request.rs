//! What a declared token asks Cloudflare for (`TokenRequest`, its buckets), and how a token
//! Cloudflare holds differs from it: the words of an update, and the restrictions an update
//! cannot remove.

use std::collections::BTreeSet;

use ipnet::IpNet;
use time::OffsetDateTime;

use crate::config::{TokenScope, TokenSpec};
use crate::observed::{ObservedToken, Policy, TokenField, TokenRequest, TokenStatus};
use crate::plan::BucketRef;
use crate::plan::diff::Input;
use crate::plan::policy::{describe, desired_policies, lost};
use crate::plan::readback::seconds;
use crate::plan::timestamp;

pub(super) fn bucket_refs(t: &TokenSpec) -> Vec<BucketRef> {
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

pub(super) fn request(t: &TokenSpec, cf_name: &str, input: &Input<'_>) -> TokenRequest {
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
pub(super) fn removed_fields(have: &ObservedToken, want: &TokenRequest) -> Vec<TokenField> {
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

pub(super) fn token_changes(
    have: &ObservedToken,
    want: &TokenRequest,
    input: &Input<'_>,
) -> Vec<String> {
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
