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
mod tests {
    use std::path::PathBuf;

    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::config::{Access, Jurisdiction};
    use crate::plan::render::{json, markdown, text};
    use crate::plan::{Plan, Step};

    fn scope() -> TemporaryScope {
        TemporaryScope {
            bucket: "media-uploads".into(),
            access: Access::ObjectReadWrite,
            prefixes: vec!["inbound/partner-a/".into()],
            objects: Vec::new(),
            ttl: Duration::from_secs(12 * 3600),
        }
    }

    fn plan() -> Plan {
        let mut kept_scope = scope();
        kept_scope.prefixes = vec!["releases/".into()];
        kept_scope.access = Access::ObjectRead;
        Plan {
            account_id: "acct".into(),
            steps: vec![Step::IssueTemporary {
                name: "partner-a-inbound".into(),
                parent: "uploader".into(),
                scope: scope(),
                jurisdiction: Jurisdiction::Default,
                output: PathBuf::from("partner-a.env.age"),
                reason: IssueReason::Unrecorded,
            }],
            blocked: Vec::new(),
            orphans: Vec::new(),
            elsewhere: Vec::new(),
            unchanged: 3,
            bookkeeping: Vec::new(),
            refused: None,
            skip_outputs: false,
            temporary: vec![KeptTemporary {
                name: "ci-releases".into(),
                scope: kept_scope,
                expires_at: datetime!(2026-11-23 19:00 UTC),
                expires_in: Duration::from_secs(7 * 3600),
                renew_at: datetime!(2026-11-23 15:00 UTC),
            }],
            domains: Vec::new(),
            rotations: Vec::new(),
            retiring: Vec::new(),
            publish: None,
        }
    }

    const ISSUE: &str = "+ issue temporary partner-a-inbound (object-read-write on media-uploads/inbound/partner-a/, 12h)";
    const KEPT: &str =
        "= temporary ci-releases (object-read on media-uploads/releases/, 12h) (expires in 7h)";

    #[test]
    fn text_and_markdown_show_the_issue_and_the_time_left() {
        let t = text(&plan(), "r2gitops.yaml");
        assert_eq!(
            t,
            format!(
                "r2gitops plan for r2gitops.yaml (account acct):\n  {ISSUE}\n  {KEPT}\n  = 2 unchanged\nPlan: 0 to create, 0 to update, 0 to roll, 1 to issue, 0 to delete; 3 unchanged.\nPlan id: {}\n",
                crate::plan::id::plan_id(&plan())
            )
        );
        let md = markdown(&plan(), "r2gitops.yaml");
        assert!(
            md.contains(&format!("```diff\n{ISSUE}\n{KEPT}\n= 2 unchanged\n```\n")),
            "{md}"
        );
        let mut only_kept = plan();
        only_kept.steps.clear();
        assert!(
            text(&only_kept, "f").contains("\nNo changes. 3 unchanged.\nPlan id: "),
            "an unchanged credential is no change"
        );
    }

    #[test]
    fn json_carries_the_step_its_scope_and_the_kept_expiry() {
        let v = json(&plan(), "r2gitops.yaml");
        assert_eq!(v["summary"]["issue"], 1);
        assert_eq!(
            v["changes"][0],
            json!({
                "action": "issue",
                "kind": "temporary",
                "name": "partner-a-inbound",
                "line": ISSUE,
                "parent": "uploader",
                "bucket": "media-uploads",
                "jurisdiction": "default",
                "access": "object-read-write",
                "prefixes": ["inbound/partner-a/"],
                "objects": [],
                "ttl_seconds": 43200,
                "output": "partner-a.env.age",
                "reason": "unrecorded",
                "detail": "not issued yet",
            })
        );
        assert_eq!(
            v["temporary"],
            json!([{
                "name": "ci-releases",
                "line": KEPT,
                "expires_at": "2026-11-23T19:00:00Z",
                "expires_in_seconds": 25200,
                "renew_at": "2026-11-23T15:00:00Z",
            }])
        );
    }

    #[test]
    fn every_reason_but_the_first_issue_is_said_on_the_line() {
        let cases = [
            (
                IssueReason::Refresh {
                    expires_in: Duration::from_secs(3 * 3600),
                },
                "refresh",
                ": inside its refresh window (expires in 3h)",
            ),
            (
                IssueReason::ParentRenewed {
                    parent: "uploader".into(),
                    how: "rolled",
                },
                "parent_renewed",
                ": its parent token uploader is rolled in this pass",
            ),
            (
                IssueReason::ScopeChanged {
                    changes: vec!["prefixes +a/".into()],
                },
                "scope_changed",
                ": scope changed: prefixes +a/",
            ),
        ];
        for (reason, kind, tail) in cases {
            let mut p = plan();
            if let Step::IssueTemporary { reason: r, .. } = &mut p.steps[0] {
                *r = reason.clone();
            }
            assert_eq!(
                crate::plan::render::step_line(&p.steps[0]),
                format!("{ISSUE}{tail}")
            );
            assert_eq!(reason.kind(), kind);
        }
    }
}
