//! Unit tests of `plan::id`.

use super::*;
use crate::config::{Access, Jurisdiction, Owner, TemporaryScope};
use crate::plan::{Blocked, BucketRef, DomainInfo, KeptTemporary, Kind, NextRotation, Orphan};

/// A change to a plan, named for the assertion message.
type Edit = Box<dyn Fn(&mut Plan)>;

fn bucket() -> BucketRef {
    BucketRef {
        jurisdiction: Jurisdiction::Default,
        name: "media".into(),
    }
}

fn plan() -> Plan {
    Plan {
        account_id: "acct".into(),
        steps: vec![Step::CreateBucket {
            bucket: bucket(),
            location_hint: None,
            storage_class: crate::config::StorageClass::Standard,
            protect: true,
        }],
        blocked: Vec::new(),
        orphans: Vec::new(),
        elsewhere: Vec::new(),
        unchanged: 2,
        bookkeeping: Vec::new(),
        refused: None,
        skip_outputs: false,
        temporary: Vec::new(),
        domains: Vec::new(),
        rotations: Vec::new(),
        retiring: Vec::new(),
        publish: None,
    }
}

fn scope(ttl: u64) -> TemporaryScope {
    TemporaryScope {
        bucket: "media".into(),
        access: Access::ObjectRead,
        prefixes: vec!["in/".into()],
        objects: Vec::new(),
        ttl: Duration::from_secs(ttl),
    }
}

fn issue(expires_in: u64, ttl: u64) -> Step {
    Step::IssueTemporary {
        name: "upload".into(),
        parent: "uploader".into(),
        scope: scope(ttl),
        jurisdiction: Jurisdiction::Default,
        output: "upload.env.age".into(),
        reason: IssueReason::Refresh {
            expires_in: Duration::from_secs(expires_in),
        },
    }
}

#[test]
fn a_plan_id_is_64_hex_digits_and_the_same_for_the_same_plan() {
    let id = plan_id(&plan());
    assert_eq!(id.len(), 64);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(id, plan_id(&plan().clone()));
    assert_eq!(parse(&id.to_ascii_uppercase()), Ok(id.clone()));
    assert_eq!(parse(&format!(" {id}\n")), Ok(id));
}

#[test]
fn what_changes_nothing_or_moves_with_the_clock_leaves_the_id_alone() {
    use time::macros::datetime;
    let base = plan_id(&plan());
    let kept = KeptTemporary {
        name: "t".into(),
        scope: scope(3600),
        expires_at: datetime!(2027-01-01 00:00 UTC),
        expires_in: Duration::from_secs(1234),
        renew_at: datetime!(2026-12-31 23:00 UTC),
    };
    let orphan = Orphan {
        kind: Kind::Token,
        name: "r2gitops:old".into(),
        detail: "0123".into(),
        reason: "no longer declared; prune is off, so it is kept".into(),
    };
    let cases: Vec<(&str, Edit)> = vec![
        ("unchanged count", Box::new(|p| p.unchanged = 40)),
        ("skip_outputs", Box::new(|p| p.skip_outputs = true)),
        (
            // The reviewed plan is a --skip-outputs dry run, which never previews a publish.
            "a publish preview",
            Box::new(|p| {
                p.publish = Some(super::super::PublishPreview {
                    files: 3,
                    branch: "r2gitops-outputs".into(),
                    repository: "fleet".into(),
                })
            }),
        ),
        (
            "a kept temporary",
            Box::new(move |p| p.temporary = vec![kept.clone()]),
        ),
        (
            "an orphan",
            Box::new(move |p| p.orphans = vec![orphan.clone()]),
        ),
        (
            "a next rotation",
            Box::new(|p| {
                p.rotations = vec![NextRotation {
                    token: "ci".into(),
                    id: "3f2a".into(),
                    every: Duration::from_secs(86_400),
                    due: datetime!(2027-01-15 08:00 UTC),
                }]
            }),
        ),
        (
            "a domain's progress",
            Box::new(|p| {
                p.domains = vec![DomainInfo {
                    bucket: bucket(),
                    domain: "assets.example.com".into(),
                    enabled: true,
                    status: crate::observed::custom_domain::DomainStatus {
                        ownership: "pending".into(),
                        ssl: "initializing".into(),
                    },
                }]
            }),
        ),
    ];
    for (what, change) in cases {
        let mut p = plan();
        change(&mut p);
        assert_eq!(plan_id(&p), base, "{what} changed the id");
    }
    // The time left of a credential in its refresh window is the clock's, not the plan's.
    let mut a = plan();
    a.steps.push(issue(300, 3600));
    let mut b = plan();
    b.steps.push(issue(240, 3600));
    assert_eq!(plan_id(&a), plan_id(&b));
}

#[test]
fn every_difference_in_what_an_apply_would_do_changes_the_id() {
    let base = plan_id(&plan());
    let mut with_issue = plan();
    with_issue.steps.push(issue(300, 3600));
    let cases: Vec<(&str, Edit)> = vec![
        (
            "another account",
            Box::new(|p| p.account_id = "other".into()),
        ),
        (
            "a refusal",
            Box::new(|p| p.refused = Some("too many deletions".into())),
        ),
        ("no step", Box::new(|p| p.steps.clear())),
        (
            "another storage class",
            Box::new(|p| {
                p.steps[0] = Step::CreateBucket {
                    bucket: bucket(),
                    location_hint: None,
                    storage_class: crate::config::StorageClass::InfrequentAccess,
                    protect: true,
                }
            }),
        ),
        (
            "a blocked item",
            Box::new(|p| {
                p.blocked.push(Blocked {
                    kind: Kind::Bucket,
                    name: "archive".into(),
                    reason: "location is create-only".into(),
                })
            }),
        ),
        (
            "a second step",
            Box::new(|p| p.steps.push(issue(300, 3600))),
        ),
        // A payload the plan's words may not show: the credential's ttl.
        ("a longer ttl", Box::new(|p| p.steps.push(issue(300, 7200)))),
        (
            "a delete",
            Box::new(|p| {
                p.steps.push(Step::DeleteToken {
                    token: "old".into(),
                    name: "r2gitops:old".into(),
                    id: "0123".into(),
                    owner: Owner::Account,
                    reason: crate::plan::DeleteReason::Pruned { output: None },
                })
            }),
        ),
    ];
    let mut seen = std::collections::BTreeMap::new();
    seen.insert(base, "the base plan");
    for (what, change) in cases {
        let mut p = plan();
        change(&mut p);
        if let Some(other) = seen.insert(plan_id(&p), what) {
            panic!("{what} has the id of {other}");
        }
    }
    assert!(seen.contains_key(&plan_id(&with_issue)));
}

#[test]
fn a_string_with_a_newline_cannot_forge_another_item_of_the_form() {
    let mut p = plan();
    p.account_id = "acct\nstep CreateBucket".into();
    assert_eq!(canonical(&p).lines().count(), 4, "{}", canonical(&p));
}

#[test]
fn anything_but_64_hex_digits_is_not_a_plan_id() {
    for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63), &"a".repeat(65)] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}
