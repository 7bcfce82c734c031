//! Table tests of the temporary-credential rules of the diff: when a credential is issued,
//! kept, blocked or forgotten, and the renewals planned between full passes.

use std::path::PathBuf;

use time::macros::datetime;

use super::*;
use crate::config::{Access, Desired, Jurisdiction, OutputFormat, TemporaryScope, TokenSpec};
use crate::fixtures::{ACCT, bucket, desired, token};
use crate::inventory::OutputRecord;
use crate::inventory::{Inventory, TokenRecord};
use crate::observed::{Observed, ObservedToken, PermissionGroupIds, TokenStatus};
use crate::plan::diff::diff;
use crate::plan::render::step_line;

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);
const PARENT_ID: &str = "00000000000000000000000000000001";

fn spec() -> TemporarySpec {
    let mut out = token("partner", &[]).output;
    out.file = PathBuf::from("partner-a.env.age");
    out.format = OutputFormat::Env;
    TemporarySpec {
        name: "partner-a-inbound".into(),
        parent: "uploader".into(),
        jurisdiction: Jurisdiction::Default,
        scope: TemporaryScope {
            bucket: "media-uploads".into(),
            access: Access::ObjectReadWrite,
            prefixes: vec!["inbound/partner-a/".into()],
            objects: Vec::new(),
            ttl: Duration::from_secs(12 * 3600),
        },
        refresh_before: Duration::from_secs(4 * 3600),
        output: out,
    }
}

fn endpoint() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("endpoint".to_string(), format!("https://{ACCT}.example")),
        ("jurisdiction".to_string(), "default".to_string()),
    ])
}

/// A converged world: the bucket, the parent token and its output as declared, and the
/// temporary credential issued 5 hours ago (7 hours left) with its output in place.
struct World {
    desired: Desired,
    observed: Observed,
    inventory: Inventory,
    facts: TemporaryFacts,
    token_outputs: BTreeMap<String, OutputFact>,
}

fn obs_token(d: &Desired, t: &TokenSpec, id: &str) -> ObservedToken {
    ObservedToken {
        id: id.into(),
        name: d.cloudflare_token_name(t),
        owner: t.owner,
        status: TokenStatus::Active,
        issued_on: Some(datetime!(2026-11-01 00:00 UTC)),
        modified_on: None,
        not_before: t.not_before,
        expires_on: t.expires_on,
        policies: crate::plan::policy::desired_policies(t, ACCT, &PermissionGroupIds::known()),
        condition: t.ip.clone(),
    }
}

fn world() -> World {
    let mut d = desired();
    d.buckets = vec![bucket("media-uploads")];
    let parent = token("uploader", &["media-uploads"]);
    d.tokens = vec![parent.clone()];
    d.temporary_credentials = vec![spec()];
    let observed = Observed {
        account_id: ACCT.into(),
        buckets: vec![crate::observed::ObservedBucket {
            name: "media-uploads".into(),
            jurisdiction: Jurisdiction::Default,
            location: None,
            storage_class: crate::config::StorageClass::Standard,
            creation_date: None,
        }],
        listed_jurisdictions: Jurisdiction::ALL.into_iter().collect(),
        tokens: vec![obs_token(&d, &parent, PARENT_ID)],
        listed_owners: [crate::config::Owner::Account, crate::config::Owner::User]
            .into_iter()
            .collect(),
        permission_groups: PermissionGroupIds::known(),
        bucket_configs: Default::default(),
        own_token_id: None,
        state_parent_ids: Default::default(),
        zones: Default::default(),
        queues: None,
    };
    let mut inventory = Inventory::default();
    inventory.buckets.insert(
        (Jurisdiction::Default, "media-uploads".into()),
        crate::inventory::BucketRecord::new(true),
    );
    inventory.tokens.insert(
        "uploader".into(),
        TokenRecord {
            id: PARENT_ID.into(),
            owner: parent.owner,
            created_at: datetime!(2026-11-01 00:00 UTC),
            rolled_at: None,
            modified_on: None,
            output: Some(OutputRecord {
                path: parent.output.file.clone(),
                ciphertext_sha256: "sha-of-uploader".into(),
                fingerprint: parent.output.fingerprint(),
                details: endpoint(),
            }),
            unheld: false,
        },
    );
    let s = spec();
    inventory.temporary.insert(
        s.name.clone(),
        TemporaryRecord {
            access_key_id: "temp-key-id".into(),
            parent: "uploader".into(),
            parent_id: PARENT_ID.into(),
            issued_at: NOW - Duration::from_secs(5 * 3600),
            expires_at: NOW + Duration::from_secs(7 * 3600),
            scope: s.scope.clone(),
            output: Some(OutputRecord {
                path: s.output.file.clone(),
                ciphertext_sha256: "sha-of-partner".into(),
                fingerprint: s.output.fingerprint(),
                details: endpoint(),
            }),
        },
    );
    let facts = TemporaryFacts {
        outputs: BTreeMap::from([(
            s.name.clone(),
            OutputFact::Present {
                sha256: "sha-of-partner".into(),
            },
        )]),
        details: BTreeMap::from([(s.name.clone(), endpoint())]),
    };
    let token_outputs = BTreeMap::from([(
        "uploader".to_string(),
        OutputFact::Present {
            sha256: "sha-of-uploader".into(),
        },
    )]);
    World {
        desired: d,
        observed,
        inventory,
        facts,
        token_outputs,
    }
}

