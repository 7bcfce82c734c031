//! The inventory and its lease in R2 (`--state r2://BUCKET/KEY`), through the binary against
//! the emulator's conditional writes: runners with no shared disk share one inventory, two
//! applies started together never both apply, a partitioned old holder is fenced by epoch,
//! and bad state input stops before any change.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use common::output::{run, text};
use r2gitops::cloudflare::WriteApi;
use r2gitops::config::{Jurisdiction, Owner, StorageClass};
use r2gitops::observed::{Effect, Policy, ResourceValue};
use serde_json::{Value, json};

const STATE: &str = "r2://state/teams/r2gitops.json";
const KEY: &str = "teams/r2gitops.json";

const FILE: &str = r#"
version: 1
settings:
  recipients: ["{recipient}"]
buckets:
  - name: media
tokens:
  - name: uploader
    access: object-read-write
    buckets: [media]
    output: { file: uploader.env.age, format: env }
  - name: reader
    access: object-read
    buckets: [media]
    output: { file: reader.json.age, format: json }
"#;

/// The sandbox, a `state` bucket, and S3 credentials (read-write on it alone).
struct World {
    sb: common::Sandbox,
    key_id: String,
    secret: String,
}

impl World {
    async fn new() -> World {
        World::with(common::Sandbox::new().await).await
    }

    async fn with(sb: common::Sandbox) -> World {
        let (key_id, secret) = common::state_bucket(&sb.emu, Jurisdiction::Default).await;
        sb.write(FILE);
        sb.emu.reset_stats();
        World { key_id, secret, sb }
    }

    /// A runner: its own work directory with a copy of the file, and nothing else.
    fn runner(&self, name: &str) -> PathBuf {
        let dir = self.sb.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(self.sb.file(), dir.join("r2gitops.yaml")).unwrap();
        dir
    }

    /// `r2gitops ARGS -f DIR/r2gitops.yaml` with the state's S3 credentials in the
    /// environment and DIR as working directory (outputs under DIR/secrets).
    fn cmd(&self, dir: &Path, args: &[&str]) -> Command {
        self.cmd_out(dir, &dir.join("secrets"), args)
    }

    /// The same with the outputs in `out` (a volume replicas share).
    fn cmd_out(&self, dir: &Path, out: &Path, args: &[&str]) -> Command {
        let mut cmd = self.sb.r2gitops_without_file(args);
        cmd.arg("-f")
            .arg(dir.join("r2gitops.yaml"))
            .arg("--output-dir")
            .arg(out)
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .current_dir(dir);
        cmd
    }

    /// S3 operations on the state bucket with its credentials.
    fn s3(&self, ops: Value) -> Value {
        let endpoint = &self.sb.emu.s3_urls()["default"];
        common::s3_ops_on(endpoint, &self.key_id, &self.secret, "state", ops)
    }

    async fn tokens_named(&self, name: &str) -> usize {
        use r2gitops::cloudflare::ReadApi;
        common::admin_client(&self.sb.emu)
            .await
            .list_tokens(Owner::Account)
            .await
            .unwrap()
            .iter()
            .filter(|t| t.name == name)
            .count()
    }
}

