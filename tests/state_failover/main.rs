//! Failover of the shared state (`--state r2://…`) at the moments that matter, through the
//! binary against the emulator:
//! - two daemons share one output volume; the leader is killed (SIGKILL) right after each
//!   kind of mutating call has taken effect at the emulator (bucket create, configuration
//!   write, token delete, create, update, roll, temporary credentials issued). The standby
//!   takes over, converges, leaves one token per name, every output working, and never
//!   touches a token the leader had delivered, except the one whose call was cut off;
//! - a leader cut off from the state bucket (a proxy that swallows its packets) whose
//!   lease passes to the standby does not overwrite the standby's output when its held
//!   call finally answers, and publishes nothing;
//! - a one-shot apply cut off from the state bucket starts no step once its lease lapses,
//!   although its renewal hangs;
//! - a token create whose pending record is refused (412: another runner wrote the state)
//!   is not made;
//! - a replica that leads again after a pause reads afresh what the other leader
//!   configured meanwhile, rather than trusting what it read in its earlier term.

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::Watch;
use common::output::{run, text};
use r2gitops::config::Jurisdiction;
use serde_json::{Value, json};

mod partition;
mod takeover;

const STATE: &str = "r2://state/teams/r2gitops.json";
const KEY: &str = "teams/r2gitops.json";

/// What the leader converged to before it is killed.
const BEFORE: &str = r#"version: 1
settings: { recipients: ["{recipient}"], prune: true, max_deletions: 5 }
buckets:
  - { name: media }
tokens:
  - { name: keep, access: object-read, buckets: [media], output: { file: keep.env.age, format: env } }
  - { name: upd, access: object-read, buckets: [media], output: { file: upd.env.age, format: env } }
  - { name: roll, access: object-read, buckets: [media], rotation_overlap: 0, output: { file: roll.env.age, format: env } }
  - { name: old, access: object-read, buckets: [media], output: { file: old.env.age, format: env } }
"#;

/// What it was applying when killed: one call of each kind, in this order (one step at a
/// time, `--concurrency 1`).
const AFTER: &str = r#"version: 1
settings: { recipients: ["{recipient}"], prune: true, max_deletions: 5 }
buckets:
  - name: media
    cors: [{ allowed_origins: ["https://app.example.com"], allowed_methods: [GET] }]
  - { name: fresh-bucket }
tokens:
  - { name: keep, access: object-read, buckets: [media], output: { file: keep.env.age, format: env } }
  - { name: upd, access: object-read-write, buckets: [media], output: { file: upd.env.age, format: env } }
  - { name: roll, access: object-read, buckets: [media], rotation_overlap: 0, output: { file: moved/roll.env.age, format: env } }
  - { name: fresh, access: object-read, buckets: [fresh-bucket], output: { file: fresh.env.age, format: env } }
temporary_credentials:
  - name: inbound
    parent: keep
    bucket: media
    prefixes: [inbound/]
    access: object-read
    ttl: 1h
    output: { file: inbound.env.age, format: env }
"#;

/// The roll that recovers a value a kill cut off from its output.
const ROLL: &str = "PUT /accounts/:id/tokens/:token_id/value";

/// The mutating calls AFTER needs, in order: the emulator's route, what the call acts on,
/// and the call the standby adds when the leader dies right after it (its answer never
/// reached an output, or its `modified_on` was never recorded).
const CALLS: [(&str, Option<&str>, Option<&str>); 7] = [
    ("POST /accounts/:id/r2/buckets", None, None),
    ("PUT /accounts/:id/r2/buckets/:name/cors", None, None),
    ("DELETE /accounts/:id/tokens/:token_id", Some("old"), None),
    // The value is unchanged, and so is the output. Its new `modified_on` was never
    // recorded, but the update was marked in flight: the standby takes it for its own and
    // rolls nothing (a roll would cut the working value off).
    ("PUT /accounts/:id/tokens/:token_id", Some("upd"), None),
    (
        "PUT /accounts/:id/tokens/:token_id/value",
        Some("roll"),
        Some(ROLL),
    ),
    ("POST /accounts/:id/tokens", Some("fresh"), Some(ROLL)),
    (
        "POST /accounts/:id/r2/temp-access-credentials",
        Some("inbound"),
        Some("POST /accounts/:id/r2/temp-access-credentials"),
    ),
];

const DECLARED: [&str; 4] = ["keep", "upd", "roll", "fresh"];

/// Output file of each declared token and temporary credential in AFTER.
fn outputs_after() -> Vec<(&'static str, &'static str)> {
    vec![
        ("keep", "keep.env.age"),
        ("upd", "upd.env.age"),
        ("roll", "moved/roll.env.age"),
        ("fresh", "fresh.env.age"),
        ("inbound", "inbound.env.age"),
    ]
}

/// The sandbox, a `state` bucket with S3 credentials on it alone, and the output volume
/// the replicas share. The state bucket is in the EU jurisdiction, so that a runner's path
/// to it (its `eu` S3 endpoint) can be cut while the outputs keep the default endpoint.
struct World {
    sb: common::Sandbox,
    key_id: String,
    secret: String,
}

impl World {
    async fn new() -> World {
        let sb = common::Sandbox::new().await;
        let (key_id, secret) = common::state_bucket(&sb.emu, Jurisdiction::Eu).await;
        World { key_id, secret, sb }
    }

