//! Table tests of the diff rules. Worlds are built by hand: no file, no server, no clock.

mod bucket_config;
mod custom_domain;
mod notification;
mod rotation;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::config::{AdoptRolls, IpRules};
use crate::config::{
    BucketSpec, Jurisdiction, LocationHint, OutputFormat, Owner, StorageClass, TokenScope,
    TokenSpec,
};
use crate::fixtures::{ACCT, bucket, desired, token};
use crate::inventory::OutputRecord;
use crate::inventory::{BucketRecord, Inventory, TokenRecord};
use crate::observed::TokenField;
use crate::observed::{ObservedBucket, ObservedToken, PermissionGroupIds, TokenStatus};
use crate::plan::{Bookkeeping, BucketRef, DeleteReason, ReplaceReason, RollReason, Step};

pub(super) const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

pub(super) fn observed() -> Observed {
    Observed {
        account_id: ACCT.into(),
        buckets: Vec::new(),
        listed_jurisdictions: Jurisdiction::ALL.into_iter().collect(),
        tokens: Vec::new(),
        listed_owners: [Owner::Account, Owner::User].into_iter().collect(),
        permission_groups: PermissionGroupIds::known(),
        bucket_configs: Default::default(),
        zones: Default::default(),
        queues: None,
        own_token_id: None,
        state_parent_ids: Default::default(),
    }
}

fn obs_bucket(b: &BucketSpec) -> ObservedBucket {
    ObservedBucket {
        name: b.name.clone(),
        jurisdiction: b.jurisdiction,
        location: b.location_hint,
        storage_class: b.storage_class,
        creation_date: None,
    }
}

/// The token Cloudflare would hold after creating `t` as declared in `d`.
pub(super) fn obs_token(d: &Desired, t: &TokenSpec, id: &str) -> ObservedToken {
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

pub(super) fn sha(t: &TokenSpec) -> String {
    format!("sha-of-{}", t.name)
}

/// The inventory record and the output file of a token written as declared.
pub(super) fn written(t: &TokenSpec, id: &str) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        owner: t.owner,
        created_at: datetime!(2026-11-01 00:00 UTC),
        rolled_at: None,
        modified_on: None,
        output: Some(OutputRecord {
            path: t.output.file.clone(),
            ciphertext_sha256: sha(t),
            fingerprint: t.output.fingerprint(),
            details: details(t),
        }),
        unheld: false,
    }
}

/// A world where everything in `d` exists exactly as declared and was written by us.
pub(super) fn converged(d: &Desired) -> (Observed, Inventory, BTreeMap<String, OutputFact>) {
    let mut o = observed();
    let mut inv = Inventory::default();
    let mut outputs = BTreeMap::new();
    for b in &d.buckets {
        o.buckets.push(obs_bucket(b));
        inv.buckets.insert(
            (b.jurisdiction, b.name.clone()),
            BucketRecord::new(b.protect),
        );
    }
    for (i, t) in d.tokens.iter().enumerate() {
        let id = format!("{i:032x}");
        o.tokens.push(obs_token(d, t, &id));
        inv.tokens.insert(t.name.clone(), written(t, &id));
        outputs.insert(t.name.clone(), OutputFact::Present { sha256: sha(t) });
    }
    (o, inv, outputs)
}

/// What an output written now would show (the caller computes it from the endpoints).
fn details(t: &TokenSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "endpoint".to_string(),
            format!("https://{ACCT}.{}.example", t.jurisdiction.as_str()),
        ),
        (
            "jurisdiction".to_string(),
            t.jurisdiction.as_str().to_string(),
        ),
    ])
}

pub(super) fn run(
    d: &Desired,
    o: &Observed,
    inv: &Inventory,
    outputs: &BTreeMap<String, OutputFact>,
) -> Plan {
    let now: BTreeMap<String, BTreeMap<String, String>> = d
        .tokens
        .iter()
        .map(|t| (t.name.clone(), details(t)))
        .collect();
    diff(&Input {
        desired: d,
        observed: o,
        inventory: inv,
        outputs,
        details: &now,
        now: NOW,
        skip_outputs: false,

        temporary: &TemporaryFacts::default(),
    })
}

pub(super) fn lines(p: &Plan) -> Vec<String> {
    p.steps.iter().map(crate::plan::render::step_line).collect()
}

fn sample() -> Desired {
    let mut d = desired();
    d.buckets = vec![bucket("media"), bucket("logs")];
    d.tokens = vec![token("uploader", &["media"]), token("reader", &["logs"])];
    d
}

#[test]
fn an_empty_account_gets_every_bucket_then_every_token_created() {
    let d = sample();
    let p = run(&d, &observed(), &Inventory::default(), &BTreeMap::new());
    assert_eq!(
        lines(&p),
        [
            "+ create bucket media (default)",
            "+ create bucket logs (default)",
            "+ create token uploader (object-read-write on media) -> uploader.env.age",
            "+ create token reader (object-read-write on logs) -> reader.env.age",
        ]
    );
    assert_eq!(p.unchanged, 0);
    assert!(p.refused.is_none());
}

#[test]
fn second_pass_after_create_is_a_noop() {
    let d = sample();
    let (o, inv, outputs) = converged(&d);
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert!(p.blocked.is_empty() && p.orphans.is_empty() && p.bookkeeping.is_empty());
    assert_eq!(p.unchanged, 4);
}

