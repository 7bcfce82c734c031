//! Custom domains and event notifications end to end: the real binary against the
//! emulator, whose state is read directly. A domain attached and notifications set, then a
//! pass with no mutating call; drift repaired (a rule added out of band to a declared queue
//! is removed); a zone change re-adds the domain; an unknown, partial or foreign zone and an
//! unknown queue are blocked while the other steps go on; a 409 on a domain attached to
//! another bucket is blocked; a missing Zone Read or Queues Read is one clear error; removal
//! needs prune; the daemon reports domain status in `/status` and keeps its lookups for
//! `config_resync`. The emulator answers notifications as the live API does (dashed queue
//! ids, generated descriptions, 404 for no rules): a queue declared by id converges and is
//! never pruned, a rule without a description is not re-put, and a PUT refused after the
//! DELETE (the stricter overlap rule) puts the held rules back and fails the pass. It also
//! shows the live API catching up throughout: a new bucket's sub-resources answer
//! NoSuchBucket / BucketNotFound for a while, and a hostname just removed stays in use for a
//! while; a degraded domain answer plans nothing and says so; a domain left detached fails
//! the pass.

mod common;

use std::collections::BTreeSet;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use cf_emulator::{Behaviour, ZoneSeed};
use r2gitops::cloudflare::{TokenRequest, WriteApi};
use r2gitops::config::{IpRules, Jurisdiction, Owner};
use r2gitops::observed::notification::NotificationRule;
use r2gitops::observed::{Effect, Policy, ResourceValue};
use r2gitops::plan::DomainWrite;
use r2gitops::plan::QueueWrite;
use serde_json::{Value, json};

struct World(common::Sandbox);

/// A rule as the tests compare it: its actions, sorted, and its prefix.
type Rule = (Vec<String>, String);

impl std::ops::Deref for World {
    type Target = common::Sandbox;
    fn deref(&self) -> &common::Sandbox {
        &self.0
    }
}

/// How long a new bucket's sub-resources do not know it, and a removed hostname stays in
/// use, in these tests (the live API: a few seconds each).
const POST_CREATE_LAG: Duration = Duration::from_millis(1000);
const DOMAIN_RELEASE: Duration = Duration::from_millis(2000);

/// The live API catching up, as these tests run against it.
fn catching_up() -> Behaviour {
    Behaviour {
        post_create_lag: Some(POST_CREATE_LAG),
        domain_release: Some(DOMAIN_RELEASE),
        ..Behaviour::default()
    }
}

impl World {
    /// A sandbox whose account has the zones example.com and assets.example.com, a partial
    /// zone, another account's zone, and the queues uploads and audit; its notification
    /// answers are the live API's, and it shows the post-create lag and the hostname
    /// release.
    async fn new() -> Arc<World> {
        World::with(catching_up()).await
    }

    async fn with(behaviour: cf_emulator::Behaviour) -> Arc<World> {
        let w = World(common::Sandbox::with_behaviour(behaviour.live_notifications()).await);
        for z in [
            "example.com",
            "assets.example.com",
            "cname.example:partial",
            "theirs.example@ffffffffffffffffffffffffffffffff",
        ] {
            w.emu.add_zone(ZoneSeed::parse(z).unwrap());
        }
        for q in ["uploads", "audit"] {
            w.emu.add_queue(q);
        }
        Arc::new(w)
    }

