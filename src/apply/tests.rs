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
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::CustomDomain;
use crate::observed::{
    ObservedBucket, ObservedToken, PermissionGroupIds, TokenField, TokenRequest, TokenStatus,
};
use crate::plan::ConfigWrite;
use crate::plan::DomainWrite;
use crate::plan::QueueWrite;
use crate::plan::{BucketRef, DeleteReason};
use crate::secrets::S3Endpoints;

/// Answers as Cloudflare would, from a few rules: names in `fail_buckets` fail to create
/// (500), names in `existing_buckets` answer 409, `full_buckets` refuse deletion (409 not
/// empty), `gone` ids and names answer 404. Records every call in order.
#[derive(Default)]
struct Fake {
    fail_buckets: BTreeSet<String>,
    existing_buckets: BTreeSet<String>,
    /// Answer 409 on create, but a GET in the declared jurisdiction finds nothing (the name
    /// is taken in another jurisdiction or account).
    taken_elsewhere: BTreeSet<String>,
    full_buckets: BTreeSet<String>,
    gone: BTreeSet<String>,
    /// The storage-class PATCH answers 405 / 7001.
    refuse_storage_class: bool,
    /// The server stores no IP condition, under any key.
    drop_condition: bool,
    /// An update that leaves out the condition or a time keeps the stored one.
    keeps_removed: bool,
    /// Tokens as the server holds them.
    tokens: Mutex<std::collections::BTreeMap<String, ObservedToken>>,
    /// Temporary credential requests answer 403 / 10000.
    refuse_temporary: bool,
    /// Every temporary credential request, in order.
    temporary: Mutex<Vec<crate::cloudflare::TemporaryRequest>>,
    /// Configuration sub-resources as the server holds them (a new bucket's when absent).
    configs: Mutex<std::collections::BTreeMap<(String, ConfigKind), ConfigValue>>,
    /// Configuration writes of these buckets answer 500.
    fail_config: BTreeSet<String>,
    /// Configuration writes are accepted and not stored.
    ignore_config_writes: bool,
    /// Custom domains attached to some other bucket: an add answers 409.
    attached_elsewhere: BTreeSet<String>,
    /// The next this many notification PUTs answer 409 (an overlap Cloudflare refuses).
    refuse_puts: Mutex<u32>,
    /// Notification PUTs answer 500 (whether they were stored is unknown).
    fail_puts: bool,
    /// Notification rules are stored as the live API shows them: the queue named by a
    /// dashed UUID, a rule sent without a description given one.
    live_rules: bool,
    /// Per bucket, how many more configuration, domain or notification calls answer as the
    /// post-create lag does (10006; 10085 for notifications; a read finds no bucket); under
    /// `<bucket>:reads`, reads only.
    lagging: Mutex<std::collections::BTreeMap<String, u32>>,
    /// After a domain's removal, this many adds of that hostname answer 409 "in use".
    in_use_for: u32,
    /// Hostnames removed, with the 409s they still answer.
    released: Mutex<std::collections::BTreeMap<String, u32>>,
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

    /// Whether this call on `name`'s sub-resources meets the post-create lag (and counts it).
    fn lags(&self, name: &str) -> bool {
        self.lag(name)
    }

    fn read_lags(&self, name: &str) -> bool {
        self.lag(name) || self.lag(&format!("{name}:reads"))
    }

