//! `--state-credentials temporary`, through the binary against the emulator, with no AWS
//! key anywhere: r2gitops mints the state's S3 credentials under its parent token
//! `r2gitops:state` (created once, found by name after), scoped to KEY and KEY.lease, renews
//! them, never lets a file touch the parent, and never writes a minted secret out.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use r2gitops::cloudflare::WriteApi;
use r2gitops::config::{Jurisdiction, StorageClass};
use serde_json::{Value, json};

use common::output::text;

const STATE: &str = "r2://state/teams/r2gitops.json";
const KEY: &str = "teams/r2gitops.json";
const PARENT: &str = "r2gitops:state";

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

/// The sandbox and a `state` bucket; no S3 key for it exists.
struct World {
    sb: common::Sandbox,
}

impl World {
    async fn new() -> World {
        let sb = common::Sandbox::new().await;
        common::admin_client(&sb.emu)
            .await
            .into_writer()
            .create_bucket(Jurisdiction::Default, "state", None, StorageClass::Standard)
            .await
            .unwrap();
        sb.write(FILE);
        sb.emu.reset_stats();
        World { sb }
    }

    fn runner(&self, name: &str) -> PathBuf {
        let dir = self.sb.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(self.sb.file(), dir.join("r2gitops.yaml")).unwrap();
        dir
    }

    /// `r2gitops ARGS -f DIR/r2gitops.yaml --output-dir OUT`, with only what the sandbox sets
    /// (the Cloudflare API token, no AWS_*), logging r2gitops at TRACE for the leak scan.
    fn cmd(&self, dir: &Path, out: &Path, args: &[&str]) -> Command {
        let mut cmd = self.sb.r2gitops_without_file(args);
        cmd.arg("-f")
            .arg(dir.join("r2gitops.yaml"))
            .arg("--output-dir")
            .arg(out)
            .env("RUST_LOG", "info,r2gitops=trace")
            .current_dir(dir);
        cmd
    }

    fn parents(&self) -> Vec<String> {
        self.sb
            .emu
            .tokens()
            .into_iter()
            .filter(|t| t.name == PARENT)
            .map(|t| t.id)
            .collect()
    }

    /// Boto3 with one minted credential, on the state bucket unless an op names another.
    fn s3_as(&self, cred: &(String, String, String), ops: Value) -> Value {
        let ops: Vec<Value> = ops
            .as_array()
            .unwrap()
            .iter()
            .map(|op| {
                let mut op = op.clone();
                op["endpoint"] = json!(self.sb.emu.s3_urls()["default"]);
                op["key_id"] = json!(cred.0);
                op["secret"] = json!(cred.1);
                op["session_token"] = json!(cred.2);
                if op.get("bucket").is_none() {
                    op["bucket"] = json!("state");
                }
                op
            })
            .collect();
        common::s3_ops(&json!(ops))
    }

    /// Every minted secret and session token, and every token value issued (the parent's
    /// included) with its derived S3 secret: none may be in `text`.
    fn assert_no_secret_in(&self, what: &str, text: &str) {
        let mut secrets = self.sb.emu.issued_secrets();
        for (_, secret, session) in self.sb.emu.temporary_secrets() {
            secrets.push(secret);
            secrets.push(session);
        }
        for s in secrets {
            assert!(!text.contains(&s), "a secret is in {what}");
        }
    }