#[test]
fn bucket_rules() {
    type Edit = fn(&mut BucketSpec, &mut ObservedBucket, &mut Inventory);
    let cases: Vec<(&str, Edit, Vec<&str>, Vec<&str>)> = vec![
        (
            "storage class differs -> update",
            |b, _, _| b.storage_class = StorageClass::InfrequentAccess,
            vec!["~ update bucket media: storage class Standard -> InfrequentAccess"],
            vec![],
        ),
        (
            "location differs -> blocked, never recreated",
            |b, o, _| {
                b.location_hint = Some(LocationHint::Weur);
                o.location = Some(LocationHint::Enam);
            },
            vec![],
            vec!["media: location is create-only (have enam, want weur)"],
        ),
        (
            "no location reported -> nothing to compare",
            |b, o, _| {
                b.location_hint = Some(LocationHint::Weur);
                o.location = None;
            },
            vec![],
            vec![],
        ),
        (
            "managed in eu, now declared default -> blocked, no create",
            |_, o, inv| {
                o.jurisdiction = Jurisdiction::Eu;
                inv.buckets.clear();
                inv.buckets
                    .insert((Jurisdiction::Eu, "media".into()), BucketRecord::new(false));
            },
            vec![],
            vec!["media: jurisdiction is create-only (have eu, want default)"],
        ),
        (
            "unmanaged bucket of the same name in eu -> create in default",
            |_, o, inv| {
                o.jurisdiction = Jurisdiction::Eu;
                inv.buckets.clear();
            },
            vec!["+ create bucket media (default)"],
            vec![],
        ),
    ];
    for (name, edit, want_lines, want_blocked) in cases {
        let mut d = desired();
        d.settings.prune = true;
        d.buckets = vec![bucket("media")];
        let (mut o, mut inv, outputs) = converged(&d);
        edit(&mut d.buckets[0], &mut o.buckets[0], &mut inv);
        let p = run(&d, &o, &inv, &outputs);
        assert_eq!(lines(&p), want_lines, "{name}");
        let blocked: Vec<String> = p
            .blocked
            .iter()
            .map(|b| format!("{}: {}", b.name, b.reason))
            .collect();
        assert_eq!(blocked, want_blocked, "{name}");
        assert_eq!(p.deletions(), 0, "{name}: a bucket is never replaced");
    }
}

#[test]
fn an_existing_declared_bucket_is_adopted_silently() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    let mut o = observed();
    o.buckets.push(obs_bucket(&d.buckets[0]));
    let p = run(&d, &o, &Inventory::default(), &BTreeMap::new());
    assert!(p.steps.is_empty());
    assert_eq!(p.unchanged, 1);
    assert_eq!(
        p.bookkeeping,
        [Bookkeeping::TrackBucket {
            bucket: BucketRef {
                jurisdiction: Jurisdiction::Default,
                name: "media".into()
            },
            protect: true
        }]
    );
}

#[test]
fn token_drift_is_updated_in_place_and_reordering_is_not_drift() {
    type Edit = fn(&mut ObservedToken);
    let cases: Vec<(&str, Edit, Option<&str>)> = vec![
        (
            "CIDRs listed in another order",
            |o| o.condition.allow.reverse(),
            None,
        ),
        (
            "timestamps with sub-second noise",
            |o| o.expires_on = Some(datetime!(2027-06-30 00:00:00.5 UTC)),
            None,
        ),
        (
            "a bucket added out of band",
            |o| {
                let key = crate::plan::policy::bucket_key(ACCT, Jurisdiction::Default, "logs");
                o.policies[0]
                    .resources
                    .insert(key, crate::observed::ResourceValue::Str("*".into()));
            },
            Some(
                "~ update token uploader: buckets -logs, loses Workers R2 Storage Bucket Item Write on bucket logs",
            ),
        ),
        (
            "access downgraded out of band",
            |o| {
                o.policies[0].permission_groups = [PermissionGroupIds::known().object_read].into();
            },
            Some("~ update token uploader: access object-read -> object-read-write"),
        ),
        (
            "a foreign resource",
            |o| {
                o.policies[0].resources.insert(
                    "com.cloudflare.api.account.zone.1".into(),
                    crate::observed::ResourceValue::Str("*".into()),
                );
            },
            Some(
                "~ update token uploader: policies differ from the declaration (edited out of band), loses Workers R2 Storage Bucket Item Write on com.cloudflare.api.account.zone.1",
            ),
        ),
        (
            "disabled",
            |o| o.status = TokenStatus::Disabled,
            Some("~ update token uploader: status disabled -> active"),
        ),
        (
            "ip rule added",
            |o| o.condition.allow.push("198.51.100.0/24".parse().unwrap()),
            Some("~ update token uploader: ip allow -198.51.100.0/24"),
        ),
        (
            "expiry changed out of band",
            |o| o.expires_on = Some(datetime!(2027-01-01 00:00 UTC)),
            Some(
                "~ update token uploader: expires_on 2027-01-01T00:00:00Z -> 2027-06-30T00:00:00Z",
            ),
        ),
        (
            "renamed out of band (found by its inventory id)",
            |o| o.name = "someone-renamed-it".into(),
            Some("~ update token uploader: name 'someone-renamed-it' -> 'r2gitops:uploader'"),
        ),
    ];
    for (name, edit, want) in cases {
        let mut d = desired();
        d.buckets = vec![bucket("media"), bucket("logs")];
        d.tokens = vec![token("uploader", &["media"])];
        d.tokens[0].expires_on = Some(datetime!(2027-06-30 00:00 UTC));
        d.tokens[0].ip.allow = vec![
            "10.0.0.0/8".parse().unwrap(),
            "192.0.2.0/24".parse().unwrap(),
        ];
        let (mut o, inv, outputs) = converged(&d);
        edit(&mut o.tokens[0]);
        let p = run(&d, &o, &inv, &outputs);
        let want: Vec<&str> = want.into_iter().collect();
        assert_eq!(lines(&p), want, "{name}");
        if let Some(Step::UpdateToken { id, request, .. }) = p.steps.first() {
            assert_eq!(id, &o.tokens[0].id, "{name}: updated in place");
            assert_eq!(request.status, Some(TokenStatus::Active), "{name}");
        }
    }
}

#[test]
fn declared_changes_show_as_updates() {
    let mut d = desired();
    d.buckets = vec![bucket("media"), bucket("logs")];
    d.tokens = vec![token("uploader", &["media"])];
    let (o, inv, outputs) = converged(&d);
    d.tokens[0].scope = TokenScope::Buckets(vec!["media".into(), "logs".into()]);
    d.tokens[0].ip.allow = vec!["203.0.113.0/24".parse().unwrap()];
    d.tokens[0].not_before = Some(datetime!(2026-12-01 00:00 UTC));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "~ update token uploader: buckets +logs, not_before (none) -> 2026-12-01T00:00:00Z, ip allow +203.0.113.0/24"
        ]
    );
}

