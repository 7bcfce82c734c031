//! Unit tests of `plan::temporary`.

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