fn plan(w: &World) -> Plan {
    let details = BTreeMap::from([("uploader".to_string(), endpoint())]);
    diff(&Input {
        desired: &w.desired,
        observed: &w.observed,
        inventory: &w.inventory,
        outputs: &w.token_outputs,
        details: &details,
        now: NOW,
        skip_outputs: false,
        temporary: &w.facts,
    })
}

fn lines(p: &Plan) -> Vec<String> {
    p.steps.iter().map(step_line).collect()
}

const ISSUE: &str = "+ issue temporary partner-a-inbound (object-read-write on media-uploads/inbound/partner-a/, 12h)";

#[test]
fn a_credential_with_time_left_is_kept_and_shows_it() {
    let p = plan(&world());
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(p.unchanged, 3, "bucket, token, temporary credential");
    assert_eq!(
        p.temporary
            .iter()
            .map(super::super::super::temporary::kept_line)
            .collect::<Vec<_>>(),
        [
            "= temporary partner-a-inbound (object-read-write on media-uploads/inbound/partner-a/, 12h) (expires in 7h)"
        ]
    );
    assert_eq!(p.temporary[0].renew_at, NOW + Duration::from_secs(3 * 3600));
}

#[test]
fn issue_rules() {
    type Edit = fn(&mut World);
    let cases: Vec<(&str, Edit, Vec<String>)> = vec![
            (
                "never issued",
                |w| {
                    w.inventory.temporary.clear();
                },
                vec![ISSUE.into()],
            ),
            (
                "inside the refresh window",
                |w| {
                    let r = w.inventory.temporary.get_mut("partner-a-inbound").unwrap();
                    r.expires_at = NOW + Duration::from_secs(3 * 3600 + 59 * 60);
                },
                vec![format!("{ISSUE}: inside its refresh window (expires in 3h 59m)")],
            ),
            (
                "expired",
                |w| {
                    let r = w.inventory.temporary.get_mut("partner-a-inbound").unwrap();
                    r.expires_at = NOW - Duration::from_secs(60);
                },
                vec![format!("{ISSUE}: expired at 2026-11-23T11:59:00Z")],
            ),
            (
                "scope changed",
                |w| {
                    let r = w.inventory.temporary.get_mut("partner-a-inbound").unwrap();
                    r.scope.prefixes = vec!["inbound/".into()];
                },
                vec![format!(
                    "{ISSUE}: scope changed: prefixes +inbound/partner-a/ -inbound/"
                )],
            ),
            (
                "output missing",
                |w| {
                    w.facts
                        .outputs
                        .insert("partner-a-inbound".into(), OutputFact::Missing);
                },
                vec![format!("{ISSUE}: output file missing")],
            ),
            (
                "output altered",
                |w| {
                    w.facts.outputs.insert(
                        "partner-a-inbound".into(),
                        OutputFact::Present {
                            sha256: "edited".into(),
                        },
                    );
                },
                vec![format!("{ISSUE}: output file changed since it was written")],
            ),
            (
                "recipients changed",
                |w| {
                    w.desired.temporary_credentials[0].output.recipients = vec!["age1other".into()];
                },
                vec![format!("{ISSUE}: output recipients or format changed")],
            ),
            (
                "parent rolled in this pass: its roll first, then the credential",
                |w| {
                    w.token_outputs.insert("uploader".into(), OutputFact::Missing);
                },
                vec![
                    "↻ roll token uploader: output file missing".into(),
                    format!("{ISSUE}: its parent token uploader is rolled in this pass"),
                ],
            ),
            (
                "parent deleted out of band: created, then the credential",
                |w| {
                    w.observed.tokens.clear();
                },
                vec![
                    "+ create token uploader (object-read-write on media-uploads) -> uploader.env.age".into(),
                    format!("{ISSUE}: its parent token uploader is created in this pass"),
                ],
            ),
            (
                "parent rolled after the credential was issued",
                |w| {
                    w.inventory.tokens.get_mut("uploader").unwrap().rolled_at =
                        Some(NOW - Duration::from_secs(3600));
                },
                vec![format!(
                    "{ISSUE}: its parent token uploader was rolled or replaced since it was issued"
                )],
            ),
            (
                "parent replaced after the credential was issued",
                |w| {
                    w.inventory
                        .temporary
                        .get_mut("partner-a-inbound")
                        .unwrap()
                        .parent_id = "ffffffffffffffffffffffffffffffff".into();
                },
                vec![format!(
                    "{ISSUE}: its parent token uploader was rolled or replaced since it was issued"
                )],
            ),
            (
                "parent update may become a replacement",
                |w| {
                    // The file drops the parent's IP rules: an update with a fallback.
                    w.observed.tokens[0].condition.allow = vec!["203.0.113.0/24".parse().unwrap()];
                },
                vec![
                    "~ update token uploader: ip allow -203.0.113.0/24 (replaced if Cloudflare keeps the removed IP rules)".into(),
                    format!(
                        "{ISSUE}: only if the update of its parent token uploader becomes a replacement"
                    ),
                ],
            ),
        ];
    for (what, edit, want) in cases {
        let mut w = world();
        edit(&mut w);
        let p = plan(&w);
        assert_eq!(lines(&p), want, "{what}");
        assert!(p.blocked.is_empty(), "{what}: {:?}", p.blocked);
        assert!(p.temporary.is_empty(), "{what}: also kept");
    }
}

