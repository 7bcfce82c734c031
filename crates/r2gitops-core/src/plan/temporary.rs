//! The plan's data for temporary credentials: why one is issued, and the ones kept
//! with how long they have left. Plain data, no clock: durations were computed by `diff`
//! from its `now`.

use std::time::Duration;

use time::OffsetDateTime;

use super::RollReason;
use super::timestamp;
use crate::config::TemporaryScope;
use crate::config::model::temporary::{human_duration, short_duration};

/// Why a temporary credential is issued in this pass.
#[derive(Debug, Clone, PartialEq)]
pub enum IssueReason {
    /// Never issued, or the inventory has no record of it.
    Unrecorded,
    /// Its parent gets a new value in this pass (`created`, `rolled` or `replaced`), which
    /// kills the credentials issued under the old one: issued right after.
    ParentRenewed {
        parent: String,
        how: &'static str,
    },
    /// Its parent is updated with a replacement fallback: issued only if the update turns
    /// into a replacement (a new parent id), else nothing is done.
    ParentMayBeReplaced {
        parent: String,
    },
    /// Its parent was rolled or replaced since it was issued: it no longer works.
    ParentChanged {
        parent: String,
    },
    /// The declared scope (bucket, access, prefixes, objects, ttl) is not what was issued.
    ScopeChanged {
        changes: Vec<String>,
    },
    /// Its output cannot be vouched for (missing, altered, moved, re-keyed, a shown
    /// detail changed): only a new credential can re-render it.
    Output(RollReason),
    Expired {
        at: OffsetDateTime,
    },
    /// Inside the refresh window: less than `refresh_before` is left.
    Refresh {
        expires_in: Duration,
    },
}

impl IssueReason {
    pub fn describe(&self) -> String {
        match self {
            IssueReason::Unrecorded => "not issued yet".into(),
            IssueReason::ParentRenewed { parent, how } => {
                format!("its parent token {parent} is {how} in this pass")
            }
            IssueReason::ParentMayBeReplaced { parent } => {
                format!("only if the update of its parent token {parent} becomes a replacement")
            }
            IssueReason::ParentChanged { parent } => {
                format!("its parent token {parent} was rolled or replaced since it was issued")
            }
            IssueReason::ScopeChanged { changes } => {
                format!("scope changed: {}", changes.join(", "))
            }
            IssueReason::Output(r) => r.describe(),
            IssueReason::Expired { at } => format!("expired at {}", timestamp(*at)),
            IssueReason::Refresh { expires_in } => format!(
                "inside its refresh window (expires in {})",
                human_duration(*expires_in)
            ),
        }
    }

    /// A stable machine-readable name, for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            IssueReason::Unrecorded => "unrecorded",
            IssueReason::ParentRenewed { .. } => "parent_renewed",
            IssueReason::ParentMayBeReplaced { .. } => "parent_may_be_replaced",
            IssueReason::ParentChanged { .. } => "parent_changed",
            IssueReason::ScopeChanged { .. } => "scope_changed",
            IssueReason::Output(r) => r.kind(),
            IssueReason::Expired { .. } => "expired",
            IssueReason::Refresh { .. } => "refresh",
        }
    }
}

/// A temporary credential that stays as issued in this pass.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptTemporary {
    pub name: String,
    pub scope: TemporaryScope,
    pub expires_at: OffsetDateTime,
    pub expires_in: Duration,
    /// When the daemon renews it (`expires_at - refresh_before`).
    pub renew_at: OffsetDateTime,
}

/// `object-read-write on media-uploads/inbound/partner-a/, 12h`: what a line shows of it.
pub fn scope_clause(scope: &TemporaryScope) -> String {
    format!(
        "{} on {}, {}",
        scope.access.as_str(),
        scope.target(),
        short_duration(scope.ttl)
    )
}

/// `= temporary partner-a-inbound (object-read-write on media-uploads/inbound/partner-a/, 12h) (expires in 7h)`
pub fn kept_line(k: &KeptTemporary) -> String {
    format!(
        "= temporary {} ({}) (expires in {})",
        k.name,
        scope_clause(&k.scope),
        human_duration(k.expires_in)
    )
}

#[cfg(test)]
mod tests;
