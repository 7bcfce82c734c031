//! Outputs across replicas: with `--state r2://…` and publishing to git, the publish branch
//! is where the outputs live beyond one disk. Each runner here has its own empty output
//! directory and its own clone of one bare remote, and no volume is shared: a standby that
//! takes over from a killed leader, and a one-shot run in a fresh directory, find the
//! outputs on the branch, restore them, and make no mutating Cloudflare call and no new
//! commit. A branch whose file was tampered with or removed still rolls that token, and an
//! unreachable remote blocks the tokens it should vouch for, naming it, and rolls nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::output::{run, text};
use r2gitops::config::Jurisdiction;
use serde_json::{Value, json};

const STATE: &str = "r2://state/teams/r2gitops.json";
const BRANCH: &str = "r2gitops-outputs";

const FILE: &str = r#"version: 1
settings:
  recipients: ["{recipient}"]
  publish: { repository: fleet, branch: r2gitops-outputs }
buckets:
  - { name: media }
tokens:
  - name: media-reader
    access: object-read
    buckets: [media]
    output:
      file: clusters/prod/media/r2-media-reader.sops.yaml
      format: kubernetes-sops
      kubernetes: { namespace: media }
  - name: media-backup
    access: object-read-write
    buckets: [media]
    output: { file: backup/media.env.age, format: env }
temporary_credentials:
  - name: media-inbound
    parent: media-backup
    bucket: media
    prefixes: [inbound/]
    access: object-read-write
    ttl: 12h
    output:
      file: clusters/prod/media/r2-media-inbound.sops.yaml
      format: kubernetes-sops
      kubernetes: { namespace: media }
"#;

const READER: &str = "clusters/prod/media/r2-media-reader.sops.yaml";
const BACKUP: &str = "backup/media.env.age";
const INBOUND: &str = "clusters/prod/media/r2-media-inbound.sops.yaml";
const OUTPUTS: [&str; 3] = [BACKUP, INBOUND, READER];