#[test]
fn roll_reasons() {
    type Edit = fn(&mut TokenSpec, &mut Inventory, &mut BTreeMap<String, OutputFact>);
    let cases: Vec<(&str, Edit, Option<&str>)> = vec![
        ("all as written", |_, _, _| {}, None),
        (
            "inventory lost",
            |_, inv, _| inv.tokens.clear(),
            Some(
                "no record of its output (a new or lost inventory, or an interrupted write); any secret in use stops working",
            ),
        ),
        (
            "create answered, write never happened",
            |_, inv, _| inv.tokens.get_mut("uploader").unwrap().output = None,
            Some(
                "no record of its output (a new or lost inventory, or an interrupted write); any secret in use stops working",
            ),
        ),
        (
            "file deleted",
            |_, _, out| {
                out.insert("uploader".into(), OutputFact::Missing);
            },
            Some("output file missing"),
        ),
        (
            "file edited",
            |_, _, out| {
                out.insert(
                    "uploader".into(),
                    OutputFact::Present {
                        sha256: "other".into(),
                    },
                );
            },
            Some("output file changed since it was written"),
        ),
        (
            "output path changed in the file",
            |t, _, _| t.output.file = "moved/uploader.env.age".into(),
            Some("output file moved (was uploader.env.age)"),
        ),
        (
            "recipients changed",
            |t, _, _| t.output.recipients.push("age1another".into()),
            Some("output recipients or format changed"),
        ),
        (
            "format changed",
            |t, _, _| t.output.format = OutputFormat::Json,
            Some("output recipients or format changed"),
        ),
        (
            "rotation due",
            |t, _, _| t.rotate_every = Some(Duration::from_secs(7 * 86400)),
            Some("rotate_every elapsed (value issued 2026-11-01T00:00:00Z)"),
        ),
        (
            "rotation not yet due after a recent roll",
            |t, inv, _| {
                t.rotate_every = Some(Duration::from_secs(7 * 86400));
                inv.tokens.get_mut("uploader").unwrap().rolled_at =
                    Some(datetime!(2026-11-20 00:00 UTC));
            },
            None,
        ),
    ];
    for (name, edit, want) in cases {
        let mut d = desired();
        d.buckets = vec![bucket("media")];
        d.tokens = vec![token("uploader", &["media"])];
        let (o, mut inv, mut outputs) = converged(&d);
        edit(&mut d.tokens[0], &mut inv, &mut outputs);
        let p = run(&d, &o, &inv, &outputs);
        let got: Vec<String> = p
            .steps
            .iter()
            .map(|s| match s {
                Step::RollToken { reason, id, .. } => {
                    assert_eq!(id, &o.tokens[0].id, "{name}: same key id");
                    reason.describe()
                }
                other => panic!("{name}: unexpected {other:?}"),
            })
            .collect();
        let want: Vec<String> = want.into_iter().map(String::from).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn recipient_order_is_not_a_change() {
    let mut d = desired();
    d.tokens = vec![token("t", &["b"])];
    d.buckets = vec![bucket("b")];
    d.tokens[0].output.recipients = vec!["age1a".into(), "age1b".into()];
    let (o, inv, outputs) = converged(&d);
    d.tokens[0].output.recipients = vec!["age1b".into(), "age1a".into()];
    assert!(run(&d, &o, &inv, &outputs).steps.is_empty());
}

#[test]
fn an_unreadable_output_blocks_and_skip_outputs_plans_no_roll() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    let (o, mut inv, mut outputs) = converged(&d);
    outputs.insert(
        "uploader".into(),
        OutputFact::Unreadable {
            reason: "it is a symlink".into(),
        },
    );
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty());
    assert_eq!(
        p.blocked[0].reason,
        "output file uploader.env.age cannot be checked: it is a symlink"
    );

    // Not created either: the new value could not be delivered.
    let p = run(&d, &observed(), &Inventory::default(), &outputs);
    assert_eq!(lines(&p), ["+ create bucket media (default)"]);
    assert_eq!(p.blocked.len(), 1);
    assert_eq!(p.blocked[0].name, "uploader");

    inv.tokens.clear();
    let p = diff(&Input {
        desired: &d,
        observed: &o,
        inventory: &inv,
        outputs: &BTreeMap::new(),
        details: &BTreeMap::new(),
        now: NOW,
        skip_outputs: true,

        temporary: &TemporaryFacts::default(),
    });
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert!(p.skip_outputs);
}