/// The outputs a checkout of the repository brings along (they are ciphertext), never the
/// inventory.
fn copy_outputs(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("secrets")).unwrap();
    for f in ["uploader.env.age", "reader.json.age"] {
        std::fs::copy(from.join("secrets").join(f), to.join("secrets").join(f)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ci_runner_with_no_shared_disk_reads_the_inventory_from_r2_and_rolls_nothing() {
    let w = Arc::new(World::new().await);
    let (a, b, c) = (w.runner("a"), w.runner("b"), w.runner("c"));
    let w2 = w.clone();
    let (first, b2) = (a.clone(), b.clone());
    let (applied, second) = tokio::task::spawn_blocking(move || {
        let applied = run(w2.cmd(&first, &["reconcile", "--state", STATE]));
        copy_outputs(&first, &b2);
        w2.sb.emu.reset_stats();
        let second = run(w2.cmd(&b2, &["reconcile", "--state", STATE]));
        (applied, second)
    })
    .await
    .unwrap();
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert!(text(&applied).contains("Apply complete: 3 done, 0 failed"));
    assert!(
        !a.join("secrets/.r2gitops-state.json").exists(),
        "with --state the inventory is not a local file"
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(text(&second).contains("No changes."), "{}", text(&second));
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "the second runner makes no mutating call"
    );
    assert_eq!(w.tokens_named("r2gitops:uploader").await, 1);

    // The same checkout without the shared inventory would re-key every token (a rotation
    // with the default overlap: r2gitops cannot know the outputs hold the live values): the
    // reason --state exists (a dry run, so that it changes nothing).
    let w3 = w.clone();
    let (a3, c3) = (a.clone(), c.clone());
    let local = tokio::task::spawn_blocking(move || {
        copy_outputs(&a3, &c3);
        run(w3.cmd(&c3, &["reconcile", "--dry-run"]))
    })
    .await
    .unwrap();
    assert!(
        text(&local).contains("± rotate token uploader: no record of its output"),
        "without the shared inventory: {}",
        text(&local)
    );

    // What R2 holds: the inventory (its tokens by name) and no lease left behind.
    let got =
        w.s3(json!([{"op": "get", "key": KEY}, {"op": "get", "key": format!("{KEY}.lease")}]));
    let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["r2gitops_state"], 1);
    assert!(doc["epoch"].as_u64().unwrap() >= 1);
    assert!(
        doc["inventory"]["tokens"]["uploader"]["id"].is_string(),
        "{doc}"
    );
    assert_eq!(
        got[1]["error"], "NoSuchKey",
        "the lease is released at exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_one_shot_applies_started_together_never_both_apply() {
    let sb = common::Sandbox::new().await;
    let w = Arc::new(World::with(sb).await);
    // Slow answers keep the first apply inside its lease while the second starts.
    w.sb.emu.set_faults(cf_emulator::Faults {
        latency_ms: 150,
        ..Default::default()
    });
    let (a, b) = (w.runner("a"), w.runner("b"));
    let mut one = w.cmd(&a, &["reconcile", "--state", STATE]);
    let mut two = w.cmd(&b, &["reconcile", "--state", STATE]);
    let outs = tokio::task::spawn_blocking(move || {
        let p1 = one
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let p2 = two
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        [
            p1.wait_with_output().unwrap(),
            p2.wait_with_output().unwrap(),
        ]
    })
    .await
    .unwrap();
    let texts: Vec<String> = outs.iter().map(text).collect();
    eprintln!("{texts:#?}");
    let applied = texts
        .iter()
        .filter(|t| t.contains("Apply complete: 3 done"))
        .count();
    assert_eq!(applied, 1, "exactly one applies");
    let refused: Vec<&String> = texts.iter().filter(|t| t.contains("is locked")).collect();
    assert_eq!(refused.len(), 1, "the other is refused");
    assert!(
        refused[0].contains("its lease is held by '") && refused[0].contains(" until 20"),
        "the refusal names the holder and its expiry: {}",
        refused[0]
    );
    assert_eq!(
        outs.iter().filter(|o| o.status.code() == Some(0)).count(),
        1
    );
    w.sb.emu.set_faults(cf_emulator::Faults::default());
    assert_eq!(w.tokens_named("r2gitops:uploader").await, 1);
    assert_eq!(w.tokens_named("r2gitops:reader").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_lease_refuses_an_apply_by_holder_and_expiry_and_a_dry_run_takes_none() {
    let w = Arc::new(World::new().await);
    let lease = json!({
        "holder": "laptop/4242/beef",
        "epoch": 3,
        "acquired_at": "2026-01-01T00:00:00Z",
        "expires_at": "2999-01-01T00:00:00Z",
    });
    w.s3(json!([{"op": "put", "key": format!("{KEY}.lease"), "body": lease.to_string()}]));
    let a = w.runner("a");
    let w2 = w.clone();
    let (apply, dry) = tokio::task::spawn_blocking(move || {
        (
            run(w2.cmd(&a, &["reconcile", "--state", STATE])),
            run(w2.cmd(&a, &["reconcile", "--dry-run", "--state", STATE])),
        )
    })
    .await
    .unwrap();
    assert_eq!(apply.status.code(), Some(1));
    assert!(
        text(&apply).contains(
            "the state r2://state/teams/r2gitops.json is locked: its lease is held by 'laptop/4242/beef' until 2999-01-01T00:00:00Z"
        ),
        "{}",
        text(&apply)
    );
    assert_eq!(dry.status.code(), Some(0), "a dry run takes no lease");
    assert!(text(&dry).contains("Plan: 3 to create"));
    assert_eq!(w.sb.emu.stats().mutating, 0);
    let got = w.s3(json!([{"op": "get", "key": format!("{KEY}.lease")}]));
    assert_eq!(
        serde_json::from_str::<Value>(got[0]["body"].as_str().unwrap()).unwrap(),
        lease,
        "a refused run leaves the holder's lease alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_state_input_is_an_error_naming_the_url_with_no_change_and_no_empty_inventory() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let w2 = w.clone();
    let a2 = a.clone();
    let cases = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        // Unreachable: the state's endpoint is a closed port.
        let mut cmd = w2.cmd(&a2, &["reconcile", "--state", STATE]);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap();
        drop(listener);
        cmd.env("R2GITOPS_S3_ENDPOINTS", format!("default=http://{closed}"));
        out.push(("unreachable", run(cmd), "cannot be reached"));
        // Wrong credentials.
        let mut cmd = w2.cmd(&a2, &["reconcile", "--state", STATE]);
        cmd.env("AWS_SECRET_ACCESS_KEY", "0".repeat(64));
        out.push(("wrong credentials", run(cmd), "SignatureDoesNotMatch"));
        // A bucket that does not exist.
        let cmd = w2.cmd(&a2, &["reconcile", "--state", "r2://nothere/k.json"]);
        out.push(("missing bucket", run(cmd), "r2://nothere/k.json"));
        // No credentials at all.
        let mut cmd = w2.cmd(&a2, &["reconcile", "--state", STATE]);
        cmd.env_remove("AWS_ACCESS_KEY_ID");
        out.push(("no credentials", run(cmd), "needs S3 credentials"));
        // A corrupt state object, for an apply and for a dry run.
        w2.s3(json!([{"op": "put", "key": KEY, "body": "{\"version\": 1, \"tokens\": "}]));
        let cmd = w2.cmd(&a2, &["reconcile", "--state", STATE]);
        out.push(("corrupt", run(cmd), "is not a valid r2gitops state object"));
        let cmd = w2.cmd(&a2, &["reconcile", "--dry-run", "--state", STATE]);
        out.push((
            "corrupt, dry run",
            run(cmd),
            "is not a valid r2gitops state object",
        ));
        out
    })
    .await
    .unwrap();
    for (what, out, words) in cases {
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {t}");
        assert!(t.contains(words), "{what}: {t}");
        let url = if what == "missing bucket" {
            "r2://nothere/k.json"
        } else {
            STATE
        };
        assert!(t.contains(url), "{what} names the URL: {t}");
        assert!(
            !t.contains("Plan:"),
            "{what}: no plan from an empty inventory: {t}"
        );
        assert!(!t.contains(&w.secret), "{what}: no secret in the error");
    }
    assert_eq!(w.sb.emu.stats().mutating, 0, "no Cloudflare write at all");
    assert!(!a.join("secrets").exists(), "no output written");
    let got = w.s3(json!([{"op": "get", "key": KEY}]));
    assert_eq!(
        got[0]["body"], "{\"version\": 1, \"tokens\": ",
        "the corrupt object is left as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_old_holder_stops_and_its_late_inventory_write_is_refused_by_epoch() {
    use r2gitops::state::r2::session::Session;
    use r2gitops::state::r2::{R2State, StateCredentials, StateError, StateUrl};
    let w = World::new().await;
    let open = |ttl: i64| {
        let url = StateUrl::parse(STATE).unwrap().unwrap();
        let creds =
            StateCredentials::from_env(STATE, Some(w.key_id.clone()), Some(w.secret.clone()), None)
                .unwrap();
        let endpoint = w.sb.emu.s3_urls()["default"].clone();
        Session::new(
            R2State::new(url, endpoint, creds).unwrap(),
            time::Duration::seconds(ttl),
        )
    };
    let (old, new) = (open(3), open(3));
    old.take_lease("old/1/a", time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(old.epoch(), 1);
    assert_eq!(old.load().await.unwrap(), None);
    old.save("{\"version\": 1, \"tokens\": {}}").await.unwrap();
    // What the old holder last saw: its ETag, at epoch 1.
    let (_, mut stale) = old.state.read().await.unwrap();
    assert_eq!(stale.stored_epoch, 1);
    // The new one waits for the old lease, which is never renewed (a partition).
    new.take_lease("new/2/b", time::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(new.epoch(), 2, "a takeover increments the epoch");
    assert!(new.load().await.unwrap().is_some());
    assert!(!old.may_mutate(), "an overdue holder starts nothing");
    assert!(matches!(
        old.save("{\"version\": 1, \"tokens\": {}}").await,
        Err(StateError::LeaseLost { .. })
    ));
    // Were it to write anyway (its own clock wrong), the object has moved on: 412, and
    // after a re-read the fence refuses before sending anything.
    let late = old.state.save("{\"version\": 1}", 1, &mut stale).await;
    assert!(matches!(late, Err(StateError::Conflict { .. })), "{late:?}");
    let (_, mut fresh) = old.state.read().await.unwrap();
    assert_eq!(fresh.stored_epoch, 2);
    let late = old.state.save("{\"version\": 1}", 1, &mut fresh).await;
    assert!(
        matches!(late, Err(StateError::Fenced { .. })),
        "a write under an older epoch is refused: {late:?}"
    );
    let got = w.s3(json!([{"op": "get", "key": KEY}]));
    let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["epoch"], 2, "the new holder's write stands");
    new.save("{\"version\": 1, \"tokens\": {}}").await.unwrap();
    new.release().await;
    let got = w.s3(json!([{"op": "get", "key": format!("{KEY}.lease")}]));
    assert_eq!(
        got[0]["error"], "NoSuchKey",
        "released by a conditional delete"
    );
}

fn plan_id(o: &Output) -> String {
    text(o)
        .lines()
        .find_map(|l| l.strip_prefix("Plan id: "))
        .unwrap_or_else(|| panic!("no plan id: {}", text(o)))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_local_to_r2_and_back_keeps_the_inventory_and_the_plan() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let w2 = w.clone();
    let a2 = a.clone();
    let outs = tokio::task::spawn_blocking(move || {
        let applied = run(w2.cmd(&a2, &["reconcile"]));
        w2.sb.emu.reset_stats();
        let local_plan = run(w2.cmd(&a2, &["reconcile", "--dry-run"]));
        let to_r2 = run(w2.cmd(&a2, &["state", "migrate", "--to", STATE]));
        let show = run(w2.cmd(&a2, &["state", "show", "--state", STATE]));
        let r2_plan = run(w2.cmd(&a2, &["reconcile", "--dry-run", "--state", STATE]));
        let again = run(w2.cmd(&a2, &["state", "migrate", "--to", STATE]));
        let back = a2.join("back.json");
        let to_local = run(w2.cmd(
            &a2,
            &[
                "state",
                "migrate",
                "--state",
                STATE,
                "--to",
                back.to_str().unwrap(),
            ],
        ));
        [applied, local_plan, to_r2, show, r2_plan, again, to_local]
    })
    .await
    .unwrap();
    let [applied, local_plan, to_r2, show, r2_plan, again, to_local] = outs;
    assert_eq!(applied.status.code(), Some(0));
    let original: Value =
        serde_json::from_slice(&std::fs::read(a.join("secrets/.r2gitops-state.json")).unwrap())
            .unwrap();
    assert!(original["tokens"]["uploader"]["output"].is_object());
    assert_eq!(to_r2.status.code(), Some(0), "{}", text(&to_r2));
    assert!(text(&to_r2).contains("migrated the inventory (2 tokens, 1 buckets"));
    assert_eq!(show.status.code(), Some(0), "{}", text(&show));
    assert_eq!(
        serde_json::from_slice::<Value>(&show.stdout).unwrap(),
        original,
        "state show prints the inventory as R2 holds it"
    );
    assert!(text(&r2_plan).contains("No changes."), "{}", text(&r2_plan));
    assert_eq!(
        plan_id(&r2_plan),
        plan_id(&local_plan),
        "the plan is unchanged"
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("already holds an inventory; nothing was changed"));
    assert_eq!(to_local.status.code(), Some(0), "{}", text(&to_local));
    let back: Value = serde_json::from_slice(&std::fs::read(a.join("back.json")).unwrap()).unwrap();
    assert_eq!(back, original, "local -> R2 -> local keeps the inventory");
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "migration calls no Cloudflare API"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_daemons_one_leads_and_the_standby_takes_over_a_killed_leader_rolling_nothing() {
    use common::{Watch, until};
    use std::time::{Duration, Instant};
    let w = Arc::new(World::new().await);
    let (a, b) = (w.runner("a"), w.runner("b"));
    let shared = w.sb.dir.path().join("shared-volume");
    let args = [
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "1h",
        "--state",
        STATE,
        "--lease-ttl",
        "3s",
    ];
    let leader = Watch::spawn(w.cmd_out(&a, &shared, &args));
    until(
        Duration::from_secs(60),
        "the first daemon converges",
        || async { leader.successes() >= 1.0 },
    )
    .await;
    assert_eq!(leader.metric("r2gitops_leader "), 1.0);
    let mut standby = Watch::spawn(w.cmd_out(&b, &shared, &args));
    until(Duration::from_secs(30), "the second stands by", || async {
        standby.metric("r2gitops_passes_total{result=\"standby\"}") >= 1.0
    })
    .await;
    assert_eq!(standby.metric("r2gitops_leader "), 0.0);
    assert_eq!(standby.get("/readyz").0, 200, "a standby is ready");
    assert_eq!(standby.successes(), 0.0, "a standby reconciles nothing");
    let (_, status) = standby.get("/status");
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["role"], "standby");
    let ids: Vec<String> = w.sb.emu.tokens().iter().map(|t| t.id.clone()).collect();

    w.sb.emu.reset_stats();
    let mut leader = leader;
    leader.signal("-KILL");
    let killed = Instant::now();
    let _ = leader.wait_exit(Duration::from_secs(10)).await;
    until(
        Duration::from_secs(30),
        "the standby takes over and converges",
        || async { standby.metric("r2gitops_leader ") == 1.0 && standby.successes() >= 1.0 },
    )
    .await;
    let failover = killed.elapsed();
    eprintln!(
        "failover: {:.1} s (TTL 3 s, poll 1 s)",
        failover.as_secs_f64()
    );
    assert!(
        failover < Duration::from_secs(3 + 1 + 6),
        "within TTL + poll (and a loaded machine's pass): {failover:?}"
    );
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "the takeover rolls and rotates nothing"
    );
    let after: Vec<String> = w.sb.emu.tokens().iter().map(|t| t.id.clone()).collect();
    assert_eq!(after, ids, "one token per name, the same ones");

    // SIGTERM releases the lease at once.
    standby.signal("-TERM");
    assert_eq!(standby.wait_exit(Duration::from_secs(20)).await, Some(0));
    let got = w.s3(json!([{"op": "get", "key": format!("{KEY}.lease")}]));
    assert_eq!(
        got[0]["error"], "NoSuchKey",
        "released by a conditional delete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_could_write_or_delete_the_state_bucket_is_refused_before_any_change() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let yaml = std::fs::read_to_string(a.join("r2gitops.yaml"))
        .unwrap()
        .replace(
            "buckets: [media]\n    output: { file: uploader",
            "buckets: [media, state]\n    output: { file: uploader",
        )
        .replace(
            "  - name: media\n",
            "  - name: media\n  - name: state\n    protect: false\n",
        );
    let cases = [
        (yaml.clone(), "with protect: false"),
        (
            yaml.replace("  - name: state\n    protect: false\n", "  - name: state\n"),
            "token 'uploader' (object-read-write) could write the state bucket 'state' (default)",
        ),
    ];
    for (file, words) in cases {
        std::fs::write(a.join("r2gitops.yaml"), &file).unwrap();
        let w2 = w.clone();
        let a2 = a.clone();
        let out =
            tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &["reconcile", "--state", STATE])))
                .await
                .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(words), "{}", text(&out));
    }
    assert_eq!(w.sb.emu.stats().mutating, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_apply_whose_planning_outlasts_the_lease_ttl_keeps_its_lease_and_applies() {
    let w = Arc::new(World::new().await);
    // Each API call takes 700 ms: observing alone outlasts two thirds of a 3 s lease.
    w.sb.emu.set_faults(cf_emulator::Faults {
        latency_ms: 700,
        ..Default::default()
    });
    let a = w.runner("a");
    let w2 = w.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(w2.cmd(&a, &["reconcile", "--state", STATE, "--lease-ttl", "3s"]))
    })
    .await
    .unwrap();
    w.sb.emu.set_faults(cf_emulator::Faults::default());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Apply complete: 3 done, 0 failed"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_with_state_takes_the_lease_and_records_the_token_in_the_r2_inventory() {
    let w = Arc::new(World::new().await);
    let admin = common::admin_client(&w.sb.emu).await.into_writer();
    let policy = Policy {
        effect: Effect::Allow,
        permission_groups: ["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()].into(),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_media",
                w.sb.emu.account_id()
            ),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    admin
        .create_bucket(Jurisdiction::Default, "media", None, StorageClass::Standard)
        .await
        .unwrap();
    let made = admin
        .create_token(Owner::Account, &common::token_request("CI key", policy))
        .await
        .unwrap();
    let id = made.token.id.clone();
    let a = w.runner("a");
    let yaml = std::fs::read_to_string(a.join("r2gitops.yaml")).unwrap();
    std::fs::write(
        a.join("r2gitops.yaml"),
        format!(
            "{yaml}  - name: ci\n    adopt: \"{id}\"\n    access: object-read-write\n    buckets: [media]\n    output: {{ file: ci.env.age, format: env }}\n"
        ),
    )
    .unwrap();
    std::fs::write(a.join("value"), format!("{}\n", made.value.expose())).unwrap();
    let lease = json!({
        "holder": "laptop/4242/beef",
        "epoch": 3,
        "acquired_at": "2026-01-01T00:00:00Z",
        "expires_at": "2999-01-01T00:00:00Z",
    });
    let put =
        w.s3(json!([{"op": "put", "key": format!("{KEY}.lease"), "body": lease.to_string()}]));
    w.sb.emu.reset_stats();
    let adopt = ["adopt", "ci", "--value-file", "value", "--state", STATE];
    let (w2, a2) = (w.clone(), a.clone());
    let refused = tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &adopt)))
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains(
            "the state r2://state/teams/r2gitops.json is locked: its lease is held by 'laptop/4242/beef'"
        ),
        "{}",
        text(&refused)
    );
    assert!(!a.join("secrets/ci.env.age").exists(), "nothing written");
    assert_eq!(w.sb.emu.stats().mutating, 0);

    w.s3(json!([{"op": "delete", "key": format!("{KEY}.lease"), "if_match": put[0]["etag"]}]));
    let (w2, a2) = (w.clone(), a.clone());
    let adopted = tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &adopt)))
        .await
        .unwrap();
    assert_eq!(adopted.status.code(), Some(0), "{}", text(&adopted));
    assert!(text(&adopted).contains(&format!("adopted token ci ({id})")));
    assert!(a.join("secrets/ci.env.age").exists());
    assert!(
        !a.join("secrets/.r2gitops-state.json").exists(),
        "with --state the inventory is not a local file"
    );
    let got =
        w.s3(json!([{"op": "get", "key": KEY}, {"op": "get", "key": format!("{KEY}.lease")}]));
    let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["inventory"]["tokens"]["ci"]["id"], json!(id), "{doc}");
    assert!(
        doc["epoch"].as_u64().unwrap() >= 1,
        "written under a lease (epoch 0 is none): {doc}"
    );
    assert_eq!(
        got[1]["error"], "NoSuchKey",
        "the lease is released at exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_with_state_reads_the_r2_inventory_to_tell_this_files_tokens_from_others() {
    let w = Arc::new(World::new().await);
    let (a, b) = (w.runner("a"), w.runner("b"));
    let w2 = w.clone();
    let a2 = a.clone();
    let applied =
        tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &["reconcile", "--state", STATE])))
            .await
            .unwrap();
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    // A token carrying the prefix that this file's inventory does not record.
    let policy = Policy {
        effect: Effect::Allow,
        permission_groups: ["6a018a9f2fc74eb6b293b0c548f38b39".to_string()].into(),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_media",
                w.sb.emu.account_id()
            ),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    common::admin_client(&w.sb.emu)
        .await
        .into_writer()
        .create_token(
            Owner::Account,
            &common::token_request("r2gitops:other", policy),
        )
        .await
        .unwrap();
    w.sb.emu.reset_stats();
    let w2 = w.clone();
    let (with, without) = tokio::task::spawn_blocking(move || {
        let import = |extra: &[&str]| {
            let mut cmd = w2
                .sb
                .r2gitops_without_file(&[&["import", "--with", "none"][..], extra].concat());
            cmd.env("AWS_ACCESS_KEY_ID", &w2.key_id)
                .env("AWS_SECRET_ACCESS_KEY", &w2.secret)
                .current_dir(&b);
            run(cmd)
        };
        (import(&["--state", STATE]), import(&[]))
    })
    .await
    .unwrap();
    assert_eq!(with.status.code(), Some(0), "{}", text(&with));
    assert!(
        text(&with).contains("1 tokens carry the prefix but are not in the inventory given"),
        "{}",
        text(&with)
    );
    assert!(
        text(&with).contains("imported 2 buckets and 2 managed tokens"),
        "{}",
        text(&with)
    );
    assert!(
        text(&without).contains("imported 2 buckets and 3 managed tokens"),
        "without the inventory every prefixed token looks managed: {}",
        text(&without)
    );
    assert_eq!(w.sb.emu.stats().mutating, 0, "import changes nothing");
}
