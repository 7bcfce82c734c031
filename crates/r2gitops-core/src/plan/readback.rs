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
mod tests;