#[test]
fn an_issue_that_cannot_happen_is_blocked() {
    type Edit = fn(&mut World);
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "parent blocked",
            |w| {
                w.inventory.temporary.clear();
                w.desired.tokens[0].expires_on = Some(NOW - Duration::from_secs(1));
                w.observed.tokens[0].expires_on = Some(NOW - Duration::from_secs(1));
            },
            "its parent token uploader is blocked; nothing can be issued under it",
        ),
        (
            "output path refused by the writer",
            |w| {
                w.facts.outputs.insert(
                    "partner-a-inbound".into(),
                    OutputFact::Unreadable {
                        reason: "refusing to write through symlink 'partner-a.env.age'".into(),
                    },
                );
            },
            "output file partner-a.env.age cannot be checked: refusing to write through symlink 'partner-a.env.age'",
        ),
    ];
    for (what, edit, want) in cases {
        let mut w = world();
        edit(&mut w);
        let p = plan(&w);
        let ours: Vec<&Blocked> = p
            .blocked
            .iter()
            .filter(|b| b.kind == Kind::Temporary)
            .collect();
        assert_eq!(ours.len(), 1, "{what}: {:?}", p.blocked);
        assert_eq!(ours[0].reason, want, "{what}");
        assert!(
            !p.steps
                .iter()
                .any(|s| matches!(s, Step::IssueTemporary { .. })),
            "{what}"
        );
    }
}