/// `git` with no configuration of this machine's user in the way.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "someone")
        .env("GIT_AUTHOR_EMAIL", "someone@example.com")
        .env("GIT_COMMITTER_NAME", "someone")
        .env("GIT_COMMITTER_EMAIL", "someone@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The sandbox, a `state` bucket with S3 credentials on it alone, and one bare remote that
/// every runner's clone pushes to.
struct World {
    sb: common::Sandbox,
    key_id: String,
    secret: String,
    _home: tempfile::TempDir,
    remote: PathBuf,
}

impl World {
    async fn new() -> World {
        let sb = common::Sandbox::new().await;
        let (key_id, secret) = common::state_bucket(&sb.emu, Jurisdiction::Default).await;
        sb.write(FILE);
        let home = tempfile::tempdir().unwrap();
        git(
            home.path(),
            &["init", "-q", "--bare", "-b", "main", "fleet.git"],
        );
        World {
            key_id,
            secret,
            remote: home.path().join("fleet.git"),
            _home: home,
            sb,
        }
    }

    /// A runner: its own directory with a copy of the file and its own clone `fleet` of the
    /// remote; its outputs go to DIR/secrets, which does not exist yet.
    fn runner(&self, name: &str) -> PathBuf {
        let dir = self.sb.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(self.sb.file(), dir.join("r2gitops.yaml")).unwrap();
        git(
            &dir,
            &["clone", "-q", self.remote.to_str().unwrap(), "fleet"],
        );
        dir
    }

    fn cmd(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = self.sb.r2gitops_without_file(args);
        cmd.arg("-f")
            .arg(dir.join("r2gitops.yaml"))
            .arg("--output-dir")
            .arg(dir.join("secrets"))
            .arg("--state")
            .arg(STATE)
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .current_dir(dir);
        cmd
    }

    fn commits(&self) -> Vec<String> {
        git(&self.remote, &["rev-list", BRANCH])
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn on_branch(&self, rel: &str) -> Vec<u8> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.remote)
            .args(["cat-file", "blob", &format!("{BRANCH}:{rel}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{rel} is not on the branch");
        out.stdout
    }

    async fn token_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.sb.emu.tokens().iter().map(|t| t.id.clone()).collect();
        ids.sort();
        ids
    }

    /// Another writer's commit on the branch: `edit` changes a checkout of it.
    fn commit_on_branch(&self, edit: impl FnOnce(&Path)) {
        let work = tempfile::tempdir().unwrap();
        git(
            work.path(),
            &[
                "clone",
                "-q",
                "-b",
                BRANCH,
                self.remote.to_str().unwrap(),
                "w",
            ],
        );
        let w = work.path().join("w");
        edit(&w);
        git(&w, &["add", "-A"]);
        git(&w, &["commit", "-q", "-m", "another writer"]);
        git(&w, &["push", "-q", "origin", BRANCH]);
    }
}

/// The first runner's apply: everything created, written and published in one commit.
async fn first_apply(w: &Arc<World>) {
    let w2 = w.clone();
    let out = tokio::task::spawn_blocking(move || {
        let a = w2.runner("a");
        run(w2.cmd(&a, &["reconcile"]))
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Published 3 files in commit "),
        "{}",
        text(&out)
    );
    assert_eq!(w.commits().len(), 1);
}

/// The SOPS Secret's `stringData`, decrypted by the real `sops`.
fn sops_decrypt(identity: &Path, file: &Path) -> Value {
    let out = Command::new(common::root().join(".venv/bin/sops"))
        .arg("decrypt")
        .arg(file)
        .env_clear()
        .env("SOPS_AGE_KEY_FILE", identity)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops decrypt {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    doc["stringData"].clone()
}

/// Each restored output is the branch's file byte for byte, 0600, decrypts with `age` or
/// `sops`, and its credentials work with boto3 against the emulator.
fn restored_outputs_work(w: &World, out_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for rel in OUTPUTS {
        let path = out_dir.join(rel);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{rel} not restored: {e}"));
        assert!(bytes == w.on_branch(rel), "{rel} differs from the branch");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{rel}");
    }
    let env = common::env_vars(&common::age_decrypt(&w.sb.identity, &out_dir.join(BACKUP)));
    let reader = sops_decrypt(&w.sb.identity, &out_dir.join(READER));
    let inbound = sops_decrypt(&w.sb.identity, &out_dir.join(INBOUND));
    let endpoint = w.sb.emu.s3_urls()["default"].clone();
    let op = |key_id: &str, secret: &str, session: Option<&str>, op: Value| {
        let mut op = op;
        op["endpoint"] = json!(endpoint);
        op["key_id"] = json!(key_id);
        op["secret"] = json!(secret);
        op["bucket"] = json!("media");
        if let Some(s) = session {
            op["session_token"] = json!(s);
        }
        op
    };
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k}")).to_string();
    let results = common::s3_ops(&json!([
        op(
            &env["AWS_ACCESS_KEY_ID"],
            &env["AWS_SECRET_ACCESS_KEY"],
            None,
            json!({"op": "put", "key": "backup/one", "body": "x"})
        ),
        op(
            &s(&reader, "AWS_ACCESS_KEY_ID"),
            &s(&reader, "AWS_SECRET_ACCESS_KEY"),
            None,
            json!({"op": "get", "key": "backup/one"})
        ),
        op(
            &s(&inbound, "AWS_ACCESS_KEY_ID"),
            &s(&inbound, "AWS_SECRET_ACCESS_KEY"),
            Some(&s(&inbound, "AWS_SESSION_TOKEN")),
            json!({"op": "put", "key": "inbound/one", "body": "y"})
        ),
    ]));
    for r in results.as_array().unwrap() {
        assert_eq!(r["ok"], true, "{results}");
    }
    assert_eq!(results[1]["body"], "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_with_its_own_empty_disk_takes_over_from_a_killed_leader_restoring_the_outputs_from_git()
 {
    use common::{Watch, until};
    let w = Arc::new(World::new().await);
    let (a, b) = (w.runner("a"), w.runner("b"));
    let args = [
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "1h",
        "--lease-ttl",
        "3s",
    ];
    let leader = Watch::spawn(w.cmd(&a, &args));
    until(
        Duration::from_secs(60),
        "the leader converges and publishes",
        || async {
            leader.successes() >= 1.0 && !git(&w.remote, &["branch", "--list", BRANCH]).is_empty()
        },
    )
    .await;
    assert_eq!(w.commits().len(), 1, "one commit of the three outputs");
    let mut standby = Watch::spawn(w.cmd(&b, &args));
    until(Duration::from_secs(30), "the second stands by", || async {
        standby.metric("r2gitops_passes_total{result=\"standby\"}") >= 1.0
    })
    .await;
    assert!(
        !b.join("secrets").join(READER).exists(),
        "a standby writes nothing"
    );
    let ids = w.token_ids().await;

    w.sb.emu.reset_stats();
    let mut leader = leader;
    leader.signal("-KILL");
    let _ = leader.wait_exit(Duration::from_secs(10)).await;
    until(
        Duration::from_secs(30),
        "the standby takes over and converges",
        || async { standby.metric("r2gitops_leader ") == 1.0 && standby.successes() >= 1.0 },
    )
    .await;
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "the takeover rolls, rotates and issues nothing"
    );
    assert_eq!(w.token_ids().await, ids, "the same tokens");
    let (_, status) = standby.get("/status");
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["last_pass"]["plan"], json!([]), "{status}");
    assert_eq!(status["publish"]["error"], Value::Null, "{status}");
    assert_eq!(w.commits().len(), 1, "no new commit");
    assert!(
        standby.log().contains("restored from the publish branch"),
        "{}",
        standby.log()
    );
    let (w2, b2) = (w.clone(), b.clone());
    tokio::task::spawn_blocking(move || restored_outputs_work(&w2, &b2.join("secrets")))
        .await
        .unwrap();
    standby.signal("-TERM");
    assert_eq!(standby.wait_exit(Duration::from_secs(20)).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_reconcile_in_a_fresh_directory_finds_the_outputs_on_the_branch_and_changes_nothing()
 {
    let w = Arc::new(World::new().await);
    first_apply(&w).await;
    let ids = w.token_ids().await;
    w.sb.emu.reset_stats();
    let w2 = w.clone();
    let (dry, apply, b) = tokio::task::spawn_blocking(move || {
        let b = w2.runner("b");
        let dry = run(w2.cmd(&b, &["reconcile", "--dry-run", "--detailed-exitcode"]));
        assert!(
            !b.join("secrets").exists(),
            "a dry run restores nothing: it writes nothing"
        );
        let apply = run(w2.cmd(&b, &["reconcile"]));
        (dry, apply, b)
    })
    .await
    .unwrap();
    assert_eq!(dry.status.code(), Some(0), "in sync: {}", text(&dry));
    assert!(text(&dry).contains("No changes."), "{}", text(&dry));
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    assert!(text(&apply).contains("No changes."), "{}", text(&apply));
    assert!(
        text(&apply).contains("Published: the branch already holds every output."),
        "{}",
        text(&apply)
    );
    assert_eq!(w.sb.emu.stats().mutating, 0, "no mutating call");
    assert_eq!(w.token_ids().await, ids);
    assert_eq!(w.commits().len(), 1, "no new commit");
    let w2 = w.clone();
    tokio::task::spawn_blocking(move || restored_outputs_work(&w2, &b.join("secrets")))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_tampered_with_or_removed_on_the_branch_is_not_trusted_and_its_token_rolls() {
    let w = Arc::new(World::new().await);
    first_apply(&w).await;
    // Another writer changes one byte of one Secret (still shaped like SOPS ciphertext),
    // and removes the temporary credential's.
    w.commit_on_branch(|tree| {
        let path = tree.join(READER);
        let text = std::fs::read_to_string(&path).unwrap();
        let at = text.find("ENC[AES256_GCM,data:").unwrap() + "ENC[AES256_GCM,data:".len();
        let mut bytes = text.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        std::fs::write(&path, bytes).unwrap();
        std::fs::remove_file(tree.join(INBOUND)).unwrap();
    });
    let before = w.commits().len();
    w.sb.emu.reset_stats();
    let w2 = w.clone();
    let (dry, apply, b) = tokio::task::spawn_blocking(move || {
        let b = w2.runner("b");
        let dry = run(w2.cmd(&b, &["reconcile", "--dry-run"]));
        let apply = run(w2.cmd(&b, &["reconcile"]));
        (dry, apply, b)
    })
    .await
    .unwrap();
    let plan = text(&dry);
    for want in [
        "token media-reader: output file missing",
        "temporary media-inbound (",
    ] {
        assert!(
            plan.lines()
                .any(|l| l.contains(want) && l.contains("output file missing")),
            "{want}: {plan}"
        );
    }
    assert!(
        !plan.contains("token media-backup"),
        "the untouched output is found on the branch: {plan}"
    );
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    assert!(
        w.sb.emu.stats().mutating > 0,
        "the token is re-keyed, the credential issued"
    );
    // The branch gets the new files, which are the ones written here.
    assert_eq!(w.commits().len(), before + 1);
    for rel in [READER, INBOUND, BACKUP] {
        assert!(
            std::fs::read(b.join("secrets").join(rel)).unwrap() == w.on_branch(rel),
            "{rel}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_publish_remote_blocks_the_tokens_it_should_vouch_for_and_rolls_nothing() {
    let w = Arc::new(World::new().await);
    first_apply(&w).await;
    let ids = w.token_ids().await;
    w.sb.emu.reset_stats();
    let w2 = w.clone();
    let gone = w.remote.with_extension("gone");
    let gone2 = gone.clone();
    let (dry, apply, b) = tokio::task::spawn_blocking(move || {
        let b = w2.runner("b");
        git(
            &b.join("fleet"),
            &["remote", "set-url", "origin", gone2.to_str().unwrap()],
        );
        let dry = run(w2.cmd(&b, &["reconcile", "--dry-run", "--detailed-exitcode"]));
        let apply = run(w2.cmd(&b, &["reconcile"]));
        (dry, apply, b)
    })
    .await
    .unwrap();
    let want = format!(
        "the publish branch '{BRANCH}' could not be read from {}",
        gone.display()
    );
    for o in [&dry, &apply] {
        let t = text(o);
        for name in [
            "token media-reader",
            "token media-backup",
            "temporary media-inbound",
        ] {
            assert!(
                t.lines()
                    .any(|l| l.contains(&format!("blocked {name}")) && l.contains(&want)),
                "{name} is blocked naming the remote: {t}"
            );
        }
        assert!(!t.contains("roll token"), "{t}");
        assert!(!t.contains("rotate token"), "{t}");
    }
    assert_eq!(
        dry.status.code(),
        Some(2),
        "blocked is pending: {}",
        text(&dry)
    );
    assert_eq!(
        apply.status.code(),
        Some(1),
        "the publish fails too: {}",
        text(&apply)
    );
    assert_eq!(w.sb.emu.stats().mutating, 0, "nothing rolled or issued");
    assert_eq!(w.token_ids().await, ids);
    assert!(!b.join("secrets").join(READER).exists());
}
