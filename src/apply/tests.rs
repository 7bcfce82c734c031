//! Apply against an in-memory fake of the write API: ordering, dependencies, idempotent
//! retries, independent failures, the stop request, a refused plan, and what reaches the
//! inventory. (End-to-end runs against the emulator live in `tests/reconcile/`.)

mod bucket_config;
mod custom_domain;
mod notification;
mod property;
mod restrictions;
mod settle;
mod temporary;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use time::macros::datetime;

use super::*;
use crate::config::{Access, IpRules, Jurisdiction, Owner, StorageClass};
use crate::fake::Fake;
use crate::fixtures;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::CustomDomain;
use crate::observed::{ObservedToken, TokenField, TokenRequest, TokenStatus};
use crate::plan::ConfigWrite;
use crate::plan::DomainWrite;
use crate::plan::QueueWrite;
use crate::plan::{BucketRef, DeleteReason};
use crate::secrets::S3Endpoints;

/// The account the fake holds has these buckets (default jurisdiction, standard class), as
/// if made before the pass.
fn holding_buckets(fake: &Fake, names: &[&str]) {
    for name in names {
        fake.put_bucket(Jurisdiction::Default, name, StorageClass::Standard, None);
    }
}

/// Seed the fake with a token as the server holds it, and the inventory that records it.
fn seeded(fake: &Fake, name: &str, condition: IpRules) -> (String, Inventory) {
    let id = "a".repeat(32);
    fake.tokens.lock().unwrap().insert(
        id.clone(),
        ObservedToken {
            id: id.clone(),
            name: format!("r2gitops:{name}"),
            owner: Owner::Account,
            status: TokenStatus::Active,
            issued_on: None,
            modified_on: None,
            not_before: None,
            expires_on: None,
            policies: Vec::new(),
            condition,
        },
    );
    let mut inv = Inventory::default();
    inv.tokens.insert(
        name.into(),
        TokenRecord {
            id: id.clone(),
            owner: Owner::Account,
            created_at: datetime!(2026-01-01 00:00 UTC),
            rolled_at: None,
            modified_on: None,
            output: None,
            unheld: false,
        },
    );
    (id, inv)
}

fn bref(name: &str) -> BucketRef {
    BucketRef {
        jurisdiction: Jurisdiction::Default,
        name: name.into(),
    }
}

struct Setup {
    dir: tempfile::TempDir,
    desired: Desired,
    writer: OutputWriter,
}