#[test]
fn duplicates_keep_the_inventory_id_else_the_oldest() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    let (mut o, mut inv, outputs) = converged(&d);
    let mut newer = obs_token(&d, &d.tokens[0], "ffffffffffffffffffffffffffffffff");
    newer.issued_on = Some(datetime!(2026-11-10 00:00 UTC));
    let mut older = obs_token(&d, &d.tokens[0], "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    older.issued_on = Some(datetime!(2026-10-01 00:00 UTC));
    o.tokens.push(newer);
    o.tokens.push(older);

    // The inventory's id wins, whatever the age.
    let p = run(&d, &o, &inv, &outputs);
    let deleted: Vec<(&str, &DeleteReason)> = p
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::DeleteToken { id, reason, .. } => Some((id.as_str(), reason)),
            _ => None,
        })
        .collect();
    let kept = o.tokens[0].id.clone();
    assert_eq!(
        deleted,
        [
            (
                "ffffffffffffffffffffffffffffffff",
                &DeleteReason::Duplicate { kept: kept.clone() }
            ),
            (
                "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                &DeleteReason::Duplicate { kept }
            ),
        ]
    );
    assert_eq!(p.steps.len(), 2, "the kept token is as declared");

    // Without an inventory: the oldest stays, is adopted, and rolled (its output is unknown).
    inv.tokens.clear();
    let p = run(&d, &o, &inv, &outputs);
    let kept: Vec<&str> = p
        .bookkeeping
        .iter()
        .filter_map(|b| match b {
            Bookkeeping::AdoptToken { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(kept, ["eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"]);
    assert_eq!(p.deletions(), 2);
    assert!(p.steps.iter().any(|s| matches!(
        s,
        Step::RollToken { id, reason: RollReason::OutputUnrecorded, .. } if id == "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
    )));
}

#[test]
fn undeclared_tokens_are_pruned_only_when_asked_and_unmanaged_ones_never() {
    for prune in [false, true] {
        let mut d = desired();
        d.settings.prune = prune;
        d.buckets = vec![bucket("media")];
        d.tokens = vec![token("uploader", &["media"]), token("old-ci", &["media"])];
        let (mut o, inv, outputs) = converged(&d);
        let mut foreign = obs_token(&d, &d.tokens[0], "abababababababababababababababab");
        foreign.name = "ci-deploy".into();
        o.tokens.push(foreign);
        d.tokens.pop();
        let p = run(&d, &o, &inv, &outputs);
        if prune {
            assert_eq!(
                lines(&p),
                [format!(
                    "- delete token old-ci ({}): no longer declared (prune); its output old-ci.env.age is removed",
                    o.tokens[1].id
                )]
            );
            assert!(p.orphans.is_empty());
        } else {
            assert!(p.steps.is_empty());
            assert_eq!(p.orphans.len(), 1);
            assert_eq!(p.orphans[0].name, "r2gitops:old-ci");
        }
        assert!(
            !p.steps
                .iter()
                .any(|s| matches!(s, Step::DeleteToken { name, .. } if name == "ci-deploy")),
            "an unmanaged token is never touched"
        );
    }
}

#[test]
fn undeclared_buckets() {
    // (prune, in inventory, last protect, still exists) -> outcome
    let cases = [
        (true, true, false, true, "delete"),
        (true, true, true, true, "orphan"),
        (false, true, false, true, "orphan"),
        (true, false, false, true, "untouched"),
        (true, true, false, false, "forget"),
    ];
    for (prune, managed, protect, exists, want) in cases {
        let mut d = desired();
        d.settings.prune = prune;
        d.buckets = vec![bucket("keep")];
        let (mut o, mut inv, outputs) = converged(&d);
        if exists {
            o.buckets.push(obs_bucket(&bucket("gone")));
        }
        if managed {
            inv.buckets.insert(
                (Jurisdiction::Default, "gone".into()),
                BucketRecord::new(protect),
            );
        }
        let p = run(&d, &o, &inv, &outputs);
        let got = if p
            .steps
            .iter()
            .any(|s| matches!(s, Step::DeleteBucket { .. }))
        {
            "delete"
        } else if !p.orphans.is_empty() {
            "orphan"
        } else if p
            .bookkeeping
            .iter()
            .any(|b| matches!(b, Bookkeeping::ForgetBucket { .. }))
        {
            "forget"
        } else {
            "untouched"
        };
        assert_eq!(
            got, want,
            "prune={prune} managed={managed} protect={protect} exists={exists}"
        );
        assert_eq!(p.steps.len(), usize::from(want == "delete"));
    }
}

#[test]
fn more_deletions_than_max_deletions_refuse_the_plan() {
    let mut d = desired();
    d.settings.prune = true;
    d.settings.max_deletions = 2;
    d.buckets = vec![bucket("media")];
    d.tokens = (0..3)
        .map(|i| token(&format!("t{i}"), &["media"]))
        .collect();
    let (o, inv, outputs) = converged(&d);
    d.tokens.clear();
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(p.deletions(), 3);
    assert!(
        p.refused
            .as_deref()
            .unwrap()
            .starts_with("the plan deletes 3 objects, more than settings.max_deletions (2)")
    );
    d.settings.max_deletions = 3;
    assert!(run(&d, &o, &inv, &outputs).refused.is_none());
}

#[test]
fn tokens_wait_for_their_buckets_and_go_before_buckets_are_deleted() {
    let mut d = desired();
    d.settings.prune = true;
    d.buckets = vec![bucket("old")];
    d.buckets[0].protect = false;
    d.tokens = vec![token("old-user", &["old"])];
    let (o, inv, outputs) = converged(&d);
    d.buckets = vec![bucket("new")];
    d.tokens = vec![token("new-user", &["new"])];
    let p = run(&d, &o, &inv, &outputs);
    let order: Vec<(&str, &str, &str)> = p
        .steps
        .iter()
        .map(|s| (s.action(), s.kind().as_str(), s.object_name()))
        .collect();
    assert_eq!(
        order,
        [
            ("create", "bucket", "new"),
            ("delete", "token", "old-user"),
            ("create", "token", "new-user"),
            ("delete", "bucket", "old"),
        ]
    );
}

#[test]
fn an_owner_change_creates_under_the_new_owner_and_orphans_the_old_token() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    let (o, inv, outputs) = converged(&d);
    d.tokens[0].owner = Owner::User;
    let p = run(&d, &o, &inv, &outputs);
    assert!(matches!(
        p.steps.as_slice(),
        [Step::CreateToken {
            owner: Owner::User,
            ..
        }]
    ));
    assert_eq!(p.orphans.len(), 1);
}

#[test]
fn a_declared_expiry_that_has_passed_blocks_the_token_and_sends_nothing() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    d.tokens[0].expires_on = Some(datetime!(2026-11-01 00:00 UTC));
    let want = "the declared expiry has passed (expires_on 2026-11-01T00:00:00Z); declare a later expires_on";

    // Missing: not created (it would be born dead, and again on every pass).
    let p = run(&d, &observed(), &Inventory::default(), &BTreeMap::new());
    assert_eq!(lines(&p), ["+ create bucket media (default)"]);
    assert_eq!(p.blocked[0].reason, want);

    // Present and expired, with a duplicate and a missing output: no update, roll or delete.
    let (mut o, inv, _) = converged(&d);
    o.tokens[0].status = TokenStatus::Expired;
    let mut dup = o.tokens[0].clone();
    dup.id = "d".repeat(32);
    o.tokens.push(dup);
    let p = run(&d, &o, &inv, &BTreeMap::new());
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(p.blocked.len(), 1);
    assert_eq!(p.blocked[0].reason, want);
    assert!(
        p.orphans.is_empty(),
        "the duplicate is claimed, not orphaned"
    );
}

