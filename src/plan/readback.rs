//! The read-back after every token write: what Cloudflare says it stored, compared with what
//! was sent, by the same semantic rules the diff uses (policies as sets, CIDRs normalised,
//! times as instants to the second). Pure. Nothing here can reach Cloudflare, and the
//! emulator shares our assumptions, so every write is checked rather than trusted: a server
//! that silently drops a field must never leave a credential less restricted than the file
//! declares without a loud error.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::config::IpRules;
use crate::observed::{ObservedToken, Policy, TokenField, TokenRequest, TokenStatus};
use crate::plan::timestamp;

/// One field Cloudflare did not store as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub field: TokenField,
    /// What was sent, in words (`request_ip allow 10.0.0.0/8`, `(none)`).
    pub sent: String,
    /// What came back, in words (`none`, `allow 10.1.0.0/16`).
    pub stored: String,
    /// The request removed a restriction and Cloudflare kept it (or kept the token
    /// expired): the token is more restricted than declared, and only a replacement can
    /// bring it to the declared state.
    pub kept: bool,
    /// What came back may be less restricted than what was sent.
    pub loosens: bool,
}

/// Every field of `stored` that differs from `sent`. `condition_sent_as` names the key(s)
/// the IP condition travelled under, for the message.
pub fn compare(
    sent: &TokenRequest,
    stored: &ObservedToken,
    condition_sent_as: &str,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if stored.name != sent.name {
        out.push(Mismatch {
            field: TokenField::Name,
            sent: format!("'{}'", sent.name),
            stored: format!("'{}'", stored.name),
            kept: false,
            loosens: false,
        });
    }
    let sent_set: BTreeSet<&Policy> = sent.policies.iter().collect();
    let stored_set: BTreeSet<&Policy> = stored.policies.iter().collect();
    if sent_set != stored_set {
        out.push(Mismatch {
            field: TokenField::Policies,
            sent: count(sent.policies.len(), "policy", "policies"),
            stored: format!(
                "{} that differ",
                count(stored.policies.len(), "policy", "policies")
            ),
            kept: false,
            // A policy set we did not ask for may grant more: assume it does.
            loosens: true,
        });
    }
    if stored.condition != sent.condition {
        let sent_text = if sent.condition.is_empty() {
            "no condition".to_string()
        } else {
            format!("{condition_sent_as} {}", ip_words(&sent.condition))
        };
        let stored_text = if stored.condition.is_empty() {
            "none".to_string()
        } else {
            ip_words(&stored.condition)
        };
        let missing_deny = sent
            .condition
            .deny
            .iter()
            .any(|n| !stored.condition.deny.contains(n));
        out.push(Mismatch {
            field: TokenField::IpRules,
            sent: sent_text,
            stored: stored_text,
            kept: sent.condition.is_empty(),
            loosens: (!sent.condition.allow.is_empty()
                && stored.condition.allow != sent.condition.allow)
                || missing_deny,
        });
    }
    for (field, s, st, later_loosens) in [
        (
            TokenField::NotBefore,
            sent.not_before,
            stored.not_before,
            false,
        ),
        (
            TokenField::ExpiresOn,
            sent.expires_on,
            stored.expires_on,
            true,
        ),
    ] {
        if seconds(s) == seconds(st) {
            continue;
        }
        let loosens = match (s, st) {
            (Some(_), None) => true,
            // A later expiry, or an earlier not_before, lets the token live longer.
            (Some(s), Some(st)) => (st > s) == later_loosens,
            _ => false,
        };
        out.push(Mismatch {
            field,
            sent: show(s),
            stored: show(st),
            kept: s.is_none(),
            loosens,
        });
    }
    let want = sent.status.clone().unwrap_or(TokenStatus::Active);
    if stored.status != want {
        out.push(Mismatch {
            field: TokenField::Status,
            sent: want.as_str().to_string(),
            stored: stored.status.as_str().to_string(),
            // Re-activating an expired token did not take: the same as a kept expiry.
            kept: want == TokenStatus::Active && stored.status == TokenStatus::Expired,
            loosens: false,
        });
    }
    out
}

/// `Cloudflare did not store the IP condition of token reader (sent request_ip allow
/// 10.0.0.0/8, read back none)`, one clause per field.
pub fn message(token: &str, mismatches: &[Mismatch]) -> String {
    let parts: Vec<String> = mismatches
        .iter()
        .map(|m| {
            format!(
                "Cloudflare did not store the {} of token {token} (sent {}, read back {})",
                m.field.label(),
                m.sent,
                m.stored
            )
        })
        .collect();
    parts.join("; ")
}

/// Whether every mismatch is a kept restriction (so that a replacement, not a retry, is
/// the way to the declared state).
pub fn only_kept(mismatches: &[Mismatch]) -> bool {
    !mismatches.is_empty() && mismatches.iter().all(|m| m.kept)
}

pub fn loosens(mismatches: &[Mismatch]) -> bool {
    mismatches.iter().any(|m| m.loosens)
}

/// Cloudflare keeps timestamps to the second; instants compare across offsets.
pub fn seconds(t: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    t.map(|t| t.replace_nanosecond(0).unwrap_or(t))
}