    /// The same over every file under the sandbox.
    fn assert_no_secret_on_disk(&self) {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(self.sb.dir.path(), &mut files);
        for f in files {
            let bytes = std::fs::read(&f).unwrap_or_default();
            self.assert_no_secret_in(&f.display().to_string(), &String::from_utf8_lossy(&bytes));
        }
    }
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!(
        "-> {:?}\nstdout:\n{}\nstderr (tail):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        tail(&String::from_utf8_lossy(&out.stderr))
    );
    out
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_and_a_daemon_with_minted_state_credentials_converge_with_no_s3_key_anywhere() {
    use common::{Watch, until};
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let out = a.join("secrets");
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let (first, second) = tokio::task::spawn_blocking(move || {
        let args = [
            "reconcile",
            "--state",
            STATE,
            "--state-credentials",
            "temporary",
        ];
        let first = run(w2.cmd(&a2, &o2, &args));
        w2.sb.emu.reset_stats();
        // AWS keys in the environment (another tool's) are not the state's: the flag wins.
        let mut second = w2.cmd(&a2, &o2, &args);
        second
            .env("AWS_ACCESS_KEY_ID", "AKIDOFANOTHERTOOL")
            .env("AWS_SECRET_ACCESS_KEY", "not-for-the-state");
        let second = run(second);
        (first, second)
    })
    .await
    .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(text(&first).contains("Apply complete: 3 done, 0 failed"));
    assert!(
        text(&first).contains("created the parent token 'r2gitops:state'"),
        "{}",
        tail(&text(&first))
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(text(&second).contains("No changes."), "{}", text(&second));
    assert!(
        text(&second).contains("ignored=AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"),
        "{}",
        tail(&text(&second))
    );
    let stats = w.sb.emu.stats();
    eprintln!("second run: {:?}", stats.by_route);
    assert_eq!(
        stats.mutating, 1,
        "the second run's one write is its mint: {:?}",
        stats.by_route
    );
    assert_eq!(
        stats
            .by_route
            .get("POST /accounts/:id/r2/temp-access-credentials"),
        Some(&1),
        "{:?}",
        stats.by_route
    );
    let parents = w.parents();
    assert_eq!(parents.len(), 1, "one parent after two runs");
    let parent = parents[0].clone();
    let view =
        w.sb.emu
            .tokens()
            .into_iter()
            .find(|t| t.id == parent)
            .unwrap();
    assert_eq!(
        view.policies,
        vec![(
            "allow".to_string(),
            vec!["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()],
            vec![format!(
                "com.cloudflare.edge.r2.bucket.{}_default_state",
                w.sb.emu.account_id()
            )]
        )],
        "object read & write on the state bucket alone"
    );

    // Every credential minted: under the parent, on the state bucket, for KEY and KEY.lease.
    let minted = w.sb.emu.temporary_credentials();
    assert_eq!(minted.len(), 2, "one per run");
    for m in &minted {
        assert_eq!(m.parent_access_key_id, parent);
        assert_eq!(m.bucket, "state");
        assert_eq!(m.permission, "object-read-write");
        assert!(m.prefixes.is_empty());
        assert_eq!(m.objects, vec![KEY.to_string(), format!("{KEY}.lease")]);
        assert_eq!(m.ttl_seconds, 3600);
    }
    // The state object is there, and the credentials reach nothing else (boto3's own
    // conditional put, plain put and delete).
    let cred = w.sb.emu.temporary_secrets().pop().unwrap();
    let got = w.s3_as(
        &cred,
        json!([
            {"op": "get", "key": KEY},
            {"op": "put", "key": "teams/other.json", "body": "{}", "if_none_match": "*"},
            // Absent, so If-Match alone would answer 412: the scope answers first.
            {"op": "put", "key": format!("{KEY}.bak"), "body": "{}", "if_match": "\"stale\""},
            {"op": "get", "key": "teams/other.json"},
            {"op": "put", "key": "x", "body": "{}", "bucket": "media"},
            {"op": "delete", "key": "teams/other.json", "if_match": "\"stale\""},
        ]),
    );
    let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert!(
        doc["inventory"]["tokens"]["uploader"]["id"].is_string(),
        "{doc}"
    );
    for (i, r) in got.as_array().unwrap().iter().enumerate().skip(1) {
        assert_eq!(r["error"], "AccessDenied", "op {i} outside the scope: {r}");
    }
    w.assert_no_secret_in("the runs' output", &(text(&first) + &text(&second)));

    // A daemon on another runner (the outputs on a shared volume), minting 15 s
    // credentials and renewing its 3 s lease every second: it leads and converges, mints
    // again before the first ones expire, and still leads after they have.
    let b = w.runner("b");
    w.sb.emu.reset_stats();
    let mut daemon = Watch::spawn(w.cmd(
        &b,
        &out,
        &[
            "watch",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1h",
            "--state",
            STATE,
            "--state-credentials",
            "temporary",
            "--state-credentials-ttl",
            "15s",
            "--lease-ttl",
            "3s",
        ],
    ));
    until(Duration::from_secs(60), "the daemon converges", || async {
        daemon.successes() >= 1.0
    })
    .await;
    assert_eq!(daemon.metric("r2gitops_leader "), 1.0);
    let started = std::time::Instant::now();
    until(
        Duration::from_secs(40),
        "the daemon mints anew before expiry",
        || async { w.sb.emu.temporary_credentials().len() >= minted.len() + 2 },
    )
    .await;
    // Renewed ahead of time (at two thirds of the TTL, 5 s before expiry), not at the
    // last moment or after a failure.
    let at = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    };
    let views = w.sb.emu.temporary_credentials();
    let (first, next) = (&views[minted.len()], &views[minted.len() + 1]);
    assert_eq!(first.ttl_seconds, 15);
    let ahead = at(&first.expires_at) - at(&next.issued_at);
    assert!(
        ahead >= time::Duration::seconds(4),
        "minted anew {ahead} before the old ones expired"
    );
    // Past the first daemon credential's expiry (15 s) its lease renewals still succeed.
    tokio::time::sleep(Duration::from_secs(16).saturating_sub(started.elapsed())).await;
    assert_eq!(
        daemon.metric("r2gitops_leader "),
        1.0,
        "still the leader once its first credentials expired:\n{}",
        tail(&daemon.log())
    );
    let stats = w.sb.emu.stats();
    assert_eq!(
        stats.mutating,
        stats
            .by_route
            .get("POST /accounts/:id/r2/temp-access-credentials")
            .copied()
            .unwrap_or(0),
        "the daemon's only writes are its mints (no second parent, no roll): {:?}",
        stats.by_route
    );
    assert_eq!(w.parents(), vec![parent.clone()], "still one parent");
    daemon.signal("-TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)).await, Some(0));
    let cred = w.sb.emu.temporary_secrets().pop().unwrap();
    let got = w.s3_as(&cred, json!([{"op": "get", "key": format!("{KEY}.lease")}]));
    assert_eq!(got[0]["error"], "NoSuchKey", "released at exit");
    w.assert_no_secret_in("the daemon's log", &daemon.log());
    w.assert_no_secret_on_disk();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_declares_adopts_prunes_or_imports_the_parent_token() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let out = a.join("secrets");
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let first = tokio::task::spawn_blocking(move || {
        run(w2.cmd(
            &a2,
            &o2,
            &[
                "reconcile",
                "--state",
                STATE,
                "--state-credentials",
                "temporary",
            ],
        ))
    })
    .await
    .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let parent = w.parents().pop().expect("the parent exists");
    let base = std::fs::read_to_string(a.join("r2gitops.yaml")).unwrap();

    // Declared by name (the default prefix makes `state` into `r2gitops:state`).
    let declared = format!(
        "{base}  - name: state\n    access: object-read\n    buckets: [media]\n    output: {{ file: s.env.age, format: env }}\n"
    );
    // Adopted by id.
    let adopted = format!(
        "{base}  - name: taken\n    access: object-read-write\n    buckets: [media]\n    adopt: \"{parent}\"\n    output: {{ file: t.env.age, format: env }}\n"
    );
    // Pruned: an inventory that records the parent under a name no longer declared.
    let pruned = base.replace("settings:\n", "settings:\n  prune: true\n");
    let (w2, a2, o2, p2) = (w.clone(), a.clone(), out.clone(), parent.clone());
    let outs = tokio::task::spawn_blocking(move || {
        let mut outs = Vec::new();
        std::fs::write(a2.join("r2gitops.yaml"), &declared).unwrap();
        let mut validate = w2.sb.r2gitops_without_file(&["validate", "-f"]);
        validate.arg(a2.join("r2gitops.yaml"));
        outs.push(run(validate));
        std::fs::write(a2.join("r2gitops.yaml"), &adopted).unwrap();
        outs.push(run(w2.cmd(
            &a2,
            &o2,
            &[
                "reconcile",
                "--state",
                STATE,
                "--state-credentials",
                "temporary",
            ],
        )));
        // The inventory, moved to a local file with the parent recorded in it.
        std::fs::write(a2.join("r2gitops.yaml"), &pruned).unwrap();
        let shown = run(w2.cmd(
            &a2,
            &o2,
            &[
                "state",
                "show",
                "--state",
                STATE,
                "--state-credentials",
                "temporary",
            ],
        ));
        assert_eq!(shown.status.code(), Some(0), "{}", text(&shown));
        let mut inv: Value = serde_json::from_slice(&shown.stdout).unwrap();
        let mut ghost = inv["tokens"]["uploader"].clone();
        ghost["id"] = json!(p2);
        ghost["output"] = Value::Null;
        inv["tokens"]["ghost"] = ghost;
        std::fs::write(o2.join(".r2gitops-state.json"), inv.to_string()).unwrap();
        outs.push(run(w2.cmd(&a2, &o2, &["reconcile"])));
        let import = {
            let mut cmd = w2.sb.r2gitops_without_file(&["import", "--with", "none"]);
            cmd.current_dir(&a2);
            run(cmd)
        };
        outs.push(import);
        outs
    })
    .await
    .unwrap();
    let [declared, adopted, pruned, import] = &outs[..] else {
        unreachable!()
    };
    assert_eq!(declared.status.code(), Some(1), "{}", text(declared));
    assert!(
        text(declared).contains("token name 'r2gitops:state' (prefix and name) is r2gitops' own"),
        "{}",
        text(declared)
    );
    assert_eq!(adopted.status.code(), Some(1), "{}", text(adopted));
    assert!(
        text(adopted).contains(&format!(
            "token {parent} is 'r2gitops:state', the parent r2gitops mints the state's temporary credentials under; no file may adopt it"
        )),
        "{}",
        text(adopted)
    );
    assert_eq!(pruned.status.code(), Some(0), "{}", text(pruned));
    let plan = String::from_utf8_lossy(&pruned.stdout);
    assert!(
        !plan.contains(&parent) && !plan.contains("delete"),
        "the prune plan does not name the parent: {plan}"
    );
    assert_eq!(import.status.code(), Some(0), "{}", text(import));
    let file = String::from_utf8_lossy(&import.stdout);
    for line in file.lines().filter(|l| l.contains(&parent)) {
        assert!(
            line.trim_start().starts_with('#') && line.contains("never adopted"),
            "import names the parent only in the comment of what it left out: {line}"
        );
    }
    assert!(file.contains("never adopted"), "{file}");
    assert_eq!(w.parents(), vec![parent], "the parent is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_temporary_state_credentials_are_errors_naming_the_url_with_no_change() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let out = a.join("secrets");
    std::fs::write(
        a.join("creds"),
        "aws_access_key_id = A\naws_secret_access_key = B\n",
    )
    .unwrap();
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let outs = tokio::task::spawn_blocking(move || {
        let t = ["--state", STATE, "--state-credentials", "temporary"];
        let both = run(w2.cmd(
            &a2,
            &o2,
            &[
                &["reconcile"][..],
                &t,
                &["--state-credentials-file", "creds"],
            ]
            .concat(),
        ));
        // A dry run before any apply: the parent does not exist, and a dry run creates none.
        let dry = run(w2.cmd(&a2, &o2, &[&["reconcile", "--dry-run"][..], &t].concat()));
        // An API token Cloudflare refuses: nothing can be minted.
        let mut bad = w2.cmd(&a2, &o2, &[&["reconcile"][..], &t].concat());
        bad.env(
            "CLOUDFLARE_API_TOKEN",
            "not-a-token-not-a-token-not-a-token",
        );
        let bad = run(bad);
        [both, dry, bad]
    })
    .await
    .unwrap();
    let [both, dry, bad] = &outs;
    assert_eq!(both.status.code(), Some(1), "{}", text(both));
    assert!(
        text(both).contains(
            "--state-credentials temporary and --state-credentials-file name two sources"
        ),
        "{}",
        text(both)
    );
    assert_eq!(dry.status.code(), Some(1), "{}", text(dry));
    assert!(
        text(dry).contains(&format!(
            "the state {STATE} has no S3 credentials (--state-credentials temporary): its parent token 'r2gitops:state' does not exist yet, and this command creates nothing"
        )),
        "{}",
        text(dry)
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(bad));
    assert!(
        text(bad).contains(&format!("the state {STATE}"))
            && text(bad).contains("nothing was changed"),
        "{}",
        text(bad)
    );
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "{:?}",
        w.sb.emu.stats().by_route
    );
    assert!(w.parents().is_empty());
    assert!(
        !out.join(".r2gitops-state.json").exists(),
        "no fallback to a local inventory"
    );

    // A parent changed out of band (here: made to reach another bucket) is refused, not
    // repaired or replaced.
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let t = [
        "reconcile",
        "--state",
        STATE,
        "--state-credentials",
        "temporary",
    ];
    let created = tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &o2, &t)))
        .await
        .unwrap();
    assert_eq!(created.status.code(), Some(0), "{}", tail(&text(&created)));
    let parent = w.parents().pop().unwrap();
    let policy = r2gitops::observed::Policy {
        effect: r2gitops::observed::Effect::Allow,
        permission_groups: ["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()].into(),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_media",
                w.sb.emu.account_id()
            ),
            r2gitops::observed::ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    common::admin_client(&w.sb.emu)
        .await
        .into_writer()
        .update_token(
            r2gitops::config::Owner::Account,
            &parent,
            &common::token_request(PARENT, policy),
        )
        .await
        .unwrap();
    w.sb.emu.reset_stats();
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let changed = tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &o2, &t)))
        .await
        .unwrap();
    assert_eq!(changed.status.code(), Some(1), "{}", text(&changed));
    assert!(
        text(&changed).contains(&format!(
            "the state {STATE} has no S3 credentials (--state-credentials temporary): the parent token 'r2gitops:state' ({parent}) does not grant exactly object read & write on the state bucket 'state'"
        )),
        "{}",
        tail(&text(&changed))
    );
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "{:?}",
        w.sb.emu.stats().by_route
    );
    assert_eq!(w.parents(), vec![parent], "neither replaced nor duplicated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_starting_together_leave_one_parent_token() {
    let w = Arc::new(World::new().await);
    // Slow answers: both look for the parent before either has created it.
    w.sb.emu.set_faults(cf_emulator::Faults {
        latency_ms: 100,
        ..Default::default()
    });
    let (a, b) = (w.runner("a"), w.runner("b"));
    let args = [
        "reconcile",
        "--state",
        STATE,
        "--state-credentials",
        "temporary",
        "--lock-timeout",
        "60s",
    ];
    let mut one = w.cmd(&a, &a.join("secrets"), &args);
    let mut two = w.cmd(&b, &a.join("secrets"), &args);
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
    w.sb.emu.set_faults(cf_emulator::Faults::default());
    let stats = w.sb.emu.stats();
    eprintln!("{:?}", stats.by_route);
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", tail(&text(o)));
    }
    let parents = w.parents();
    assert_eq!(parents.len(), 1, "one parent: {parents:?}");
    let creates = outs
        .iter()
        .filter(|o| text(o).contains("created the parent token"))
        .count();
    let deleted = stats
        .by_route
        .get("DELETE /accounts/:id/tokens/:token_id")
        .copied()
        .unwrap_or(0);
    eprintln!("parents created: {creates}, duplicates deleted: {deleted}");
    assert_eq!(
        creates as u64 - 1,
        deleted,
        "each duplicate deleted by its maker"
    );
    for m in
        w.sb.emu
            .temporary_credentials()
            .iter()
            .skip(creates.saturating_sub(1))
    {
        assert_eq!(m.parent_access_key_id, parents[0]);
    }
}