#[test]
fn an_expired_token_with_a_later_declared_expiry_is_updated_and_replaced_if_it_stays_expired() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    d.tokens[0].expires_on = Some(datetime!(2026-11-01 00:00 UTC));
    let (mut o, inv, outputs) = converged(&d);
    o.tokens[0].status = TokenStatus::Expired;
    d.tokens[0].expires_on = Some(datetime!(2027-11-01 00:00 UTC));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "~ update token uploader: expires_on 2026-11-01T00:00:00Z -> 2027-11-01T00:00:00Z, status expired -> active (replaced if Cloudflare keeps it expired)"
        ]
    );
    let Step::UpdateToken {
        fallback, request, ..
    } = &p.steps[0]
    else {
        panic!()
    };
    assert_eq!(*fallback, Some(ReplaceReason::StaysExpired));
    assert_eq!(request.status, Some(TokenStatus::Active));
}

#[test]
fn a_token_revoked_as_exposed_is_replaced_and_never_re_enabled() {
    let d = sample();
    let (mut o, inv, outputs) = converged(&d);
    o.tokens[0].status = TokenStatus::RevokedExposed;
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        ["± replace token uploader: Cloudflare revoked it as exposed"]
    );
    let Step::ReplaceToken {
        old_id,
        request,
        output,
        ..
    } = &p.steps[0]
    else {
        panic!()
    };
    assert_eq!(old_id, &o.tokens[0].id);
    assert_eq!(request.name, "r2gitops:uploader");
    assert_eq!(output, &PathBuf::from("uploader.env.age"));
    assert_eq!(p.summary().replace, 1);
    assert_eq!(p.deletions(), 0, "a replacement is not a deletion");
}

#[test]
fn an_unknown_status_is_blocked_with_its_words_and_never_read_as_disabled() {
    let d = sample();
    let (mut o, inv, outputs) = converged(&d);
    o.tokens[0].status = TokenStatus::Other("suspended (billing)".into());
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(
        p.blocked[0].reason,
        "Cloudflare reports status 'suspended (billing)', which r2gitops does not know; nothing is changed"
    );
}

#[test]
fn removing_a_restriction_updates_with_a_replace_fallback_until_cloudflare_is_known_to_keep_it() {
    type Edit = fn(&mut TokenSpec);
    // (what the token had, what the update line says, the field)
    let cases: Vec<(Edit, &str, TokenField)> = vec![
        (
            |t| {
                t.ip = IpRules {
                    allow: vec!["10.0.0.0/8".parse().unwrap()],
                    deny: vec![],
                }
            },
            "~ update token uploader: ip allow -10.0.0.0/8 (replaced if Cloudflare keeps the removed IP rules)",
            TokenField::IpRules,
        ),
        (
            |t| t.expires_on = Some(datetime!(2027-01-01 00:00 UTC)),
            "~ update token uploader: expires_on 2027-01-01T00:00:00Z -> (none) (replaced if Cloudflare keeps the removed expires_on)",
            TokenField::ExpiresOn,
        ),
        (
            |t| t.not_before = Some(datetime!(2026-01-01 00:00 UTC)),
            "~ update token uploader: not_before 2026-01-01T00:00:00Z -> (none) (replaced if Cloudflare keeps the removed not_before)",
            TokenField::NotBefore,
        ),
    ];
    for (had, line, field) in cases {
        let mut before = sample();
        had(&mut before.tokens[0]);
        let (o, mut inv, outputs) = converged(&before);
        let now = sample();
        let p = run(&now, &o, &inv, &outputs);
        assert_eq!(lines(&p), [line]);

        inv.learned.keeps_removed.insert(field);
        let p = run(&now, &o, &inv, &outputs);
        let replace = format!(
            "± replace token uploader: {}",
            ReplaceReason::KeepsRemoved(field).describe()
        );
        assert_eq!(lines(&p), [replace], "learned: {field:?}");
    }
    assert_eq!(
        ReplaceReason::KeepsRemoved(TokenField::IpRules).describe(),
        "Cloudflare keeps IP rules that the file removed"
    );
}

#[test]
fn changing_ip_rules_without_removing_them_needs_no_fallback() {
    let mut before = sample();
    before.tokens[0].ip.allow = vec!["10.0.0.0/8".parse().unwrap()];
    let (o, mut inv, outputs) = converged(&before);
    inv.learned.keeps_removed.insert(TokenField::IpRules);
    let mut now = sample();
    now.tokens[0].ip.allow = vec!["10.1.0.0/16".parse().unwrap()];
    let p = run(&now, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        ["~ update token uploader: ip allow +10.1.0.0/16 -10.0.0.0/8"]
    );
}

#[test]
fn a_refused_storage_class_change_is_blocked_for_a_day_then_tried_again() {
    let mut d = desired();
    d.buckets = vec![bucket("cold")];
    let (mut o, mut inv, outputs) = converged(&d);
    d.buckets[0].storage_class = StorageClass::InfrequentAccess;
    let refused_at = NOW - time::Duration::hours(2);
    inv.buckets
        .get_mut(&(Jurisdiction::Default, "cold".into()))
        .unwrap()
        .storage_class_refused = Some(crate::inventory::Refusal {
        to: StorageClass::InfrequentAccess,
        at: refused_at,
        detail: "HTTP 405, code 7001: Method not allowed".into(),
    });
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(
        p.blocked[0].reason,
        "Cloudflare refused to change the storage class to InfrequentAccess (HTTP 405, code 7001: Method not allowed) at 2026-11-23T10:00:00Z; r2gitops tries again after 2026-11-24T10:00:00Z"
    );
    let later = diff(&Input {
        desired: &d,
        observed: &o,
        inventory: &inv,
        outputs: &outputs,
        details: &BTreeMap::new(),
        now: NOW + time::Duration::days(1),
        skip_outputs: false,

        temporary: &TemporaryFacts::default(),
    });
    assert_eq!(
        lines(&later),
        ["~ update bucket cold: storage class Standard -> InfrequentAccess"]
    );
    // A refusal of another target does not block this one.
    o.buckets[0].storage_class = StorageClass::InfrequentAccess;
    d.buckets[0].storage_class = StorageClass::Standard;
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        ["~ update bucket cold: storage class InfrequentAccess -> Standard"]
    );
}