fn show(t: Option<OffsetDateTime>) -> String {
    t.map_or("(none)".into(), timestamp)
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn ip_words(rules: &IpRules) -> String {
    let list = |v: &[ipnet::IpNet]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut parts = Vec::new();
    if !rules.allow.is_empty() {
        parts.push(format!("allow {}", list(&rules.allow)));
    }
    if !rules.deny.is_empty() {
        parts.push(format!("deny {}", list(&rules.deny)));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;

    use super::*;
    use crate::config::Owner;
    use crate::observed::{Effect, ResourceValue};

    fn policy(bucket: &str) -> Policy {
        Policy {
            effect: Effect::Allow,
            permission_groups: BTreeSet::from(["g".to_string()]),
            resources: BTreeMap::from([(bucket.to_string(), ResourceValue::Str("*".into()))]),
        }
    }

    fn rules(allow: &[&str], deny: &[&str]) -> IpRules {
        IpRules {
            allow: allow.iter().map(|s| s.parse().unwrap()).collect(),
            deny: deny.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    fn sent() -> TokenRequest {
        TokenRequest {
            name: "r2gitops:reader".into(),
            policies: vec![policy("a"), policy("b")],
            not_before: Some(datetime!(2026-12-01 00:00 UTC)),
            expires_on: Some(datetime!(2027-01-01 00:00 UTC)),
            condition: rules(&["10.0.0.0/8"], &["10.0.0.7/32"]),
            status: Some(TokenStatus::Active),
        }
    }

    /// What an honest server stores: the request, policies reordered, times with another
    /// offset and sub-second noise.
    fn stored(req: &TokenRequest) -> ObservedToken {
        let mut policies = req.policies.clone();
        policies.reverse();
        ObservedToken {
            id: "x".into(),
            name: req.name.clone(),
            owner: Owner::Account,
            status: TokenStatus::Active,
            issued_on: None,
            modified_on: None,
            not_before: req
                .not_before
                .map(|t| t.to_offset(time::macros::offset!(+2))),
            expires_on: req.expires_on.map(|t| t.replace_millisecond(300).unwrap()),
            policies,
            condition: req.condition.clone(),
        }
    }

    #[test]
    fn an_honest_store_reads_back_clean() {
        let req = sent();
        assert_eq!(compare(&req, &stored(&req), "request_ip"), vec![]);
    }

    #[test]
    fn each_field_cloudflare_did_not_store_is_named_and_classified() {
        type Edit = fn(&mut ObservedToken);
        // (what the server did, field, kept, loosens)
        let cases: Vec<(&str, Edit, TokenField, bool, bool)> = vec![
            (
                "condition dropped",
                |t| t.condition = IpRules::default(),
                TokenField::IpRules,
                false,
                true,
            ),
            (
                "deny list dropped",
                |t| t.condition.deny.clear(),
                TokenField::IpRules,
                false,
                true,
            ),
            (
                "allow widened",
                |t| t.condition.allow = rules(&["0.0.0.0/0"], &[]).allow,
                TokenField::IpRules,
                false,
                true,
            ),
            (
                "expiry dropped",
                |t| t.expires_on = None,
                TokenField::ExpiresOn,
                false,
                true,
            ),
            (
                "expiry later",
                |t| t.expires_on = Some(datetime!(2028-01-01 00:00 UTC)),
                TokenField::ExpiresOn,
                false,
                true,
            ),
            (
                "expiry earlier",
                |t| t.expires_on = Some(datetime!(2026-12-24 00:00 UTC)),
                TokenField::ExpiresOn,
                false,
                false,
            ),
            (
                "not_before dropped",
                |t| t.not_before = None,
                TokenField::NotBefore,
                false,
                true,
            ),
            (
                "not_before earlier",
                |t| t.not_before = Some(datetime!(2026-11-01 00:00 UTC)),
                TokenField::NotBefore,
                false,
                true,
            ),
            (
                "policy lost",
                |t| {
                    t.policies.pop();
                },
                TokenField::Policies,
                false,
                true,
            ),
            (
                "left disabled",
                |t| t.status = TokenStatus::Disabled,
                TokenField::Status,
                false,
                false,
            ),
            (
                "still expired",
                |t| t.status = TokenStatus::Expired,
                TokenField::Status,
                true,
                false,
            ),
            (
                "renamed",
                |t| t.name = "other".into(),
                TokenField::Name,
                false,
                false,
            ),
        ];
        let req = sent();
        for (what, edit, field, kept, loosens) in cases {
            let mut t = stored(&req);
            edit(&mut t);
            let got = compare(&req, &t, "request_ip");
            assert_eq!(got.len(), 1, "{what}: {got:?}");
            assert_eq!(
                (got[0].field, got[0].kept, got[0].loosens),
                (field, kept, loosens),
                "{what}"
            );
        }
    }

    #[test]
    fn a_removed_restriction_that_came_back_is_a_kept_field() {
        let mut req = sent();
        req.condition = IpRules::default();
        req.expires_on = None;
        let mut t = stored(&sent());
        t.status = TokenStatus::Active;
        let got = compare(&req, &t, "request_ip");
        let fields: Vec<TokenField> = got.iter().map(|m| m.field).collect();
        assert_eq!(fields, [TokenField::IpRules, TokenField::ExpiresOn]);
        assert!(only_kept(&got));
        assert!(!loosens(&got));
    }

    #[test]
    fn the_message_names_the_field_the_key_and_both_values() {
        let req = sent();
        let mut t = stored(&req);
        t.condition = IpRules::default();
        let got = compare(&req, &t, "request_ip");
        assert_eq!(
            message("reader", &got),
            "Cloudflare did not store the IP condition of token reader (sent request_ip allow 10.0.0.0/8 deny 10.0.0.7/32, read back none)"
        );
        assert!(!only_kept(&got));
        assert!(loosens(&got));
    }
}
