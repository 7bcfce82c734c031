//! Apply against an in-memory fake of the write API: ordering, dependencies, idempotent
//! retries, independent failures, the stop request, a refused plan, and what reaches the
//! inventory. (End-to-end runs against the emulator live in `tests/reconcile.rs`.)

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use time::macros::datetime;

use super::*;
use crate::cloudflare::{ApiError, CfError, CreatedToken, ReadApi, UpdatedToken, VerifiedToken};
use crate::config::{Access, IpRules, Jurisdiction, LocationHint, Owner, StorageClass};
use crate::fixtures;
use crate::observed::{
    ObservedBucket, ObservedToken, PermissionGroupIds, TokenRequest, TokenStatus,
};
use crate::plan::DeleteReason;
use crate::secrets::S3Endpoints;

/// Answers as Cloudflare would, from a few rules: names in `fail_buckets` fail to create
/// (500), names in `existing_buckets` answer 409, `full_buckets` refuse deletion (409 not
/// empty), `gone` ids and names answer 404. Records every call in order.
#[derive(Default)]
struct Fake {
    fail_buckets: BTreeSet<String>,
    existing_buckets: BTreeSet<String>,
    full_buckets: BTreeSet<String>,
    gone: BTreeSet<String>,
    calls: Mutex<Vec<String>>,
    next_id: Mutex<u32>,
}

fn err(op: &str, status: u16, code: i64, message: &str) -> ApiError {
    ApiError::from_answer(
        op,
        status,
        vec![CfError {
            code,
            message: message.into(),
        }],
    )
}

fn bucket(name: &str, j: Jurisdiction) -> ObservedBucket {
    ObservedBucket {
        name: name.into(),
        jurisdiction: j,
        location: None,
        storage_class: StorageClass::Standard,
        creation_date: None,
    }
}

impl Fake {
    fn call(&self, c: String) {
        self.calls.lock().unwrap().push(c);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl ReadApi for Fake {
    async fn verify(&self) -> Result<VerifiedToken, ApiError> {
        unreachable!("apply never verifies")
    }
    async fn list_buckets(&self, _: Jurisdiction) -> Result<Vec<ObservedBucket>, ApiError> {
        unreachable!("apply never lists")
    }
    async fn get_bucket(
        &self,
        j: Jurisdiction,
        name: &str,
    ) -> Result<Option<ObservedBucket>, ApiError> {
        self.call(format!("get bucket {name}"));
        Ok(self
            .existing_buckets
            .contains(name)
            .then(|| bucket(name, j)))
    }
    async fn list_tokens(&self, _: Owner) -> Result<Vec<ObservedToken>, ApiError> {
        unreachable!("apply never lists")
    }
    async fn permission_groups(&self, _: Owner) -> Result<PermissionGroupIds, ApiError> {
        unreachable!("apply never lists")
    }
}

impl WriteApi for Fake {
    async fn create_bucket(
        &self,
        j: Jurisdiction,
        name: &str,
        _: Option<LocationHint>,
        _: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        self.call(format!("create bucket {name}"));
        if self.fail_buckets.contains(name) {
            return Err(err("create bucket", 500, 10001, "internal error"));
        }
        if self.existing_buckets.contains(name) {
            return Err(err("create bucket", 409, 10004, "already exists"));
        }
        Ok(bucket(name, j))
    }
    async fn set_storage_class(
        &self,
        j: Jurisdiction,
        name: &str,
        _: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        self.call(format!("patch bucket {name}"));
        Ok(bucket(name, j))
    }
    async fn delete_bucket(&self, _: Jurisdiction, name: &str) -> Result<(), ApiError> {
        self.call(format!("delete bucket {name}"));
        if self.full_buckets.contains(name) {
            return Err(err(
                "delete bucket",
                409,
                0,
                "The bucket you tried to delete is not empty",
            ));
        }
        if self.gone.contains(name) {
            return Err(err("delete bucket", 404, 10006, "does not exist"));
        }
        Ok(())
    }
    async fn create_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
    ) -> Result<CreatedToken, ApiError> {
        self.call(format!("create token {}", request.name));
        let mut n = self.next_id.lock().unwrap();
        *n += 1;
        Ok(CreatedToken {
            token: ObservedToken {
                id: format!("{:032x}", *n),
                name: request.name.clone(),
                owner,
                status: TokenStatus::Active,
                issued_on: None,
                modified_on: None,
                not_before: None,
                expires_on: None,
                policies: request.policies.clone(),
                condition: IpRules::default(),
            },
            value: TokenValue::new(format!("cfat_value_{n}")),
            condition_sent_as: "request_ip",
        })
    }
    async fn update_token(
        &self,
        _: Owner,
        id: &str,
        request: &TokenRequest,
    ) -> Result<UpdatedToken, ApiError> {
        self.call(format!("update token {id}"));
        unimplemented!("not used: {}", request.name)
    }
    async fn delete_token(&self, _: Owner, id: &str) -> Result<(), ApiError> {
        self.call(format!("delete token {id}"));
        if self.gone.contains(id) {
            return Err(err("delete token", 404, 7003, "not found"));
        }
        Ok(())
    }
    async fn roll_token(&self, _: Owner, id: &str) -> Result<TokenValue, ApiError> {
        self.call(format!("roll token {id}"));
        Ok(TokenValue::new("cfat_rolled"))
    }
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
    }
}

fn plan(steps: Vec<Step>) -> Plan {
    Plan {
        account_id: "0123456789abcdef0123456789abcdef".into(),
        steps,
        blocked: Vec::new(),
        orphans: Vec::new(),
        unchanged: 0,
        bookkeeping: Vec::new(),
        refused: None,
        skip_outputs: false,
    }
}

async fn run(fake: &Fake, s: &Setup, p: &Plan, stop: &Stop) -> (Report, Inventory) {
    Applier {
        api: fake,
        desired: &s.desired,
        writer: &s.writer,
        concurrency: 1,
        stop,
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
    let saved = crate::inventory::load(&s.desired.settings.state_file).unwrap();
    assert_eq!(saved, inv);
    assert!(s.dir.path().join("secrets/b.env.age").exists());
}

#[tokio::test]
async fn retries_are_idempotent_exists_adopts_and_gone_is_done() {
    let s = setup(&[]);
    let fake = Fake {
        existing_buckets: ["media".to_string()].into(),
        gone: ["old".to_string(), "f".repeat(32)].into(),
        full_buckets: ["full".to_string()].into(),
        ..Fake::default()
    };
    let p = plan(vec![
        create_bucket("media"),
        Step::DeleteToken {
            token: "old-ci".into(),
            name: "r2gitops:old-ci".into(),
            id: "f".repeat(32),
            owner: Owner::Account,
            reason: DeleteReason::Pruned,
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
    let id = "a".repeat(32);
    let mut inv = Inventory::default();
    inv.tokens.insert(
        "a".into(),
        TokenRecord {
            id: id.clone(),
            owner: Owner::Account,
            created_at: datetime!(2026-01-01 00:00 UTC),
            rolled_at: None,
            output: None,
        },
    );
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
            output: None,
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