/// A renewal between full passes: the same rules, with an empty observation and the
/// parents the last full pass vouched for.
fn renewal_plan(w: &World, vouched: &[&str]) -> Plan {
    let details = BTreeMap::new();
    let outputs = BTreeMap::new();
    let nothing = Observed {
        account_id: ACCT.into(),
        ..Observed::default()
    };
    crate::plan::diff::renewals(
        &Input {
            desired: &w.desired,
            observed: &nothing,
            inventory: &w.inventory,
            outputs: &outputs,
            details: &details,
            now: NOW,
            skip_outputs: false,
            temporary: &w.facts,
        },
        &vouched.iter().map(|v| v.to_string()).collect(),
    )
}

#[test]
fn a_renewal_between_full_passes_plans_only_the_credentials_by_the_same_rules() {
    type Edit = fn(&mut World);
    let due: Edit = |w| {
        let r = w.inventory.temporary.get_mut("partner-a-inbound").unwrap();
        r.expires_at = NOW + Duration::from_secs(3 * 3600 + 59 * 60);
    };
    let cases: Vec<(&str, Edit, Vec<String>)> = vec![
        ("time left", |_| {}, vec![]),
        (
            "inside the refresh window",
            due,
            vec![format!(
                "{ISSUE}: inside its refresh window (expires in 3h 59m)"
            )],
        ),
        (
            "output missing",
            |w| {
                w.facts
                    .outputs
                    .insert("partner-a-inbound".into(), OutputFact::Missing);
            },
            vec![format!("{ISSUE}: output file missing")],
        ),
        (
            "issued under another parent id",
            |w| {
                w.inventory
                    .temporary
                    .get_mut("partner-a-inbound")
                    .unwrap()
                    .parent_id = "ffffffffffffffffffffffffffffffff".into();
            },
            vec![format!(
                "{ISSUE}: its parent token uploader was rolled or replaced since it was issued"
            )],
        ),
    ];
    for (what, edit, want) in cases {
        let mut w = world();
        edit(&mut w);
        let p = renewal_plan(&w, &["uploader"]);
        assert_eq!(lines(&p), want, "{what}");
        assert_eq!(lines(&plan(&w)), want, "{what}: as a full pass plans it");
        assert!(p.blocked.is_empty() && p.refused.is_none(), "{what}");
    }
    // A parent the full pass did not vouch for (blocked, or not found): nothing issued.
    let mut w = world();
    due(&mut w);
    let p = renewal_plan(&w, &[]);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(
        p.blocked[0].reason,
        "its parent token uploader was not usable in the last full pass; nothing can be issued under it"
    );
}

#[test]
fn a_credential_no_longer_declared_is_forgotten_and_shown_never_revoked() {
    let mut w = world();
    w.desired.temporary_credentials.clear();
    let p = plan(&w);
    assert!(p.steps.is_empty());
    assert_eq!(
        p.bookkeeping,
        [Bookkeeping::ForgetTemporary {
            name: "partner-a-inbound".into()
        }]
    );
    assert_eq!(p.orphans.len(), 1);
    assert_eq!(p.orphans[0].kind, Kind::Temporary);
    assert!(
        p.orphans[0].reason.contains("cannot be revoked"),
        "{:?}",
        p.orphans
    );
}

#[test]
fn skip_outputs_plans_no_temporary_credential_even_one_that_is_due() {
    let mut w = world();
    w.facts.outputs.clear();
    w.inventory
        .temporary
        .get_mut("partner-a-inbound")
        .unwrap()
        .expires_at = NOW + Duration::from_secs(60);
    let details = BTreeMap::new();
    let p = diff(&Input {
        desired: &w.desired,
        observed: &w.observed,
        inventory: &w.inventory,
        outputs: &BTreeMap::new(),
        details: &details,
        now: NOW,
        skip_outputs: true,
        temporary: &w.facts,
    });
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert!(p.temporary.is_empty() && p.blocked.is_empty());
    w.inventory.temporary.clear();
    let p = plan(&w);
    assert_eq!(lines(&p), [ISSUE], "without --skip-outputs it is planned");
}