    fn lag(&self, key: &str) -> bool {
        let mut lagging = self.lagging.lock().unwrap();
        match lagging.get_mut(key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl ReadApi for Fake {
    async fn verify(&self) -> Result<VerifiedToken, ApiError> {
        unreachable!("apply never verifies")
    }
    fn own_token_id(&self) -> Option<String> {
        None
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
    async fn get_token(&self, _: Owner, id: &str) -> Result<Option<ObservedToken>, ApiError> {
        self.call(format!("get token {id}"));
        Ok(self.tokens.lock().unwrap().get(id).cloned())
    }
    async fn list_tokens(&self, _: Owner) -> Result<Vec<ObservedToken>, ApiError> {
        unreachable!("apply never lists")
    }
    async fn permission_groups(&self, _: Owner) -> Result<PermissionGroupIds, ApiError> {
        unreachable!("apply never lists")
    }
    async fn read_config(
        &self,
        _: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> Result<Option<ConfigValue>, ApiError> {
        self.call(format!("read {} {name}", kind.key()));
        if self.read_lags(name) {
            return Ok(None);
        }
        Ok(Some(self.config(name, kind)))
    }
    async fn lookup_zone(
        &self,
        _: &crate::config::ZoneRef,
    ) -> Result<crate::observed::custom_domain::ZoneLookup, ApiError> {
        unreachable!("apply never looks up")
    }
    async fn list_queues(&self) -> Result<Vec<crate::observed::notification::Queue>, ApiError> {
        unreachable!("apply never lists")
    }
    async fn get_custom_domain(
        &self,
        _: Jurisdiction,
        name: &str,
        domain: &str,
    ) -> Result<Option<CustomDomain>, ApiError> {
        self.call(format!("GET domain {name} {domain}"));
        if self.read_lags(name) {
            return Err(err("domain", 404, 10006, "bucket does not exist"));
        }
        Ok(self.domains(name).into_iter().find(|d| d.domain == domain))
    }
}

impl Fake {
    fn config(&self, name: &str, kind: ConfigKind) -> ConfigValue {
        self.configs
            .lock()
            .unwrap()
            .get(&(name.to_string(), kind))
            .cloned()
            .unwrap_or_else(|| kind.new_bucket())
    }

    fn domains(&self, name: &str) -> Vec<CustomDomain> {
        match self.config(name, ConfigKind::CustomDomains) {
            ConfigValue::CustomDomains(d) => d,
            _ => unreachable!(),
        }
    }

    fn set(&self, name: &str, value: ConfigValue) {
        self.configs
            .lock()
            .unwrap()
            .insert((name.to_string(), value.kind()), value);
    }
}

impl WriteApi for Fake {
    type Reader = Self;
    fn reader(&self) -> &Self {
        self
    }
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
        if self.existing_buckets.contains(name) || self.taken_elsewhere.contains(name) {
            return Err(err("create bucket", 409, 10073, "already exists"));
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
        if self.refuse_storage_class {
            return Err(err("patch bucket", 405, 7001, "Method not allowed"));
        }
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
        let token = ObservedToken {
            id: format!("{:032x}", *n),
            name: request.name.clone(),
            owner,
            status: TokenStatus::Active,
            issued_on: None,
            modified_on: None,
            not_before: request.not_before,
            expires_on: request.expires_on,
            policies: request.policies.clone(),
            condition: if self.drop_condition {
                IpRules::default()
            } else {
                request.condition.clone()
            },
        };
        self.tokens
            .lock()
            .unwrap()
            .insert(token.id.clone(), token.clone());
        Ok(CreatedToken {
            token,
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
        let mut tokens = self.tokens.lock().unwrap();
        let Some(t) = tokens.get_mut(id) else {
            return Err(err("update token", 404, 7003, "not found"));
        };
        t.name = request.name.clone();
        t.policies = request.policies.clone();
        let keep = |new: bool| !(self.keeps_removed && new);
        if keep(request.condition.is_empty()) && !self.drop_condition {
            t.condition = request.condition.clone();
        }
        if keep(request.expires_on.is_none()) {
            t.expires_on = request.expires_on;
        }
        if keep(request.not_before.is_none()) {
            t.not_before = request.not_before;
        }
        if let Some(status) = &request.status {
            t.status = status.clone();
        }
        Ok(UpdatedToken {
            token: t.clone(),
            condition_sent_as: "request_ip",
        })
    }
    async fn delete_token(&self, _: Owner, id: &str) -> Result<(), ApiError> {
        self.call(format!("delete token {id}"));
        if self.gone.contains(id) || self.tokens.lock().unwrap().remove(id).is_none() {
            return Err(err("delete token", 404, 7003, "not found"));
        }
        Ok(())
    }
    async fn write_config(
        &self,
        _: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> Result<(), ApiError> {
        self.call(format!("{} {} {name}", write.method(), write.kind().key()));
        if self.lags(name) {
            return Err(err("write config", 404, 10006, "bucket does not exist"));
        }
        if self.fail_config.contains(name) {
            return Err(err("write config", 500, 10001, "internal error"));
        }
        if !self.ignore_config_writes {
            self.configs
                .lock()
                .unwrap()
                .insert((name.to_string(), write.kind()), write.expected());
        }
        Ok(())
    }
    async fn write_custom_domain(
        &self,
        _: Jurisdiction,
        name: &str,
        write: &DomainWrite,
    ) -> Result<(), ApiError> {
        self.call(format!(
            "{} domain {name} {}",
            write.method(),
            write.domain()
        ));
        if self.lags(name) {
            return Err(err("domain", 404, 10006, "bucket does not exist"));
        }
        let mut list = self.domains(name);
        let at = list.iter().position(|d| d.domain == write.domain());
        if let DomainWrite::Add { domain, .. } = write
            && let Some(n) = self.released.lock().unwrap().get_mut(domain)
            && *n > 0
        {
            *n -= 1;
            return Err(err("add domain", 409, 10080, "Domain already in use"));
        }
        if let (DomainWrite::Remove { domain }, Some(_)) = (write, at) {
            self.released
                .lock()
                .unwrap()
                .insert(domain.clone(), self.in_use_for);
        }
        match (write, at) {
            (DomainWrite::Add { domain, .. }, _) if self.attached_elsewhere.contains(domain) => {
                return Err(err("add domain", 409, 10080, "domain already exists"));
            }
            (DomainWrite::Add { .. }, Some(_)) => {
                return Err(err("add domain", 409, 10080, "domain already exists"));
            }
            (DomainWrite::Add { .. }, None) => {
                let mut d = write.expected().unwrap();
                d.zone_name = Some("example.com".into());
                d.min_tls = d.min_tls.or(Some(crate::config::MinTls::V10));
                list.push(d);
            }
            (
                DomainWrite::Update {
                    enabled, min_tls, ..
                },
                Some(i),
            ) => {
                list[i].enabled = *enabled;
                list[i].min_tls = min_tls.or(list[i].min_tls);
            }
            (DomainWrite::Remove { .. }, Some(i)) => {
                list.remove(i);
            }
            (_, None) => return Err(err("domain", 404, 10053, "no such domain")),
        }
        if !self.ignore_config_writes {
            self.set(name, ConfigValue::CustomDomains(list));
        }
        Ok(())
    }
    async fn write_notifications(
        &self,
        _: Jurisdiction,
        name: &str,
        write: &QueueWrite,
    ) -> Result<(), ApiError> {
        if self.lags(name) {
            return Err(err("notifications", 404, 10085, "bucket_not_found"));
        }
        let ConfigValue::Notifications(mut queues) = self.config(name, ConfigKind::Notifications)
        else {
            unreachable!()
        };
        if write.clear_first {
            self.call(format!("DELETE rules {name} {}", write.queue_id));
            queues.retain(|q| q.queue_id.as_ref() != Some(&write.queue_id));
            self.set(name, ConfigValue::Notifications(queues.clone()));
        }
        if write.rules.is_empty() {
            return Ok(());
        }
        self.call(format!(
            "PUT rules {name} {} ({})",
            write.queue_id,
            write.rules.len()
        ));
        if self.fail_puts {
            return Err(err("put rules", 500, 10001, "internal error"));
        }
        {
            let mut refuse = self.refuse_puts.lock().unwrap();
            if *refuse > 0 {
                *refuse -= 1;
                return Err(err("put rules", 409, 11020, "conflicting rules"));
            }
        }
        if self.ignore_config_writes {
            return Ok(());
        }
        let mut stored = crate::observed::notification::QueueRules {
            queue_id: Some(write.queue_id.clone()),
            queue_name: Some(write.queue_name.clone()),
            rules: write.rules.iter().cloned().collect(),
        };
        if self.live_rules {
            let id = write.queue_id.to_string();
            // The configuration GET's dashed form, which decodes to the list's.
            stored.queue_id = Some(
                format!(
                    "{}-{}-{}-{}-{}",
                    &id[..8],
                    &id[8..12],
                    &id[12..16],
                    &id[16..20],
                    &id[20..]
                )
                .as_str()
                .into(),
            );
            stored.rules = stored
                .rules
                .into_iter()
                .map(|mut r| {
                    if r.description.is_empty() {
                        r.description = format!("generated for {}", r.label());
                    }
                    r
                })
                .collect();
        }
        queues.push(stored);
        self.set(name, ConfigValue::Notifications(queues));
        Ok(())
    }
    async fn roll_token(&self, _: Owner, id: &str) -> Result<TokenValue, ApiError> {
        self.call(format!("roll token {id}"));
        Ok(TokenValue::new("cfat_rolled"))
    }
    async fn issue_temporary(
        &self,
        request: &crate::cloudflare::TemporaryRequest,
    ) -> Result<crate::cloudflare::IssuedTemporary, ApiError> {
        self.call(format!(
            "issue temporary on {} under {}",
            request.bucket, request.parent_access_key_id
        ));
        if self.refuse_temporary {
            return Err(err("issue temporary", 403, 10000, "Authentication error"));
        }
        let mut issued = self.temporary.lock().unwrap();
        issued.push(request.clone());
        Ok(crate::cloudflare::IssuedTemporary {
            access_key_id: format!("{:032x}", 0xace + issued.len()),
            secret_access_key: crate::secret::S3Secret::new(format!("tempsecret{}", issued.len())),
            session_token: crate::secret::SessionToken::new(format!("tempsession{}", issued.len())),
        })
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
    let id = "a".repeat(32);
    let mut inv = Inventory::default();
    inv.tokens.insert(
        "a".into(),
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

fn ip_rules(allow: &str) -> IpRules {
    IpRules {
        allow: vec![allow.parse().unwrap()],
        deny: Vec::new(),
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

fn update_removing_ip_rules(name: &str, id: &str, fallback: bool) -> Step {
    Step::UpdateToken {
        token: name.into(),
        id: id.into(),
        owner: Owner::Account,
        request: TokenRequest {
            name: format!("r2gitops:{name}"),
            policies: Vec::new(),
            not_before: None,
            expires_on: None,
            condition: IpRules::default(),
            status: Some(TokenStatus::Active),
        },
        changes: vec!["ip allow -10.0.0.0/8".into()],
        buckets: vec![bref("media")],
        fallback: fallback.then_some(crate::plan::ReplaceReason::KeepsRemoved(
            TokenField::IpRules,
        )),
    }
}

#[tokio::test]
async fn a_created_token_that_comes_back_without_its_ip_rules_is_deleted_and_never_written() {
    let s = setup(&[("a", "media")]);
    let fake = Fake {
        drop_condition: true,
        ..Fake::default()
    };
    let mut step = create_token("a", "media");
    if let Step::CreateToken { request, .. } = &mut step {
        request.condition = ip_rules("10.0.0.0/8");
    }
    let (report, inv) = run(&fake, &s, &plan(vec![step]), &Stop::new()).await;
    let Outcome::Failed(text) = &report.steps[0].outcome else {
        panic!("{}", report.text())
    };
    assert_eq!(
        text,
        &format!(
            "Cloudflare did not store the IP condition of token a (sent request_ip allow 10.0.0.0/8, read back none); the new token {:032x} was deleted at once and its value never written",
            1
        )
    );
    assert_eq!(
        fake.calls(),
        [
            "create token r2gitops:a".to_string(),
            format!("delete token {:032x}", 1)
        ]
    );
    assert!(fake.tokens.lock().unwrap().is_empty(), "no token survives");
    assert!(!s.dir.path().join("secrets/a.env.age").exists());
    assert!(inv.tokens.is_empty(), "nothing recorded");
    assert!(report.has_errors());
}

#[tokio::test]
async fn an_update_whose_removed_ip_rules_are_kept_becomes_a_replacement_and_is_learned() {
    let s = setup(&[("a", "media")]);
    let fake = Fake {
        keeps_removed: true,
        ..Fake::default()
    };
    let (old, inv) = seeded(&fake, "a", ip_rules("10.0.0.0/8"));
    let p = plan(vec![
        update_removing_ip_rules("a", &old, true),
        Step::RollToken {
            token: "a".into(),
            id: old.clone(),
            owner: Owner::Account,
            reason: crate::plan::RollReason::OutputMissing,
        },
    ]);
    let (report, inv) = run_on(&fake, &s, &p, inv).await;
    let new = format!("{:032x}", 1);
    assert_eq!(
        report.steps[0].outcome,
        Outcome::Replaced(format!(
            "Cloudflare keeps IP rules that the file removed; replaced by {new}, output written, old token {old} deleted"
        )),
        "{}",
        report.text()
    );
    assert_eq!(
        report.steps[1].outcome,
        Outcome::AlreadyDone("the replacement's output was written".into()),
        "the old id is not rolled"
    );
    assert_eq!(
        fake.calls(),
        [
            format!("update token {old}"),
            "create token r2gitops:a".to_string(),
            format!("delete token {old}"),
        ],
        "the new token exists and its output is written before the old one goes"
    );
    let server = fake.tokens.lock().unwrap();
    assert_eq!(server.keys().collect::<Vec<_>>(), [&new]);
    assert!(server[&new].condition.is_empty());
    assert_eq!(inv.tokens["a"].id, new);
    assert!(inv.tokens["a"].output.is_some());
    assert!(s.dir.path().join("secrets/a.env.age").exists());
    assert_eq!(
        inv.learned.keeps_removed,
        BTreeSet::from([TokenField::IpRules])
    );
    assert!(!report.has_errors());
}

#[tokio::test]
async fn an_update_that_does_not_stick_fails_loudly_and_changes_nothing_else() {
    let s = setup(&[("a", "media")]);
    // Kept removal, but the plan allowed no replacement.
    let fake = Fake {
        keeps_removed: true,
        ..Fake::default()
    };
    let (old, inv) = seeded(&fake, "a", ip_rules("10.0.0.0/8"));
    let p = plan(vec![update_removing_ip_rules("a", &old, false)]);
    let (report, _) = run_on(&fake, &s, &p, inv).await;
    assert_eq!(
        report.steps[0].outcome,
        Outcome::Failed("Cloudflare did not store the IP condition of token a (sent no condition, read back allow 10.0.0.0/8); the next pass tries again".into())
    );

    // A condition dropped on update: the token may now be less restricted; it says so.
    let fake = Fake {
        drop_condition: true,
        ..Fake::default()
    };
    let (old, inv) = seeded(&fake, "a", IpRules::default());
    let mut step = update_removing_ip_rules("a", &old, true);
    if let Step::UpdateToken { request, .. } = &mut step {
        request.condition = ip_rules("10.0.0.0/8");
    }
    let (report, _) = run_on(&fake, &s, &plan(vec![step]), inv).await;
    let Outcome::Failed(text) = &report.steps[0].outcome else {
        panic!("{}", report.text())
    };
    assert!(
        text.contains("(sent request_ip allow 10.0.0.0/8, read back none)")
            && text.contains("less restricted than the file declares"),
        "{text}"
    );
    assert_eq!(
        fake.calls(),
        [format!("update token {old}")],
        "no replacement"
    );
}

#[tokio::test]
async fn a_revoked_token_is_replaced_and_a_failed_replacement_keeps_the_old_one() {
    let s = setup(&[("a", "media")]);
    let fake = Fake::default();
    let (old, inv) = seeded(&fake, "a", IpRules::default());
    let replace = |condition: IpRules| Step::ReplaceToken {
        token: "a".into(),
        old_id: old.clone(),
        owner: Owner::Account,
        access: Access::ObjectRead,
        request: TokenRequest {
            name: "r2gitops:a".into(),
            policies: Vec::new(),
            not_before: None,
            expires_on: None,
            condition,
            status: None,
        },
        buckets: vec![bref("media")],
        output: PathBuf::from("a.env.age"),
        reason: crate::plan::ReplaceReason::RevokedExposed,
        rotate_every: None,
    };
    let (report, inv) = run_on(&fake, &s, &plan(vec![replace(IpRules::default())]), inv).await;
    assert_eq!(report.steps[0].outcome.as_str(), "replaced");
    let new = inv.tokens["a"].id.clone();
    assert_ne!(new, old);
    assert_eq!(
        fake.tokens.lock().unwrap().keys().collect::<Vec<_>>(),
        [&new]
    );

    // The replacement comes back less restricted: it is deleted, the old token stays.
    let fake = Fake {
        drop_condition: true,
        ..Fake::default()
    };
    let (old, inv) = seeded(&fake, "a", ip_rules("10.0.0.0/8"));
    let (report, inv) = run_on(&fake, &s, &plan(vec![replace(ip_rules("10.0.0.0/8"))]), inv).await;
    let Outcome::Failed(text) = &report.steps[0].outcome else {
        panic!("{}", report.text())
    };
    assert!(
        text.starts_with("Cloudflare revoked it as exposed; creating its replacement failed: Cloudflare did not store the IP condition"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("the old token {old} is kept")),
        "{text}"
    );
    assert_eq!(
        fake.tokens.lock().unwrap().keys().collect::<Vec<_>>(),
        [&old]
    );
    assert_eq!(inv.tokens["a"].id, old);
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

/// `setup` plus one temporary credential `partner` under `parent` on `bucket`.
fn setup_temporary(parent: &str, bucket: &str) -> Setup {
    let mut s = setup(&[(parent, bucket)]);
    let recipients = s.desired.tokens[0].output.recipients.clone();
    let mut output = s.desired.tokens[0].output.clone();
    output.file = PathBuf::from("partner.env.age");
    output.recipients = recipients;
    s.desired
        .temporary_credentials
        .push(crate::config::TemporarySpec {
            name: "partner".into(),
            parent: parent.into(),
            jurisdiction: Jurisdiction::Default,
            scope: crate::config::TemporaryScope {
                bucket: bucket.into(),
                access: Access::ObjectReadWrite,
                prefixes: vec!["inbound/".into()],
                objects: Vec::new(),
                ttl: std::time::Duration::from_secs(3600),
            },
            refresh_before: std::time::Duration::from_secs(1200),
            output,
        });
    s
}

fn issue(parent: &str, bucket: &str, reason: crate::plan::IssueReason) -> Step {
    Step::IssueTemporary {
        name: "partner".into(),
        parent: parent.into(),
        scope: crate::config::TemporaryScope {
            bucket: bucket.into(),
            access: Access::ObjectReadWrite,
            prefixes: vec!["inbound/".into()],
            objects: Vec::new(),
            ttl: std::time::Duration::from_secs(3600),
        },
        jurisdiction: Jurisdiction::Default,
        output: PathBuf::from("partner.env.age"),
        reason,
    }
}

#[tokio::test]
async fn a_credential_is_issued_under_its_parents_new_id_right_after_the_parent_is_written() {
    let s = setup_temporary("uploader", "media");
    let fake = Fake::default();
    let p = plan(vec![
        create_bucket("media"),
        create_token("uploader", "media"),
        issue(
            "uploader",
            "media",
            crate::plan::IssueReason::ParentRenewed {
                parent: "uploader".into(),
                how: "created",
            },
        ),
    ]);
    let before = OffsetDateTime::now_utc();
    let (report, inv) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(
        outcomes(&report),
        [
            ("create bucket media".to_string(), "done"),
            ("create token uploader".to_string(), "done"),
            ("issue temporary partner".to_string(), "done"),
        ]
    );
    let parent_id = inv.tokens["uploader"].id.clone();
    assert_eq!(
        fake.calls()[1..],
        [
            "create token r2gitops:uploader".to_string(),
            format!("issue temporary on media under {parent_id}"),
        ]
    );
    let sent = fake.temporary.lock().unwrap()[0].clone();
    assert_eq!(
        (sent.permission, sent.ttl_seconds, sent.prefixes),
        ("object-read-write", 3600, vec!["inbound/".to_string()])
    );
    let r = &inv.temporary["partner"];
    assert_eq!(r.parent_id, parent_id);
    assert_eq!(r.access_key_id, format!("{:032x}", 0xace + 1));
    assert!(r.issued_at >= before && r.expires_at == r.issued_at + sent_ttl());
    let out = r.output.as_ref().expect("output recorded");
    let on_disk = crate::secrets::file_sha256(&s.desired.settings.output_dir, &out.path)
        .unwrap()
        .unwrap();
    assert_eq!(on_disk, out.ciphertext_sha256);
    // Neither secret reaches the inventory, in memory or on disk.
    let text = std::fs::read_to_string(&s.desired.settings.state_file).unwrap();
    for secret in ["tempsecret1", "tempsession1"] {
        assert!(!text.contains(secret), "{secret} in the inventory");
    }
    assert_eq!(
        crate::state::load(&s.desired.settings.state_file).unwrap(),
        inv
    );
}

fn sent_ttl() -> std::time::Duration {
    std::time::Duration::from_secs(3600)
}

#[tokio::test]
async fn children_of_a_parent_whose_step_failed_are_skipped_and_nothing_is_issued() {
    let s = setup_temporary("uploader", "broken");
    let fake = Fake {
        fail_buckets: ["broken".to_string()].into(),
        ..Fake::default()
    };
    let p = plan(vec![
        create_bucket("broken"),
        create_token("uploader", "broken"),
        issue("uploader", "broken", crate::plan::IssueReason::Unrecorded),
    ]);
    let (report, inv) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(report.steps[2].outcome.as_str(), "skipped");
    assert!(fake.temporary.lock().unwrap().is_empty());
    assert!(inv.temporary.is_empty());
}

#[tokio::test]
async fn a_conditional_issue_does_nothing_when_the_parent_was_updated_in_place() {
    let s = setup_temporary("uploader", "media");
    let fake = Fake::default();
    let p = plan(vec![issue(
        "uploader",
        "media",
        crate::plan::IssueReason::ParentMayBeReplaced {
            parent: "uploader".into(),
        },
    )]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(report.steps[0].outcome.as_str(), "already_done");
    assert!(fake.temporary.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_issue_fails_its_step_with_cloudflares_code_and_records_nothing() {
    let s = setup_temporary("uploader", "media");
    let fake = Fake {
        refuse_temporary: true,
        ..Fake::default()
    };
    let mut inv = Inventory::default();
    inv.tokens.insert(
        "uploader".into(),
        TokenRecord {
            id: "1".repeat(32),
            owner: Owner::Account,
            created_at: datetime!(2026-11-01 00:00 UTC),
            rolled_at: None,
            modified_on: None,
            output: None,
            unheld: false,
        },
    );
    let p = plan(vec![issue(
        "uploader",
        "media",
        crate::plan::IssueReason::Unrecorded,
    )]);
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
    match &report.steps[0].outcome {
        Outcome::Failed(e) => assert!(e.contains("10000"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(inv.temporary.is_empty());
    assert!(!s.dir.path().join("secrets/partner.env.age").exists());
}
mod bucket_config;
mod custom_domain;
mod notification;
mod settle;
