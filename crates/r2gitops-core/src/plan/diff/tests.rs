//! Table tests of the diff rules. Worlds are built by hand: no file, no server, no clock.

mod adopt;
mod bucket;
mod bucket_config;
mod custom_domain;
mod notification;
mod prune;
mod roll;
mod rotation;
mod update;

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

/// An operator policy (`--policy`) from its YAML.
fn operator_policy(yaml: &str) -> std::sync::Arc<crate::config::policy::Policy> {
    std::sync::Arc::new(crate::config::policy::parse(yaml.as_bytes(), "policy.yaml").unwrap())
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