    fn volume(&self) -> PathBuf {
        self.sb.dir.path().join("shared-volume")
    }

    /// `r2gitops ARGS` on the sandbox's file, the outputs on the shared volume, the state in
    /// R2 and its S3 credentials in the environment; `s3` replaces the S3 endpoint (a proxy).
    fn cmd(&self, args: &[&str], s3: Option<&str>) -> Command {
        let mut cmd = self.sb.r2gitops(args);
        cmd.arg("--output-dir")
            .arg(self.volume())
            .arg("--state")
            .arg(STATE)
            .args(["--state-jurisdiction", "eu"])
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret);
        if let Some(url) = s3 {
            let default = &self.sb.emu.s3_urls()["default"];
            cmd.env(
                "R2GITOPS_S3_ENDPOINTS",
                format!("default={default},eu={url}"),
            );
        }
        cmd
    }

    fn daemon(&self, s3: Option<&str>) -> Watch {
        let args = [
            "watch",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1h",
            "--lease-ttl",
            "3s",
            "--concurrency",
            "1",
        ];
        Watch::spawn(self.cmd(&args, s3))
    }

    /// S3 operations on the state bucket with its credentials.
    fn s3(&self, ops: Value) -> Value {
        let endpoint = &self.sb.emu.s3_urls()["eu"];
        common::s3_ops_on(endpoint, &self.key_id, &self.secret, "state", ops)
    }

    /// The inventory in R2, as JSON.
    fn inventory(&self) -> Value {
        let got = self.s3(json!([{"op": "get", "key": KEY}]));
        let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
        doc
    }

    /// Token name (without the `r2gitops:` prefix) -> id, of the tokens r2gitops manages.
    fn managed(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .sb
            .emu
            .tokens()
            .iter()
            .filter_map(|t| {
                t.name
                    .strip_prefix("r2gitops:")
                    .map(|n| (n.to_string(), t.id.clone()))
            })
            .collect();
        v.sort();
        v
    }

    fn file(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.volume().join(rel)).ok()
    }

    /// Every output of AFTER decrypts with the real `age` and its credentials work: a
    /// signed S3 call with boto3 lists the bucket it was issued for.
    fn outputs_work(&self, what: &str) {
        let mut ops = Vec::new();
        for (name, rel) in outputs_after() {
            let path = self.volume().join(rel);
            assert!(path.exists(), "{what}: {rel} is missing");
            let vars = common::env_vars(&common::age_decrypt(&self.sb.identity, &path));
            let bucket = if name == "fresh" {
                "fresh-bucket"
            } else {
                "media"
            };
            let mut op = json!({
                "op": "list",
                "endpoint": self.sb.emu.s3_urls()["default"],
                "key_id": vars["AWS_ACCESS_KEY_ID"],
                "secret": vars["AWS_SECRET_ACCESS_KEY"],
                "bucket": bucket,
            });
            if let Some(t) = vars.get("AWS_SESSION_TOKEN") {
                op["session_token"] = json!(t);
                op["prefix"] = json!("inbound/");
            }
            ops.push(op);
        }
        let got = common::s3_ops(&json!(ops));
        for (r, (name, _)) in got.as_array().unwrap().iter().zip(outputs_after()) {
            assert_eq!(r["ok"], true, "{what}: {name}'s output does not work: {r}");
        }
    }

    /// One token per declared name and none of `old`.
    fn one_token_per_name(&self, what: &str) {
        let names: Vec<String> = self.managed().into_iter().map(|(n, _)| n).collect();
        let mut want: Vec<String> = DECLARED.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(names, want, "{what}");
    }
}

/// The routes of the mutating calls since the stats were reset.
fn mutating_routes(w: &World) -> Vec<String> {
    w.sb.emu
        .stats()
        .calls
        .iter()
        .filter(|c| !c.route.starts_with("GET "))
        .map(|c| c.route.clone())
        .collect()
}

/// A world converged to BEFORE by a one-shot apply, with AFTER written and the stats reset.
async fn before_after() -> World {
    let w = World::new().await;
    w.sb.write(BEFORE);
    let first = run(w.cmd(&["reconcile"], None));
    assert!(first.status.success(), "{}", text(&first));
    // Cloudflare's `modified_on` has whole seconds: what AFTER changes must land in a later
    // second than what BEFORE recorded, or a change made elsewhere could not be told.
    std::thread::sleep(Duration::from_millis(1100));
    w.sb.write(AFTER);
    w.sb.emu.reset_stats();
    w
}

/// (name, id, output path, output bytes) of every token the R2 inventory records with an
/// output whose file on the volume is exactly what was recorded: what had been delivered.
fn delivered(w: &World) -> Vec<(String, String, String, Vec<u8>)> {
    let inv = w.inventory();
    let tokens = inv["inventory"]["tokens"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (name, rec) in tokens {
        let Some(rel) = rec["output"]["path"].as_str() else {
            continue;
        };
        let Some(bytes) = w.file(rel) else { continue };
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        if rec["output"]["ciphertext_sha256"].as_str() == Some(sha.as_str()) {
            let id = rec["id"].as_str().unwrap().to_string();
            out.push((name, id, rel.to_string(), bytes));
        }
    }
    out
}