#[test]
fn a_detail_the_output_shows_that_changed_rolls_the_token_and_says_which() {
    let d = sample();
    let (o, mut inv, outputs) = converged(&d);
    let record = inv.tokens.get_mut("uploader").unwrap();
    let out = record.output.as_mut().unwrap();
    out.details
        .insert("endpoint".into(), "http://127.0.0.1:9000".into());
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [format!(
            "↻ roll token uploader: output endpoint changed (http://127.0.0.1:9000→https://{ACCT}.default.example)"
        )]
    );
    assert_eq!(
        crate::plan::render::step_json(&p.steps[0])["reason"],
        "output_detail_changed"
    );

    // A record from before details were kept knows nothing to differ: no roll.
    let (o, mut inv, outputs) = converged(&d);
    for r in inv.tokens.values_mut() {
        r.output.as_mut().unwrap().details.clear();
    }
    assert!(run(&d, &o, &inv, &outputs).steps.is_empty());
}

#[test]
fn an_edited_bucket_list_updates_the_token_and_never_rolls_it() {
    let d = sample();
    let (o, inv, outputs) = converged(&d);
    let mut edited = sample();
    edited.buckets.push(bucket("extra"));
    edited.tokens[0].scope = TokenScope::Buckets(vec!["media".into(), "extra".into()]);
    let p = run(&edited, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "+ create bucket extra (default)",
            "~ update token uploader: buckets +extra"
        ]
    );
}

#[test]
fn a_token_changed_elsewhere_after_our_last_write_is_rolled() {
    let d = sample();
    let (mut o, mut inv, outputs) = converged(&d);
    let ours = datetime!(2026-11-20 10:00 UTC);
    for r in inv.tokens.values_mut() {
        r.modified_on = Some(ours);
    }
    for t in &mut o.tokens {
        t.modified_on = Some(ours);
    }
    assert!(
        run(&d, &o, &inv, &outputs).steps.is_empty(),
        "ours: no roll"
    );
    // Someone rolled (or edited) the uploader in the dashboard.
    o.tokens[0].modified_on = Some(datetime!(2026-11-22 08:00 UTC));
    assert_eq!(
        lines(&run(&d, &o, &inv, &outputs)),
        [
            "↻ roll token uploader: changed outside r2gitops at 2026-11-22T08:00:00Z (a roll there would leave its output dead)"
        ]
    );
    // Unknown on either side: nothing can be concluded.
    inv.tokens.get_mut("uploader").unwrap().modified_on = None;
    assert!(run(&d, &o, &inv, &outputs).steps.is_empty());
}

/// A hand-made token for `t`'s declaration, under a dashboard name, with no IP rules.
fn hand_made(d: &Desired, t: &TokenSpec, id: &str) -> ObservedToken {
    let mut o = obs_token(d, t, id);
    o.name = "backup reader (made by hand)".into();
    o
}

fn adopting(t: &mut TokenSpec, id: &str) {
    t.adopt = Some(crate::config::Adopt {
        id: id.into(),
        line: 7,
        column: 12,
    });
}

const HAND: &str = "3f2a0000000000000000000000000000";

#[test]
fn adopting_without_the_value_is_blocked_unless_rolls_are_allowed() {
    for prune in [false, true] {
        let mut d = desired();
        d.settings.prune = prune;
        d.buckets = vec![bucket("backups")];
        let mut t = token("backup-reader", &["backups"]);
        adopting(&mut t, HAND);
        d.tokens = vec![t];
        let (mut o, inv, outputs) = converged(&Desired {
            tokens: Vec::new(),
            ..d.clone()
        });
        o.tokens.push(hand_made(&d, &d.tokens[0], HAND));
        let p = run(&d, &o, &inv, &outputs);
        assert!(p.steps.is_empty(), "{:?}", lines(&p));
        assert!(
            p.bookkeeping.is_empty(),
            "nothing recorded: the next pass must ask again"
        );
        assert_eq!(p.blocked.len(), 1);
        assert!(
            p.blocked[0]
                .reason
                .contains("r2gitops adopt backup-reader --value-from-stdin")
                && p.blocked[0].reason.contains("--allow-adopt-roll"),
            "{}",
            p.blocked[0].reason
        );
    }
}

#[test]
fn adopting_by_roll_renames_corrects_and_rolls_within_the_operators_cap() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 1 };
    d.buckets = vec![bucket("backups")];
    let mut t = token("backup-reader", &["backups"]);
    adopting(&mut t, HAND);
    t.ip.allow = vec!["10.0.0.0/8".parse().unwrap()];
    d.tokens = vec![t];
    let (mut o, inv, outputs) = converged(&Desired {
        tokens: Vec::new(),
        ..d.clone()
    });
    let mut hand = hand_made(&d, &d.tokens[0], HAND);
    hand.condition = IpRules::default();
    o.tokens.push(hand);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "~ update token backup-reader: name 'backup reader (made by hand)' -> 'r2gitops:backup-reader', ip allow +10.0.0.0/8".to_string(),
            format!(
                "↻ adopt token backup-reader ({HAND}): roll required to issue its credentials (existing S3 keys stop working)"
            ),
        ]
    );
    assert!(matches!(
        &p.bookkeeping[..],
        [Bookkeeping::AdoptToken { token, id, .. }] if token == "backup-reader" && id == HAND
    ));
    assert!(p.refused.is_none());

    // The file's max_deletions has no say (a committer could raise it); the operator's
    // cap does.
    d.settings.max_deletions = 0;
    assert!(run(&d, &o, &inv, &outputs).refused.is_none());
    d.adopt_rolls = AdoptRolls::Allowed { max: 0 };
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        p.refused.as_deref(),
        Some(
            "the plan rolls 1 adopted tokens whose S3 keys are in use, more than --max-adopt-rolls (0); nothing will be applied (raise --max-adopt-rolls, or hand values over with r2gitops adopt NAME --value-from-stdin)"
        )
    );
}