    /// The real binary (off the runtime's workers: it blocks), with another API token when
    /// `token` is given.
    async fn run_as(self: &Arc<Self>, token: Option<String>, args: &[&str]) -> Output {
        let w = self.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut cmd = w.r2gitops(&args);
            if let Some(t) = token {
                cmd.env("CLOUDFLARE_API_TOKEN", t);
            }
            let out = cmd.output().unwrap();
            eprintln!(
                "r2gitops {args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            out
        })
        .await
        .unwrap()
    }

    async fn run(self: &Arc<Self>, args: &[&str]) -> Output {
        self.run_as(None, args).await
    }

    fn calls(&self, route: &str) -> u64 {
        self.emu.stats().by_route.get(route).copied().unwrap_or(0)
    }

    /// The domains of a bucket as the emulator holds them: (domain, zone name, enabled,
    /// minTLS).
    fn domains(&self, bucket: &str) -> Vec<(String, String, bool, Option<String>)> {
        self.emu
            .custom_domains("default", bucket)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["domain"].as_str().unwrap().to_string(),
                    d["zoneName"].as_str().unwrap().to_string(),
                    d["enabled"].as_bool().unwrap(),
                    d["minTLS"].as_str().map(str::to_string),
                )
            })
            .collect()
    }

    /// The rules per queue name, each as (sorted actions, prefix).
    fn rules(&self, bucket: &str) -> Vec<(String, Vec<Rule>)> {
        self.emu
            .notification_rules("default", bucket)
            .unwrap()
            .into_iter()
            .map(|(q, rules)| {
                let mut rules: Vec<Rule> = rules
                    .iter()
                    .map(|r| {
                        let mut a: Vec<String> = r["actions"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|x| x.as_str().unwrap().to_string())
                            .collect();
                        a.sort();
                        (a, r["prefix"].as_str().unwrap_or("").to_string())
                    })
                    .collect();
                rules.sort();
                (q, rules)
            })
            .collect()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn has(o: &Output, line: &str) {
    let text = stdout(o);
    assert!(text.contains(line), "missing {line:?} in:\n{text}");
}

fn file(settings: &str, bucket_body: &str) -> String {
    format!(
        "version: 1\nsettings:\n  recipients: [\"{{recipient}}\"]\n{settings}buckets:\n  - name: media\n{bucket_body}"
    )
}

const BOTH: &str = "    custom_domains:
      - domain: assets.example.com
        zone: example.com
        min_tls: \"1.2\"
    notifications:
      - queue: uploads
        events: [object-create]
        prefix: images/
        description: thumbnails
      - queue: audit
        events: [object-delete]
";

const GET_ZONES: &str = "GET /zones";
const GET_QUEUES: &str = "GET /accounts/:id/queues";
const GET_DOMAINS: &str = "GET /accounts/:id/r2/buckets/:name/domains/custom";
const GET_RULES: &str = "GET /accounts/:id/event_notifications/r2/:name/configuration";
const PUT_RULES: &str =
    "PUT /accounts/:id/event_notifications/r2/:name/configuration/queues/:queue_id";
const DELETE_RULES: &str =
    "DELETE /accounts/:id/event_notifications/r2/:name/configuration/queues/:queue_id";

fn create() -> Vec<String> {
    ["CompleteMultipartUpload", "CopyObject", "PutObject"]
        .map(String::from)
        .to_vec()
}

fn delete() -> Vec<String> {
    ["DeleteObject", "LifecycleDeletion"]
        .map(String::from)
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_and_notifications_are_set_and_a_second_pass_makes_no_mutating_call() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for line in [
        "+ create bucket media (default)",
        "~ update bucket media: custom_domains +assets.example.com (zone example.com, min_tls 1.2)",
        "~ update bucket media: notifications uploads +object-create:images/*",
        "~ update bucket media: notifications audit +object-delete:*",
        "Apply complete: 4 done, 0 failed",
    ] {
        has(&out, line);
    }
    assert_eq!(
        w.domains("media"),
        [(
            "assets.example.com".into(),
            "example.com".into(),
            true,
            Some("1.2".into())
        )]
    );
    assert_eq!(w.emu.dns_records("example.com"), ["assets.example.com"]);
    assert_eq!(
        w.rules("media"),
        [
            ("audit".into(), vec![(delete(), String::new())]),
            ("uploads".into(), vec![(create(), "images/".into())]),
        ]
    );
    assert_eq!(
        w.emu.notification_rules("default", "media").unwrap()["uploads"][0]["description"],
        "thumbnails"
    );

    // Converged: reads only (one zone lookup, one queue list, one GET per block), and the
    // pending status is information, not drift.
    w.emu.reset_stats();
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    has(
        &again,
        "· custom domain assets.example.com (bucket media): ownership pending, ssl initializing",
    );
    has(&again, "No changes. 1 unchanged.");
    let again = w.run(&["reconcile"]).await;
    assert_eq!(again.status.code(), Some(0));
    let stats = w.emu.stats();
    assert_eq!(stats.mutating, 0, "a converged pass makes no mutating call");
    for route in [GET_ZONES, GET_QUEUES, GET_DOMAINS, GET_RULES] {
        assert_eq!(w.calls(route), 2, "{route}: once per pass");
    }
    let json = w.run(&["reconcile", "--dry-run", "--output", "json"]).await;
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["custom_domains"],
        json!([{"bucket": "media", "jurisdiction": "default", "domain": "assets.example.com",
                "enabled": true, "ownership": "pending", "ssl": "initializing"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_and_a_rule_added_out_of_band_to_a_declared_queue_goes() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    // Out of band: a rule added to `uploads` (Cloudflare's PUT adds), the domain disabled.
    let admin = common::admin_client(&w.emu).await.into_writer();
    let uploads = w.emu.add_queue("uploads");
    admin
        .write_notifications(
            Jurisdiction::Default,
            "media",
            &QueueWrite {
                queue_id: uploads.as_str().into(),
                queue_name: "uploads".into(),
                clear_first: false,
                rules: vec![NotificationRule {
                    actions: BTreeSet::from(["PutObject".to_string()]),
                    prefix: "tmp/".into(),
                    suffix: String::new(),
                    description: String::new(),
                }],
                held: Vec::new(),
            },
        )
        .await
        .unwrap();
    admin
        .write_custom_domain(
            Jurisdiction::Default,
            "media",
            &DomainWrite::Update {
                domain: "assets.example.com".into(),
                enabled: false,
                min_tls: None,
            },
        )
        .await
        .unwrap();
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    has(
        &out,
        "~ update bucket media: notifications uploads -PutObject:tmp/* (its rules deleted, then 1 rule put)",
    );
    has(
        &out,
        "~ update bucket media: custom_domains assets.example.com enabled false→true",
    );
    assert_eq!(w.calls(DELETE_RULES), 1, "the queue's rules deleted once");
    assert_eq!(w.calls(PUT_RULES), 1, "then the whole list put once");
    assert_eq!(
        w.rules("media")[1],
        ("uploads".into(), vec![(create(), "images/".into())]),
        "exactly the declared rule"
    );
    assert!(w.domains("media")[0].2, "enabled again");
    w.emu.reset_stats();
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    assert_eq!(w.emu.stats().mutating, 0);
}

const POST_DOMAIN: &str = "POST /accounts/:id/r2/buckets/:name/domains/custom";

/// How often `route` answered `status` since the last reset.
fn answered(w: &World, route: &str, status: u16) -> usize {
    w.emu
        .stats()
        .calls
        .iter()
        .filter(|c| c.route == route && c.status == status)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_change_retries_the_add_while_the_hostname_is_in_use_and_converges() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    w.write(&file(
        "",
        &BOTH.replace("zone: example.com", "zone: assets.example.com"),
    ));
    let dry = w.run(&["reconcile", "--dry-run"]).await;
    has(
        &dry,
        "~ update bucket media: custom_domains assets.example.com zone example.com→assets.example.com (removed, then added: the zone is create-only)",
    );
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    has(&out, "Apply complete: 1 done, 0 failed");
    assert!(
        answered(&w, POST_DOMAIN, 409) >= 1,
        "the hostname was still in use after its removal"
    );
    assert_eq!(
        answered(&w, POST_DOMAIN, 200),
        1,
        "then the add went through"
    );
    assert_eq!(
        w.domains("media"),
        [(
            "assets.example.com".into(),
            "assets.example.com".into(),
            true,
            Some("1.2".into())
        )]
    );
    assert!(w.emu.dns_records("example.com").is_empty());
    assert_eq!(
        w.emu.dns_records("assets.example.com"),
        ["assets.example.com"]
    );
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_foreign_and_partial_zones_and_an_unknown_queue_are_blocked_while_the_rest_goes_on()
{
    let w = World::new().await;
    let body = "    public_dev_url: true
    custom_domains:
      - {domain: a.missing.example, zone: missing.example}
      - {domain: a.theirs.example, zone: theirs.example}
      - {domain: a.cname.example, zone: cname.example}
      - {domain: ok.example.com, zone: example.com}
    notifications:
      - {queue: ghost, events: [object-create]}
      - {queue: uploads, events: [object-create]}
";
    w.write(&file("", body));
    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(2), "blocked is a difference");
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let acct = w.emu.account_id().to_string();
    for line in [
        format!("! blocked bucket media: custom domain a.missing.example: unknown zone 'missing.example' (not found in account {acct}; if it exists, the daemon's token may lack Zone Read on it)"),
        "! blocked bucket media: custom domain a.theirs.example: zone 'theirs.example' is in another account (ffffffffffffffffffffffffffffffff); R2 custom domains need a zone of the bucket's account".into(),
        "! blocked bucket media: custom domain a.cname.example: zone 'cname.example' has a partial (CNAME) setup; R2 custom domains need a zone with a full setup".into(),
        "! blocked bucket media: notifications: unknown queue 'ghost' (not in the account's queue list)".into(),
        "Apply complete: 4 done, 0 failed".into(),
    ] {
        has(&out, &line);
    }
    assert_eq!(w.domains("media").len(), 1, "the good domain was added");
    assert_eq!(w.rules("media").len(), 1, "uploads got its rule");
    assert_eq!(
        w.emu.bucket_config("default", "media").unwrap()["public_dev_url"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_attached_to_another_bucket_answers_409_and_is_blocked() {
    let w = World::new().await;
    let admin = common::admin_client(&w.emu).await.into_writer();
    admin
        .create_bucket(Jurisdiction::Default, "other", None, Default::default())
        .await
        .unwrap();
    // This client does not wait out the post-create lag: the test does.
    tokio::time::sleep(POST_CREATE_LAG).await;
    let zone = w.emu.add_zone(ZoneSeed::parse("example.com").unwrap());
    admin
        .write_custom_domain(
            Jurisdiction::Default,
            "other",
            &DomainWrite::Add {
                domain: "assets.example.com".into(),
                zone_id: zone,
                enabled: true,
                min_tls: None,
            },
        )
        .await
        .unwrap();
    w.write(&file("", &format!("    public_dev_url: true\n{BOTH}")));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "a blocked step is not a failure: {}",
        stderr(&out)
    );
    has(
        &out,
        "[blocked] ~ update bucket media: custom_domains +assets.example.com (zone example.com, min_tls 1.2): custom domain assets.example.com is attached to another bucket (Cloudflare answered 409); remove it there, or declare it on that bucket",
    );
    has(
        &out,
        "Apply complete: 4 done, 0 failed, 0 skipped, 1 blocked.",
    );
    assert!(w.domains("media").is_empty());
    assert_eq!(w.domains("other").len(), 1, "left where it was");
    assert_eq!(w.rules("media").len(), 2, "the other steps went on");
}

/// A token with R2 write (and `extra` groups) on the account.
async fn token_with(w: &World, extra: &[&str]) -> String {
    let account = format!("com.cloudflare.api.account.{}", w.emu.account_id());
    let mut groups: BTreeSet<String> = BTreeSet::from(["bf7481a1826f439697cb59a20b22293e".into()]);
    groups.extend(extra.iter().map(|g| g.to_string()));
    let created = common::admin_client(&w.emu)
        .await
        .into_writer()
        .create_token(
            Owner::Account,
            &TokenRequest {
                name: "daemon".into(),
                policies: vec![Policy {
                    effect: Effect::Allow,
                    permission_groups: groups,
                    resources: [(account, ResourceValue::Str("*".into()))].into(),
                }],
                not_before: None,
                expires_on: None,
                condition: IpRules::default(),
                status: None,
            },
        )
        .await
        .unwrap();
    created.value.expose().to_string()
}

const ZONE_READ: &str = "c8fed203ed3043cba015a93ad1616f1f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_zone_read_or_queues_read_is_one_clear_error() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    let r2_only = token_with(&w, &[]).await;
    w.emu.reset_stats();
    let out = w.run_as(Some(r2_only), &["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("failed to look up zone 'example.com': the API token lacks the Zone Read permission group, which custom_domains need (HTTP 403, code 10000)\n  hint: add Zone Read to the daemon's token (Cloudflare dashboard, API Tokens, edit the token, Permissions); see README \"Cloudflare permissions\""),
        "{err}"
    );
    assert_eq!(
        err.matches("Zone Read permission group").count(),
        1,
        "one error: {err}"
    );
    assert_eq!(w.emu.stats().mutating, 0, "nothing was changed");

    let no_queues = token_with(&w, &[ZONE_READ]).await;
    let out = w.run_as(Some(no_queues), &["reconcile", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("failed to list the account's queues: the API token lacks the Queues Read permission group, which notifications need (HTTP 403, code 10000)"),
        "{err}"
    );
    assert_eq!(err.matches("permission group").count(), 1, "{err}");
    let both = token_with(&w, &[ZONE_READ, "51be10a1ad6b4d4ea5bbd7e4e0c5f3c8"]).await;
    let out = w.run_as(Some(both), &["reconcile", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_domain_or_a_queues_rules_needs_prune_and_counts_toward_max_deletions() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let none = "    custom_domains: []\n    notifications: []\n";
    w.write(&file("", none));
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0));
    has(
        &out,
        "! blocked bucket media: custom domain assets.example.com is attached but not declared; removing it deletes its DNS record, so r2gitops removes custom domains only with settings.prune: true (each counts toward max_deletions)",
    );
    has(
        &out,
        "! blocked bucket media: notifications: queue 'uploads' has 1 rule(s) the file does not declare; r2gitops removes a queue's rules only with settings.prune: true (each queue counts toward max_deletions)",
    );
    assert_eq!(w.emu.stats().mutating, 0, "nothing removed without prune");
    assert_eq!(w.domains("media").len(), 1);

    w.write(&file("  prune: true\n  max_deletions: 2\n", none));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "3 deletions > 2");
    has(
        &out,
        "Refused: the plan deletes 3 objects (queues losing their notification rules, removed custom domains included), more than settings.max_deletions (2)",
    );
    assert_eq!(w.domains("media").len(), 1);

    w.write(&file("  prune: true\n", none));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    has(
        &out,
        "~ update bucket media: custom_domains -assets.example.com (its DNS record is deleted)",
    );
    has(
        &out,
        "~ update bucket media: notifications uploads -object-create:images/* (every rule of the queue removed)",
    );
    assert!(w.domains("media").is_empty());
    assert!(
        w.emu.dns_records("example.com").is_empty(),
        "its DNS record went too"
    );
    assert!(w.rules("media").is_empty());

    // Removing the keys stops management: nothing is read or written.
    w.write(&file("  prune: true\n", ""));
    w.emu.reset_stats();
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    for route in [GET_ZONES, GET_QUEUES, GET_DOMAINS, GET_RULES] {
        assert_eq!(
            w.calls(route),
            0,
            "{route}: an undeclared block is never read"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reports_domain_status_and_keeps_its_lookups_for_config_resync() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    let d =
        common::Watch::spawn(w.r2gitops(&["watch", "--interval", "1s", "--listen", "127.0.0.1:0"]));
    common::until(Duration::from_secs(20), "three passes", || async {
        d.successes() >= 3.0
    })
    .await;
    let status: Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(
        status["custom_domains"],
        json!([{"bucket": "media", "jurisdiction": "default", "domain": "assets.example.com",
                "enabled": true, "ownership": "pending", "ssl": "initializing"}])
    );
    // Steady state: passes list buckets, and neither look zones up nor list queues nor read
    // the blocks within config_resync.
    w.emu.reset_stats();
    let start = d.successes();
    common::until(Duration::from_secs(20), "two more passes", || async {
        d.successes() >= start + 2.0
    })
    .await;
    for route in [GET_ZONES, GET_QUEUES, GET_DOMAINS, GET_RULES] {
        assert_eq!(w.calls(route), 0, "{route} within config_resync");
    }
    assert_eq!(w.emu.stats().mutating, 0);
    // Cloudflare finishes with the domain: status only, no step; a file change re-reads.
    assert!(
        w.emu
            .set_domain_status("default", "media", "assets.example.com", "active", "active")
    );
    w.write(&file(
        "",
        &BOTH.replace("min_tls: \"1.2\"", "min_tls: \"1.3\""),
    ));
    common::until(Duration::from_secs(20), "the change applied", || async {
        w.domains("media")[0].3.as_deref() == Some("1.3")
    })
    .await;
    let start = d.successes();
    common::until(Duration::from_secs(20), "one more pass", || async {
        d.successes() >= start + 1.0
    })
    .await;
    let status: Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(status["custom_domains"][0]["ownership"], "active");
    assert_eq!(status["custom_domains"][0]["ssl"], "active");
}

/// Each rule's id, per queue name, as the emulator holds them: unchanged ids mean the rules
/// were not deleted and put again.
fn rule_ids(w: &World, bucket: &str) -> Vec<(String, Vec<String>)> {
    w.emu
        .notification_rules("default", bucket)
        .unwrap()
        .into_iter()
        .map(|(q, rules)| {
            let mut ids: Vec<String> = rules
                .iter()
                .map(|r| r["ruleId"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            (q, ids)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converged_queue_declared_by_id_makes_no_mutating_call_on_the_second_pass() {
    let w = World::new().await;
    let uploads = w.emu.add_queue("uploads");
    let audit = w.emu.add_queue("audit");
    // By id, with prune: the configuration GET names both queues dashed.
    let body = BOTH
        .replace("queue: uploads", &format!("queue: {uploads}"))
        .replace("queue: audit", &format!("queue: \"{audit}\""));
    w.write(&file("  prune: true\n", &body));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    has(&out, "Apply complete: 4 done, 0 failed");
    let ids = rule_ids(&w, "media");
    assert_eq!(ids.len(), 2, "both queues hold their rules");
    w.emu.reset_stats();
    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(0), "{}", stdout(&dry));
    has(&dry, "No changes. 1 unchanged.");
    for _ in 0..2 {
        let again = w.run(&["reconcile"]).await;
        assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
        has(&again, "No changes. 1 unchanged.");
    }
    assert_eq!(w.emu.stats().mutating, 0, "no DELETE, no PUT");
    assert_eq!(rule_ids(&w, "media"), ids, "the rules were never touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_without_a_description_is_not_re_put_every_pass() {
    let w = World::new().await;
    // `audit` declares no description: Cloudflare generates one.
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let held = w.emu.notification_rules("default", "media").unwrap();
    let generated = held["audit"][0]["description"].as_str().unwrap();
    assert!(!generated.is_empty(), "the emulator made one up");
    assert_eq!(held["uploads"][0]["description"], "thumbnails");
    let ids = rule_ids(&w, "media");
    w.emu.reset_stats();
    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(0), "{}", stdout(&dry));
    let again = w.run(&["reconcile"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert_eq!(w.calls(DELETE_RULES) + w.calls(PUT_RULES), 0);
    assert_eq!(rule_ids(&w, "media"), ids);
    // A description the file declares is still managed.
    w.write(&file("", &BOTH.replace("thumbnails", "thumbs")));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.calls(PUT_RULES), 1, "uploads only");
    assert_eq!(
        w.emu.notification_rules("default", "media").unwrap()["uploads"][0]["description"],
        "thumbs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_put_after_the_delete_puts_the_held_rules_back_and_fails_the_pass() {
    // The stricter overlap rule: key ranges that overlap clash even with other actions.
    let w = World::with(cf_emulator::Behaviour {
        overlap_by_keys: true,
        ..catching_up()
    })
    .await;
    let thumbs = "    notifications:
      - queue: uploads
        events: [object-create]
        prefix: images/
        suffix: .jpg
        description: thumbnails
";
    w.write(&file("", thumbs));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let before = w.rules("media");
    // The pair of examples/full.yaml: the same keys, other actions.
    w.write(&file(
        "",
        &format!(
            "{thumbs}      - queue: uploads\n        actions: [DeleteObject, LifecycleDeletion]\n        prefix: images/\n"
        ),
    ));
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "a failed step fails the pass");
    let text = stdout(&out);
    assert!(
        text.contains("[FAILED] ~ update bucket media: notifications uploads +object-delete:images/* (its rules deleted, then 2 rules put): Cloudflare refused the new rules after their DELETE"),
        "{text}"
    );
    assert!(
        text.contains("the 1 rule(s) queue uploads held were put back"),
        "{text}"
    );
    assert_eq!(
        w.rules("media"),
        before,
        "what the queue held is there again"
    );
    assert_eq!(
        w.emu.notification_rules("default", "media").unwrap()["uploads"][0]["description"],
        "thumbnails"
    );
    assert_eq!(
        (w.calls(DELETE_RULES), w.calls(PUT_RULES)),
        (1, 2),
        "the DELETE, the refused PUT, the PUT that restores"
    );
    let validate = w.run(&["validate"]).await;
    assert!(
        stderr(&validate).contains("warning:") && stderr(&validate).contains("images/"),
        "validate warns about the pair: {}",
        stderr(&validate)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_left_detached_fails_the_pass_with_exit_1() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    // The hostname stays in use longer than r2gitops waits for it.
    w.emu.set_behaviour(Behaviour {
        domain_release: Some(Duration::from_secs(120)),
        ..w.emu.behaviour()
    });
    w.write(&file(
        "",
        &BOTH.replace("zone: example.com", "zone: assets.example.com"),
    ));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Cloudflare still refused to add custom domain assets.example.com again as in use (409)")
            && text.contains("custom domain assets.example.com was removed from bucket media for its zone change and is detached now; the next pass adds it again"),
        "{text}"
    );
    assert!(!text.contains("attached to another bucket"), "{text}");
    has(&out, "1 failed");
    assert!(w.domains("media").is_empty(), "detached");

    // Once Cloudflare lets go of the hostname, the next pass adds it back.
    w.emu.set_behaviour(catching_up().live_notifications());
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    has(
        &out,
        "custom_domains +assets.example.com (zone assets.example.com, min_tls 1.2)",
    );
    assert_eq!(w.domains("media")[0].1, "assets.example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_degraded_domain_answer_plans_nothing_and_says_degraded() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    // Cloudflare's certificate backend stops answering: status unknown, no minTLS, no
    // zoneName (TF #7046). The declared min_tls 1.2 is unknown, not 1.0.
    w.emu.set_behaviour(Behaviour {
        degraded_domains: true,
        ..w.emu.behaviour()
    });
    w.emu.reset_stats();
    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(0), "{}", stdout(&dry));
    has(
        &dry,
        "· custom domain assets.example.com (bucket media): ownership unknown, ssl unknown (degraded answer: Cloudflare's certificate backend did not answer, so min_tls and the zone name are unknown and not compared)",
    );
    has(&dry, "No changes. 1 unchanged.");
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        w.emu.stats().mutating,
        0,
        "no PUT of the min_tls it cannot see"
    );
    assert_eq!(w.domains("media")[0].3.as_deref(), Some("1.2"), "kept");

    let d =
        common::Watch::spawn(w.r2gitops(&["watch", "--interval", "1s", "--listen", "127.0.0.1:0"]));
    common::until(Duration::from_secs(20), "a pass", || async {
        d.successes() >= 1.0
    })
    .await;
    let status: Value = serde_json::from_str(&d.get("/status").1).unwrap();
    let domain = &status["custom_domains"][0];
    assert_eq!(domain["degraded"], true, "{status}");
    assert!(
        domain["note"]
            .as_str()
            .unwrap()
            .starts_with("degraded answer"),
        "{status}"
    );
    assert_eq!(w.emu.stats().mutating, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_and_notifications_of_a_bucket_created_this_pass_survive_the_post_create_lag() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    has(&out, "Apply complete: 4 done, 0 failed");
    // The emulator answered 10006 on the domain route and 10085 on the notification route
    // (both 404) before they knew the bucket.
    assert!(
        answered(&w, POST_DOMAIN, 404) >= 1 && answered(&w, PUT_RULES, 404) >= 1,
        "the lag was met: {:?}",
        w.emu.stats().calls
    );
    assert_eq!(w.domains("media").len(), 1);
    assert_eq!(w.rules("media").len(), 2);
    w.emu.reset_stats();
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}
