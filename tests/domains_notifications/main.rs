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

#[path = "../common/mod.rs"]
mod common;

use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use cf_emulator::{Behaviour, ZoneSeed};

mod converge;
mod domains;
mod guards;
mod notifications;

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