#[test]
fn adopting_the_daemons_own_token_or_one_the_file_cannot_express_refuses_the_plan() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 10 };
    d.buckets = vec![bucket("backups")];
    let mut t = token("backup-reader", &["backups"]);
    adopting(&mut t, HAND);
    d.tokens = vec![t];
    let (mut o, mut inv, outputs) = converged(&Desired {
        tokens: Vec::new(),
        ..d.clone()
    });
    let at = "r2gitops.yaml:7:12: tokens[0].adopt";

    // r2gitops' own token: observe never lists it, and the plan says why it is refused,
    // even where an inventory records it for this very name.
    o.own_token_id = Some(HAND.into());
    let own = format!(
        "{at}: token {HAND} is the API token r2gitops itself calls Cloudflare with (verify names it); taking it over would rewrite or roll r2gitops' own access, so no file may adopt it"
    );
    for recorded in [false, true] {
        if recorded {
            inv.tokens
                .insert("backup-reader".into(), written(&d.tokens[0], HAND));
        }
        let p = run(&d, &o, &inv, &outputs);
        assert_eq!(
            p.refused.as_deref(),
            Some(own.as_str()),
            "recorded: {recorded}"
        );
        assert!(p.steps.is_empty(), "{:?}", lines(&p));
    }
    inv.tokens.clear();
    o.own_token_id = Some("ffff0000000000000000000000000000".into());

    // A CI token that can also edit Workers scripts: no declaration says that.
    let mut ci = hand_made(&d, &d.tokens[0], HAND);
    ci.policies[0]
        .permission_groups
        .insert("e086da7e2179491d91ee5f35b3ca210a".into());
    o.tokens.push(ci);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        p.refused.as_deref(),
        Some(
            format!(
                "{at}: token {HAND} holds what no declaration can say (permission groups or resources other than R2's (another service, zone or account)); adopting it would drop that, so r2gitops leaves it alone"
            )
            .as_str()
        )
    );
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
}

#[test]
fn an_adopted_tokens_update_names_the_permissions_it_loses() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 1 };
    d.buckets = vec![bucket("backups"), bucket("logs")];
    let mut t = token("backup-reader", &["backups"]);
    t.access = crate::config::Access::ObjectRead;
    adopting(&mut t, HAND);
    d.tokens = vec![t];
    let (mut o, inv, outputs) = converged(&Desired {
        tokens: Vec::new(),
        ..d.clone()
    });
    // By hand: read-write on backups and logs.
    let mut wide = d.tokens[0].clone();
    wide.access = crate::config::Access::ObjectReadWrite;
    wide.scope = crate::config::TokenScope::Buckets(vec!["backups".into(), "logs".into()]);
    let mut hand = hand_made(&d, &wide, HAND);
    hand.condition = IpRules::default();
    o.tokens.push(hand);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p)[0],
        "~ update token backup-reader: name 'backup reader (made by hand)' -> 'r2gitops:backup-reader', access object-read-write -> object-read, buckets -logs, loses Workers R2 Storage Bucket Item Write on bucket backups, bucket logs"
    );
}

#[test]
fn after_adopt_recorded_the_value_the_plan_only_renames_and_corrects() {
    let mut d = desired();
    d.buckets = vec![bucket("backups")];
    let mut t = token("backup-reader", &["backups"]);
    adopting(&mut t, HAND);
    d.tokens = vec![t];
    let (mut o, mut inv, outputs) = converged(&d);
    o.tokens = vec![hand_made(&d, &d.tokens[0], HAND)];
    inv.tokens
        .insert("backup-reader".into(), written(&d.tokens[0], HAND));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "~ update token backup-reader: name 'backup reader (made by hand)' -> 'r2gitops:backup-reader'"
        ]
    );
    assert!(p.blocked.is_empty() && p.bookkeeping.is_empty());

    // Renamed: `adopt:` may stay, and changes nothing.
    o.tokens[0].name = "r2gitops:backup-reader".into();
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty() && p.blocked.is_empty() && p.refused.is_none());
    assert_eq!(p.unchanged, 2);
}

#[test]
fn adopting_an_unknown_or_already_managed_token_refuses_the_plan_with_the_line() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 1 };
    d.settings.prune = true;
    d.buckets = vec![bucket("backups")];
    d.tokens = vec![
        token("uploader", &["backups"]),
        token("backup-reader", &["backups"]),
    ];
    let (o, inv, outputs) = converged(&d);
    let uploader_id = o.tokens[0].id.clone();
    let cases = [
        (
            "ffff0000000000000000000000000000".to_string(),
            format!(
                "r2gitops.yaml:7:12: tokens[1].adopt: no account token with id ffff0000000000000000000000000000 in account {ACCT}"
            ),
        ),
        (
            uploader_id.clone(),
            format!(
                "r2gitops.yaml:7:12: tokens[1].adopt: token {uploader_id} is already managed as 'uploader'"
            ),
        ),
    ];
    for (id, want) in cases {
        let mut d = d.clone();
        adopting(&mut d.tokens[1], &id);
        let p = run(&d, &o, &inv, &outputs);
        let refused = p.refused.clone().unwrap_or_default();
        assert!(refused.starts_with(&want), "{refused}");
        assert!(
            !p.steps.iter().any(|s| s.is_delete()),
            "the entry's own token is never pruned: {:?}",
            lines(&p)
        );
    }
}

