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

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::output::{run, text};
use common::{Watch, until};
use r2gitops::config::Jurisdiction;
use serde_json::{Value, json};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uninterrupted_pass_makes_one_call_of_each_kind_in_the_order_the_kill_points_assume() {
    let w = before_after().await;
    let out = run(w.cmd(&["reconcile", "--concurrency", "1"], None));
    assert!(out.status.success(), "{}", text(&out));
    let want: Vec<&str> = CALLS.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(mutating_routes(&w), want);
    w.one_token_per_name("uninterrupted");
    w.outputs_work("uninterrupted");
}

/// Kill the leader right after call `k` has taken effect, and check what the standby makes
/// of it.
async fn kill_after(k: usize) {
    let w = before_after().await;
    let (route, cut_off, recovery) = CALLS[k - 1];
    w.sb.emu.hold_after_mutating(k as u64);
    let mut leader = w.daemon(None);
    until(
        Duration::from_secs(60),
        &format!("k={k}: the leader reaches call {k}"),
        || async { w.sb.emu.holding() },
    )
    .await;
    let standby = w.daemon(None);
    until(
        Duration::from_secs(30),
        &format!("k={k}: the second daemon stands by"),
        || async { standby.metric("r2gitops_passes_total{result=\"standby\"}") >= 1.0 },
    )
    .await;
    leader.signal("-KILL");
    let killed = Instant::now();
    let _ = leader.wait_exit(Duration::from_secs(10)).await;
    w.sb.emu.release();
    let made_by_leader = mutating_routes(&w);
    assert_eq!(made_by_leader.len(), k, "k={k}: the leader made {k} calls");
    let at_kill = delivered(&w);

    until(
        Duration::from_secs(60),
        &format!("k={k}: the standby takes over and converges"),
        || async { standby.metric("r2gitops_leader ") == 1.0 && standby.successes() >= 1.0 },
    )
    .await;
    eprintln!(
        "k={k}: failover and convergence in {:.1} s",
        killed.elapsed().as_secs_f64()
    );
    let what = format!("k={k} ({route})");
    w.one_token_per_name(&what);
    w.outputs_work(&what);
    // What the leader had delivered, and the plan does not change after call k, stands:
    // the same token, the same file, not rolled by the takeover.
    let ids = w.managed();
    let acted_on_later = |name: &str| CALLS[k..].iter().any(|(_, on, _)| *on == Some(name));
    for (name, id, rel, bytes) in &at_kill {
        let cut = recovery.is_some() && cut_off == Some(name.as_str());
        if cut || acted_on_later(name) || !DECLARED.contains(&name.as_str()) {
            continue;
        }
        let now = ids.iter().find(|(n, _)| n == name).map(|(_, i)| i);
        assert_eq!(now, Some(id), "{what}: {name} was replaced");
        assert_eq!(
            w.file(rel).as_ref(),
            Some(bytes),
            "{what}: {name}'s output was rewritten by the takeover"
        );
    }
    assert!(
        at_kill.iter().any(|(n, ..)| n == "keep"),
        "{what}: keep was delivered before the kill"
    );
    // The standby's calls: the rest of the plan, and the one call that recovers what the
    // kill cut off.
    let all = mutating_routes(&w);
    let mut got: Vec<&str> = all[k..].iter().map(String::as_str).collect();
    let mut expected: Vec<&str> = CALLS[k..].iter().map(|(r, _, _)| *r).collect();
    expected.extend(recovery);
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "{what}: the standby's calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_after_each_kind_of_mutating_call_is_replaced_with_nothing_lost_or_rolled()
{
    let only: Option<usize> = std::env::var("R2GITOPS_FAILOVER_K")
        .ok()
        .and_then(|k| k.parse().ok());
    for k in 1..=CALLS.len() {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        kill_after(k).await;
    }
}

// ---- a partition between a runner and the state bucket ----

/// A TCP proxy in front of the emulator's S3 listener that, once blocked, forwards nothing
/// more in either direction and holds new connections: packets swallowed, not refused.
struct Partition {
    url: String,
    blocked: Arc<AtomicBool>,
}

impl Partition {
    async fn start(upstream: &str) -> Partition {
        let target = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let blocked = Arc::new(AtomicBool::new(false));
        let b = blocked.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (b, target) = (b.clone(), target.clone());
                tokio::spawn(async move {
                    while b.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pipe(cr, sw, b.clone()), pipe(sr, cw, b));
                });
            }
        });
        Partition { url, blocked }
    }

    fn block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    blocked: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while blocked.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_state_never_overwrites_the_new_leaders_output() {
    let w = before_after().await;
    let proxy = Partition::start(&w.sb.emu.s3_urls()["eu"]).await;
    // The leader holds the answer to its token create (call 6) when the partition starts.
    w.sb.emu.hold_after_mutating(6);
    let mut leader = w.daemon(Some(&proxy.url));
    until(
        Duration::from_secs(60),
        "the leader reaches its token create",
        || async { w.sb.emu.holding() },
    )
    .await;
    let standby = w.daemon(None);
    proxy.block();
    until(
        Duration::from_secs(60),
        "the standby takes the lease over and converges",
        || async { standby.metric("r2gitops_leader ") == 1.0 && standby.successes() >= 1.0 },
    )
    .await;
    let theirs = w
        .file("fresh.env.age")
        .expect("the new leader delivered fresh");
    let inv = w.inventory();
    // The first apply held epoch 1, the old leader 2.
    assert_eq!(inv["epoch"], 3, "the new leader writes at epoch 3");

    // The old leader's create answers now: its value must go nowhere.
    w.sb.emu.release();
    until(
        Duration::from_secs(30),
        "the old leader's pass ends",
        || async { leader.log().contains("result=\"failure\"") },
    )
    .await;
    assert_eq!(
        w.file("fresh.env.age").as_deref(),
        Some(theirs.as_slice()),
        "the new leader's output stands"
    );
    assert_eq!(
        w.inventory(),
        inv,
        "the old leader wrote nothing to the state"
    );
    w.one_token_per_name("after the partition");
    w.outputs_work("after the partition");
    assert!(
        leader.log().contains("so its output was not written"),
        "the old leader says why its create failed"
    );
    leader.signal("-KILL");
    let _ = leader.wait_exit(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_apply_cut_off_from_the_state_starts_no_step_once_its_lease_lapses() {
    let w = before_after().await;
    let proxy = Partition::start(&w.sb.emu.s3_urls()["eu"]).await;
    // Held on its configuration write (call 2), after which no inventory is saved: only
    // the lease's own standing can stop the token delete that comes next.
    w.sb.emu.hold_after_mutating(2);
    let mut cmd = w.cmd(
        &["reconcile", "--concurrency", "1", "--lease-ttl", "3s"],
        Some(&proxy.url),
    );
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until(
        Duration::from_secs(60),
        "the apply reaches call 2",
        || async { w.sb.emu.holding() },
    )
    .await;
    proxy.block();
    // Past the lease's TTL: its renewals hang in the partition.
    tokio::time::sleep(Duration::from_secs(4)).await;
    w.sb.emu.release();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    eprintln!("{}", text(&out));
    assert!(!out.status.success(), "the apply reports the lost lease");
    assert_eq!(
        mutating_routes(&w),
        vec![CALLS[0].0, CALLS[1].0],
        "no step started after the lease lapsed:\n{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_pending_record_is_refused_by_a_412_is_not_created() {
    let w = World::new().await;
    w.sb.write(BEFORE);
    let first = run(w.cmd(&["reconcile"], None));
    assert!(first.status.success(), "{}", text(&first));
    // Only a configuration write (no inventory save after it), then a token create, whose
    // pending record is the next save.
    w.sb.write(&BEFORE.replace(
        "  - { name: media }\n",
        "  - name: media\n    cors: [{ allowed_origins: [\"https://app.example.com\"], allowed_methods: [GET] }]\n",
    ).replace(
        "tokens:\n",
        "tokens:\n  - { name: fresh, access: object-read, buckets: [media], output: { file: fresh.env.age, format: env } }\n",
    ));
    w.sb.emu.reset_stats();
    w.sb.emu.hold_after_mutating(1);
    let mut cmd = w.cmd(&["reconcile", "--concurrency", "1"], None);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until(
        Duration::from_secs(60),
        "the apply reaches its CORS write",
        || async { w.sb.emu.holding() },
    )
    .await;
    // Another writer rewrites the inventory object meanwhile: its ETag changes.
    let got = w.s3(json!([{"op": "get", "key": KEY}]));
    let body = format!("{}\n", got[0]["body"].as_str().unwrap().trim_end());
    let put = w.s3(json!([{"op": "put", "key": KEY, "body": format!("{body} ")}]));
    assert_eq!(put[0]["ok"], true);
    w.sb.emu.release();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    eprintln!("{}", text(&out));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("412"),
        "the conflict is named:\n{}",
        text(&out)
    );
    assert_eq!(
        mutating_routes(&w),
        vec![CALLS[1].0],
        "no token was created"
    );
    assert!(w.managed().iter().all(|(n, _)| n != "fresh"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_leads_again_rereads_what_the_other_leader_configured_meanwhile() {
    let w = World::new().await;
    let with_cors = |origin: &str| {
        BEFORE.replace(
            "  - { name: media }\n",
            &format!(
                "  - name: media\n    cors: [{{ allowed_origins: [\"https://{origin}\"], allowed_methods: [GET] }}]\n"
            ),
        )
    };
    let origins = || -> Vec<String> {
        w.sb.emu.bucket_config("default", "media").unwrap()["cors"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| {
                r["allowed"]["origins"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|o| o.as_str().map(str::to_string))
            .collect()
    };
    w.sb.write(&with_cors("x.example.com"));
    let mut b = w.daemon(None);
    until(Duration::from_secs(60), "b leads and converges", || async {
        b.successes() >= 1.0
    })
    .await;
    // A second pass reads back what the first wrote: b's cache holds x now.
    b.signal("-HUP");
    until(Duration::from_secs(30), "b passes again", || async {
        b.successes() >= 2.0
    })
    .await;
    let mut a = w.daemon(None);
    until(Duration::from_secs(30), "a stands by", || async {
        a.metric("r2gitops_passes_total{result=\"standby\"}") >= 1.0
    })
    .await;
    // b pauses (a stalled node); a takes over and applies a change of the file.
    b.signal("-STOP");
    until(Duration::from_secs(30), "a takes over", || async {
        a.metric("r2gitops_leader ") == 1.0 && a.successes() >= 1.0
    })
    .await;
    w.sb.write(&with_cors("y.example.com"));
    until(Duration::from_secs(30), "a applies y", || async {
        origins() == ["https://y.example.com"]
    })
    .await;
    // a dies, the file goes back to x, and b wakes up: to b the file is as it last knew it,
    // but the bucket holds what a wrote.
    a.signal("-KILL");
    let _ = a.wait_exit(Duration::from_secs(10)).await;
    w.sb.write(&with_cors("x.example.com"));
    b.signal("-CONT");
    until(
        Duration::from_secs(30),
        "b leads again and puts x back",
        || async { origins() == ["https://x.example.com"] },
    )
    .await;
    b.signal("-KILL");
    let _ = b.wait_exit(Duration::from_secs(10)).await;
}