fn setup(tokens: &[(&str, &str)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let out = dir.path().join("secrets");
    // Apply takes no decision of its own from prune or protect; the plan carries them.
    let mut desired = fixtures::desired();
    desired.override_output_dir(out.clone());
    desired.buckets = tokens.iter().map(|(_, b)| fixtures::bucket(b)).collect();
    desired.tokens = tokens
        .iter()
        .map(|(t, b)| {
            let mut spec = fixtures::token(t, &[b]);
            spec.output.recipients = vec![recipient.clone()];
            spec
        })
        .collect();
    let writer = OutputWriter::new(&out, fixtures::ACCT, S3Endpoints::default());
    Setup {
        dir,
        desired,
        writer,
    }
}

fn create_bucket(name: &str) -> Step {
    Step::CreateBucket {
        bucket: bref(name),
        location_hint: None,
        storage_class: StorageClass::Standard,
        protect: false,
    }
}

fn create_token(name: &str, bucket: &str) -> Step {
    Step::CreateToken {
        token: name.into(),
        owner: Owner::Account,
        access: Access::ObjectRead,
        request: TokenRequest {
            name: format!("r2gitops:{name}"),
            policies: Vec::new(),
            not_before: None,
            expires_on: None,
            condition: IpRules::default(),
            status: None,
        },
        buckets: vec![bref(bucket)],
        output: PathBuf::from(format!("{name}.env.age")),
        rotate_every: None,
    }
}

fn plan(steps: Vec<Step>) -> Plan {
    Plan {
        account_id: "0123456789abcdef0123456789abcdef".into(),
        steps,
        blocked: Vec::new(),
        orphans: Vec::new(),
        elsewhere: Vec::new(),
        unchanged: 0,
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

async fn run_on(fake: &Fake, s: &Setup, p: &Plan, inv: Inventory) -> (Report, Inventory) {
    Applier {
        api: fake,
        desired: &s.desired,
        writer: &s.writer,
        concurrency: 1,
        stop: &Stop::new(),
        progress: None,
    }
    .apply(p, inv)
    .await
}

async fn run(fake: &Fake, s: &Setup, p: &Plan, stop: &Stop) -> (Report, Inventory) {
    Applier {
        api: fake,
        desired: &s.desired,
        writer: &s.writer,
        concurrency: 1,
        stop,
        progress: None,
    }
    .apply(p, Inventory::default())
    .await
}

fn outcomes(r: &Report) -> Vec<(String, &'static str)> {
    r.steps
        .iter()
        .map(|s| {
            (
                format!("{} {} {}", s.action, s.kind, s.name),
                s.outcome.as_str(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_token_whose_bucket_failed_is_skipped_and_independent_steps_go_on() {
    let s = setup(&[("a", "broken"), ("b", "fine")]);
    let fake = Fake {
        fail_buckets: ["broken".to_string()].into(),
        ..Fake::default()
    };
    let p = plan(vec![
        create_bucket("broken"),
        create_bucket("fine"),
        create_token("a", "broken"),
        create_token("b", "fine"),
    ]);
    let (report, inv) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(
        outcomes(&report),
        [
            ("create bucket broken".to_string(), "failed"),
            ("create bucket fine".to_string(), "done"),
            ("create token a".to_string(), "skipped"),
            ("create token b".to_string(), "done"),
        ]
    );
    assert_eq!(
        report.steps[2].outcome,
        Outcome::Skipped("bucket broken was not created".into())
    );
    assert!(report.has_errors());
    assert!(
        !fake
            .calls()
            .contains(&"create token r2gitops:a".to_string())
    );
    // What succeeded is recorded: the bucket, and the token with its written output.
    assert_eq!(
        inv.buckets
            .keys()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>(),
        ["fine"]
    );
    let b = &inv.tokens["b"];
    let out = b.output.as_ref().expect("output recorded");
    let on_disk = crate::secrets::file_sha256(&s.desired.settings.output_dir, &out.path)
        .unwrap()
        .unwrap();
    assert_eq!(on_disk, out.ciphertext_sha256);
    // The inventory on disk is what apply returned.
    let saved = crate::state::load(&s.desired.settings.state_file).unwrap();
    assert_eq!(saved, inv);
    assert!(s.dir.path().join("secrets/b.env.age").exists());
}

#[tokio::test]
async fn retries_are_idempotent_exists_adopts_and_gone_is_done() {
    let s = setup(&[]);
    // The account holds media and full (with objects); neither old nor the token.
    let fake = Fake {
        full_buckets: ["full".to_string()].into(),
        ..Fake::default()
    };
    holding_buckets(&fake, &["media", "full"]);
    let p = plan(vec![
        create_bucket("media"),
        Step::DeleteToken {
            token: "old-ci".into(),
            name: "r2gitops:old-ci".into(),
            id: "f".repeat(32),
            owner: Owner::Account,
            reason: DeleteReason::Pruned { output: None },
        },
        Step::DeleteBucket {
            bucket: bref("old"),
        },
        Step::DeleteBucket {
            bucket: bref("full"),
        },
    ]);
    let (report, inv) = run(&fake, &s, &p, &Stop::new()).await;
    let got: Vec<(&str, Option<&str>)> = report
        .steps
        .iter()
        .map(|s| (s.outcome.as_str(), s.outcome.detail()))
        .collect();
    assert_eq!(
        got,
        [
            ("already_done", Some("it already existed; adopted")),
            ("already_done", Some("already gone")),
            ("already_done", Some("already gone")),
            (
                "blocked",
                Some("it holds objects; r2gitops never empties a bucket")
            ),
        ]
    );
    assert!(!report.has_errors());
    assert!(
        inv.buckets
            .contains_key(&(Jurisdiction::Default, "media".into()))
    );
}

#[tokio::test]
async fn a_stop_request_starts_nothing_new() {
    let s = setup(&[("a", "media")]);
    let fake = Fake::default();
    let stop = Stop::new();
    stop.request();
    let p = plan(vec![create_bucket("media"), create_token("a", "media")]);
    let (report, _) = run(&fake, &s, &p, &stop).await;
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.outcome == Outcome::Skipped("shutting down".into()))
    );
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_refused_plan_is_not_applied_at_all() {
    let s = setup(&[]);
    let fake = Fake::default();
    let mut p = plan(vec![Step::DeleteBucket { bucket: bref("x") }]);
    p.refused = Some("too many deletions".into());
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(report.steps[0].outcome.as_str(), "skipped");
    assert!(fake.calls().is_empty());
    assert!(!s.desired.settings.state_file.exists(), "nothing written");
}

#[tokio::test]
async fn a_roll_records_the_new_output_and_keeps_the_creation_time() {
    let s = setup(&[("a", "media")]);
    let fake = Fake::default();
    let (id, inv) = seeded(&fake, "a", IpRules::default());
    let p = plan(vec![Step::RollToken {
        token: "a".into(),
        id: id.clone(),
        owner: Owner::Account,
        reason: crate::plan::RollReason::OutputMissing,
    }]);
    let (report, inv) = Applier {
        api: &fake,
        desired: &s.desired,
        writer: &s.writer,
        concurrency: 1,
        stop: &Stop::new(),
        progress: None,
    }
    .apply(&p, inv)
    .await;
    assert_eq!(report.steps[0].outcome, Outcome::Done);
    let t = &inv.tokens["a"];
    assert_eq!(t.created_at, datetime!(2026-01-01 00:00 UTC));
    assert!(t.rolled_at.is_some());
    assert!(t.output.is_some());
}

#[test]
fn bookkeeping_adopts_forgets_and_tracks() {
    let mut inv = Inventory::default();
    inv.tokens.insert(
        "old".into(),
        TokenRecord {
            id: "1".into(),
            owner: Owner::Account,
            created_at: datetime!(2026-01-01 00:00 UTC),
            rolled_at: None,
            modified_on: None,
            output: None,
            unheld: false,
        },
    );
    inv.buckets
        .insert((Jurisdiction::Eu, "gone".into()), BucketRecord::new(true));
    let now = datetime!(2026-11-23 00:00 UTC);
    apply_bookkeeping(
        &mut inv,
        &[
            Bookkeeping::AdoptToken {
                token: "found".into(),
                id: "2".into(),
                owner: Owner::User,
                issued_on: None,
            },
            Bookkeeping::ForgetToken {
                token: "old".into(),
            },
            Bookkeeping::TrackBucket {
                bucket: BucketRef {
                    jurisdiction: Jurisdiction::Default,
                    name: "media".into(),
                },
                protect: false,
            },
            Bookkeeping::ForgetBucket {
                bucket: BucketRef {
                    jurisdiction: Jurisdiction::Eu,
                    name: "gone".into(),
                },
            },
        ],
        now,
    );
    assert_eq!(inv.tokens.keys().collect::<Vec<_>>(), ["found"]);
    let found = &inv.tokens["found"];
    assert_eq!(
        (found.id.as_str(), found.owner, found.created_at),
        ("2", Owner::User, now)
    );
    assert!(
        found.output.is_none(),
        "an adopted token's output is not vouched for"
    );
    assert_eq!(
        inv.buckets.into_iter().collect::<Vec<_>>(),
        [(
            (Jurisdiction::Default, "media".to_string()),
            BucketRecord::new(false)
        )]
    );
}

#[tokio::test]
async fn a_bucket_name_taken_elsewhere_is_not_adopted_and_a_refused_class_change_is_remembered() {
    let s = setup(&[]);
    let fake = Fake {
        taken_elsewhere: ["media".to_string()].into(),
        refuse_storage_class: true,
        ..Fake::default()
    };
    let mut inv = Inventory::default();
    inv.buckets.insert(
        (Jurisdiction::Default, "cold".into()),
        BucketRecord::new(true),
    );
    holding_buckets(&fake, &["cold"]);
    let p = plan(vec![
        create_bucket("media"),
        Step::UpdateBucket {
            bucket: bref("cold"),
            from: StorageClass::Standard,
            to: StorageClass::InfrequentAccess,
        },
        create_bucket("other"),
    ]);
    let (report, inv) = run_on(&fake, &s, &p, inv).await;
    assert_eq!(
        report.steps[0].outcome,
        Outcome::Failed(
            "bucket name media is taken (another jurisdiction or another account); R2 names are unique per account".into()
        )
    );
    assert_eq!(
        report.steps[1].outcome,
        Outcome::Blocked(
            "Cloudflare refused to change the storage class (HTTP 405, code 7001: Method not allowed); not asked again for 24h".into()
        )
    );
    assert_eq!(report.steps[2].outcome, Outcome::Done, "other steps go on");
    assert!(
        !inv.buckets
            .contains_key(&(Jurisdiction::Default, "media".into())),
        "never adopted"
    );
    let refused = inv.buckets[&(Jurisdiction::Default, "cold".into())]
        .storage_class_refused
        .clone()
        .expect("remembered");
    assert_eq!(refused.to, StorageClass::InfrequentAccess);
    assert_eq!(refused.detail, "HTTP 405, code 7001: Method not allowed");
    assert!(fake.calls().contains(&"get bucket media".to_string()));
}

// ---- temporary credentials ----