#[test]
fn a_kept_token_shows_when_it_is_next_rotated_and_a_rolled_one_does_not() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("kept", &["media"]), token("due", &["media"])];
    let week = Duration::from_secs(7 * 86400);
    d.tokens[0].rotate_every = Some(week);
    d.tokens[1].rotate_every = Some(week);
    let (o, mut inv, outputs) = converged(&d);
    inv.tokens.get_mut("kept").unwrap().rolled_at = Some(datetime!(2026-11-20 06:00 UTC));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        ["↻ roll token due: rotate_every elapsed (value issued 2026-11-01T00:00:00Z)"]
    );
    assert_eq!(
        p.rotations,
        [crate::plan::NextRotation {
            token: "kept".into(),
            id: o.tokens[0].id.clone(),
            every: week,
            due: datetime!(2026-11-27 06:00 UTC),
        }]
    );
    assert_eq!(crate::plan::NextRotation::of(&d, &inv)[0], p.rotations[0]);
}

#[test]
fn a_token_another_file_manages_is_never_pruned_or_orphaned_only_shown() {
    // (prune, recorded in this inventory) -> (deleted, orphaned, shown as elsewhere)
    let cases = [
        (true, false, (false, false, true)),
        (false, false, (false, false, true)),
        (true, true, (true, false, false)),
        (false, true, (false, true, false)),
    ];
    for (prune, recorded, want) in cases {
        let mut d = desired();
        d.settings.prune = prune;
        d.buckets = vec![bucket("media")];
        d.tokens = vec![token("uploader", &["media"])];
        let (mut o, mut inv, outputs) = converged(&d);
        let theirs = token("assets-writer", &["media"]);
        let id = "abababababababababababababababab";
        o.tokens.push(obs_token(&d, &theirs, id));
        if recorded {
            inv.tokens.insert(theirs.name.clone(), written(&theirs, id));
        }
        let p = run(&d, &o, &inv, &outputs);
        let deleted = p
            .steps
            .iter()
            .any(|s| matches!(s, Step::DeleteToken { id: i, .. } if i == id));
        let got = (deleted, !p.orphans.is_empty(), !p.elsewhere.is_empty());
        assert_eq!(got, want, "prune={prune} recorded={recorded}: {p:?}");
        if !recorded {
            assert_eq!(p.steps, [], "nothing is done about it");
            assert_eq!(p.elsewhere[0].name, "r2gitops:assets-writer");
            assert_eq!(p.elsewhere[0].detail, id);
            assert!(!p.differs(), "another file's token is no difference");
        }
    }
}

#[test]
fn a_lost_inventory_deletes_nothing_even_with_prune() {
    let mut d = sample();
    d.settings.prune = true;
    let (mut o, _, outputs) = converged(&d);
    let gone = token("old-ci", &["media"]);
    o.tokens
        .push(obs_token(&d, &gone, "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"));
    let p = run(&d, &o, &Inventory::default(), &outputs);
    assert!(!p.steps.iter().any(Step::is_delete), "{:?}", lines(&p));
    assert_eq!(p.deletions(), 0);
    assert_eq!(p.elsewhere.len(), 1);
    // The declared tokens are taken back by their names (and rolled: no record of output).
    assert_eq!(
        p.steps
            .iter()
            .filter(|s| matches!(s, Step::RollToken { .. }))
            .count(),
        2
    );
}

fn operator_policy(yaml: &str) -> std::sync::Arc<crate::config::policy::Policy> {
    std::sync::Arc::new(crate::config::policy::parse(yaml.as_bytes(), "policy.yaml").unwrap())
}

#[test]
fn adopting_a_token_that_holds_more_than_the_operators_policy_refuses_the_plan() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 1 };
    d.policy = Some(operator_policy(
        "tokens:\n  access: [object-read]\nbuckets:\n  names: [\"back*\"]\n",
    ));
    d.buckets = vec![bucket("backups")];
    let mut t = token("backup-reader", &["backups"]);
    t.access = crate::config::Access::ObjectRead;
    adopting(&mut t, HAND);
    d.tokens = vec![t];
    let (o, inv, outputs) = converged(&Desired {
        tokens: Vec::new(),
        ..d.clone()
    });
    // What it holds now, as the dashboard made it: admin on the whole account, or object
    // read on a bucket outside the names; the declaration is inside the policy either way.
    let mut admin = d.tokens[0].clone();
    admin.access = crate::config::Access::AdminReadWrite;
    admin.scope = TokenScope::Account;
    let mut wider = d.tokens[0].clone();
    wider.scope = TokenScope::Buckets(vec!["backups".into(), "payroll".into()]);
    let at = "r2gitops.yaml:7:12: tokens[0].adopt";
    for (held, why) in [
        (
            &admin,
            "admin-read-write is not allowed by the policy (policy.yaml:2:11 allows object-read)",
        ),
        (
            &wider,
            "bucket 'payroll' is not allowed by the policy (policy.yaml:4:10 allows back*)",
        ),
    ] {
        let mut o = o.clone();
        o.tokens.push(hand_made(&d, held, HAND));
        let p = run(&d, &o, &inv, &outputs);
        assert_eq!(
            p.refused.as_deref(),
            Some(
                format!("{at}: token {HAND} holds more than the policy allows: {why}; adopting it would hand that over")
                    .as_str()
            )
        );
        assert!(p.steps.is_empty(), "{:?}", lines(&p));
    }
    // A token inside the policy is adopted as without one.
    let mut o = o.clone();
    o.tokens.push(hand_made(&d, &d.tokens[0], HAND));
    assert!(run(&d, &o, &inv, &outputs).refused.is_none());
}

#[test]
fn under_a_policy_with_delete_false_prune_keeps_an_unprotected_bucket() {
    let mut d = desired();
    d.settings.prune = true;
    d.buckets = vec![bucket("old")];
    d.buckets[0].protect = false;
    let (o, inv, outputs) = converged(&d);
    d.buckets.clear();
    assert_eq!(run(&d, &o, &inv, &outputs).deletions(), 1);
    d.policy = Some(operator_policy("buckets:\n  delete: false\n"));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(p.deletions(), 0, "{:?}", lines(&p));
    assert_eq!(
        p.orphans[0].reason,
        "no longer declared; kept because the policy never deletes a bucket (policy.yaml:2:11 delete: false)"
    );
}
