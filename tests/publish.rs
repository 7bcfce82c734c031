//! Publishing outputs to git (`settings.publish`), end to end with the real `git` and a
//! local bare repository as the remote: one commit holding only encrypted files and no
//! secret anywhere in `git log -p`; no commit when nothing changed; a push that races
//! another writer is rebuilt on top of it, not lost; a rotation is on the branch when the
//! pass that rolls it returns; the watched repository and branch are refused; a committer
//! cannot point the clone outside the file's tree.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Sandbox;

const BRANCH: &str = "r2gitops-outputs";

fn yaml(publish: &str) -> String {
    format!(
        r#"version: 1
settings:
  recipients: ["{{recipient}}"]
  publish: {publish}
buckets:
  - {{ name: media }}
tokens:
  - name: media-reader
    access: object-read
    buckets: [media]
    rotate_every: 24h
    output:
      file: clusters/prod/media/r2-media-reader.sops.yaml
      format: kubernetes-sops
      kubernetes: {{ namespace: media, labels: {{ app: media }} }}
  - name: media-backup
    access: object-read-write
    buckets: [media]
    output: {{ file: backup/media.env.age, format: env, include_api_token: true }}
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
      kubernetes: {{ namespace: media }}
"#
    )
}

const PUBLISHED: [&str; 3] = [
    "backup/media.env.age",
    "clusters/prod/media/r2-media-inbound.sops.yaml",
    "clusters/prod/media/r2-media-reader.sops.yaml",
];

/// `git` with no configuration of this machine's user in the way.
fn git(dir: &Path, args: &[&str]) -> String {
    String::from_utf8_lossy(&git_bytes(dir, args)).into_owned()
}

fn git_bytes(dir: &Path, args: &[&str]) -> Vec<u8> {
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
    out.stdout
}

/// A bare remote outside the sandbox, and a clone of it at `<sandbox>/fleet`.
struct Fleet {
    _home: tempfile::TempDir,
    remote: PathBuf,
    clone: PathBuf,
}

fn fleet(sb: &Sandbox) -> Fleet {
    let home = tempfile::tempdir().unwrap();
    let remote = home.path().join("fleet.git");
    git(
        home.path(),
        &["init", "-q", "--bare", "-b", "main", "fleet.git"],
    );
    let clone = sb.dir.path().join("fleet");
    git(
        sb.dir.path(),
        &["clone", "-q", remote.to_str().unwrap(), "fleet"],
    );
    Fleet {
        _home: home,
        remote,
        clone,
    }
}

fn reconcile(sb: &Sandbox) -> (i32, String, String) {
    let out = sb.r2gitops(&["reconcile"]).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn reconciled(sb: &Sandbox) -> String {
    let (code, out, err) = reconcile(sb);
    assert_eq!(code, 0, "reconcile failed:\n{out}\n{err}");
    out
}

fn commits(f: &Fleet) -> Vec<String> {
    git(&f.remote, &["rev-list", BRANCH])
        .lines()
        .map(str::to_string)
        .collect()
}

fn files(f: &Fleet) -> Vec<String> {
    git(&f.remote, &["ls-tree", "-r", "--name-only", BRANCH])
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_publishes_one_commit_of_encrypted_files_and_git_log_holds_no_secret() {
    let sb = Sandbox::new().await;
    let f = fleet(&sb);
    sb.write(&yaml(&format!("{{ repository: fleet, branch: {BRANCH} }}")));

    // The dry run says what the apply will publish, and changes nothing.
    let dry = sb.r2gitops(&["reconcile", "--dry-run"]).output().unwrap();
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry_out.contains(&format!("↗ publish 3 files to {BRANCH} (fleet)")),
        "{dry_out}"
    );
    assert!(git(&f.remote, &["branch", "--list", BRANCH]).is_empty());

    let out = reconciled(&sb);
    assert!(out.contains("Published 3 files in commit "), "{out}");
    assert_eq!(commits(&f).len(), 1, "one commit");
    assert_eq!(files(&f), PUBLISHED, "only the outputs");
    // Each file is the ciphertext the writer wrote, byte for byte.
    for rel in PUBLISHED {
        let on_branch = git_bytes(&f.remote, &["show", &format!("{BRANCH}:{rel}")]);
        let on_disk = std::fs::read(sb.out().join(rel)).unwrap();
        assert!(on_branch == on_disk, "{rel} differs on the branch");
    }
    // Encrypted: SOPS files carry ENC[...] values and a MAC, the env file is age.
    let sops = git(&f.remote, &["show", &format!("{BRANCH}:{}", PUBLISHED[2])]);
    assert!(sops.contains("\"AWS_SECRET_ACCESS_KEY\": \"ENC[AES256_GCM,"));
    let env = std::fs::read(sb.out().join(PUBLISHED[0])).unwrap();
    assert!(env.starts_with(b"age-encryption.org/v1\n"));
    // The message says what and why, and no value.
    let log = git(&f.remote, &["log", "-p", "--format=%an <%ae>%n%B", BRANCH]);
    assert!(
        log.starts_with("r2gitops <r2gitops@localhost>\nr2gitops: publish 3 credential files\n"),
        "{log}"
    );
    assert!(log.contains("+ create token media-reader"), "{log}");
    let mut secrets = sb.emu.issued_secrets();
    secrets.push(sb.emu.admin_token().to_string());
    // The temporary credential's secret and session token too, read from the output.
    let (_, inbound) = {
        let out = Command::new(common::root().join(".venv/bin/sops"))
            .arg("decrypt")
            .arg(sb.out().join(PUBLISHED[1]))
            .env_clear()
            .env("SOPS_AGE_KEY_FILE", &sb.identity)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
        ((), v)
    };
    for key in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        secrets.push(inbound["stringData"][key].as_str().unwrap().to_string());
    }
    assert!(secrets.len() >= 6);
    let everything = format!(
        "{log}{}",
        git(&f.remote, &["log", "-p", "--all", "--format=%H %B"])
    );
    for s in &secrets {
        assert!(
            !everything.contains(s.as_str()),
            "a secret is in git log -p"
        );
    }
    // Nothing was written into the clone's work tree or its branches.
    assert_eq!(git(&f.clone, &["status", "--porcelain"]), "");

    // A second reconcile with nothing changed makes no commit.
    let out = reconciled(&sb);
    assert!(!out.contains("Published 3"), "{out}");
    assert_eq!(commits(&f).len(), 1, "no second commit");
    let dry = sb.r2gitops(&["reconcile", "--dry-run"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&dry.stdout).contains("↗ publish"));
}

/// A pre-receive hook that, on the first push only, lands another writer's commit on the
/// branch first: the push it runs for then fails to update the ref, as a push that lost a
/// race does.
fn race_once(remote: &Path) {
    let hook = remote.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            r#"#!/bin/sh
set -e
[ -e "$GIT_DIR/raced" ] && exit 0
touch "$GIT_DIR/raced"
# Out of the push's quarantine: the other writer's objects and ref update are real.
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
old=$(git rev-parse refs/heads/{BRANCH})
blob=$(echo 'another writer' | git hash-object -w --stdin)
tree=$( (git ls-tree $old; printf '100644 blob %s\tnotes.txt\n' $blob) | git mktree)
new=$(echo 'a concurrent push' | GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x@x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x git commit-tree $tree -p $old)
git update-ref refs/heads/{BRANCH} $new $old
"#
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_push_to_the_branch_is_rebuilt_over_not_lost() {
    let sb = Sandbox::new().await;
    let f = fleet(&sb);
    sb.write(&yaml(&format!("{{ repository: fleet, branch: {BRANCH} }}")));
    reconciled(&sb);
    let first = commits(&f);
    race_once(&f.remote);
    // An output changed since it was written rolls its token: one file to publish. (A
    // missing one would be restored from the branch.)
    std::fs::write(sb.out().join(PUBLISHED[2]), b"changed by hand\n").unwrap();
    let out = reconciled(&sb);
    assert!(out.contains("Published 1 file in commit "), "{out}");
    assert!(f.remote.join("raced").exists(), "the race happened");
    let now = commits(&f);
    assert_eq!(
        now.len(),
        3,
        "ours on top of the other writer's, on top of the first"
    );
    assert_eq!(now[2], first[0]);
    let other = git(&f.remote, &["log", "-1", "--format=%s", &now[1]]);
    assert_eq!(other.trim(), "a concurrent push");
    assert_eq!(
        git(&f.remote, &["rev-parse", &format!("{}^", now[0])]).trim(),
        now[1]
    );
    let mut want: Vec<&str> = PUBLISHED.to_vec();
    want.push("notes.txt");
    want.sort_unstable();
    assert_eq!(files(&f), want, "the other writer's file is kept");
    let on_branch = git(&f.remote, &["show", &format!("{BRANCH}:{}", PUBLISHED[2])]);
    assert_eq!(
        on_branch.as_bytes(),
        std::fs::read(sb.out().join(PUBLISHED[2]))
            .unwrap()
            .as_slice(),
        "the new Secret is the one on the branch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_is_on_the_branch_when_the_pass_that_rolls_it_returns() {
    let sb = Sandbox::new().await;
    let f = fleet(&sb);
    sb.write(&yaml(&format!("{{ repository: fleet, branch: {BRANCH} }}")));
    reconciled(&sb);
    let before = git(&f.remote, &["show", &format!("{BRANCH}:{}", PUBLISHED[2])]);
    // The value was issued two days ago: rotate_every (24h) has elapsed.
    let state = sb.out().join(".r2gitops-state.json");
    let mut inv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let old = (time::OffsetDateTime::now_utc() - time::Duration::days(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    inv["tokens"]["media-reader"]["created_at"] = serde_json::json!(old);
    std::fs::write(&state, serde_json::to_string_pretty(&inv).unwrap()).unwrap();

    let out = reconciled(&sb);
    assert!(
        out.contains("± rotate token media-reader: rotate_every 1d elapsed"),
        "{out}"
    );
    // Before any later pass could retire the old key, the new Secret is published.
    assert_eq!(commits(&f).len(), 2);
    let after = git(&f.remote, &["show", &format!("{BRANCH}:{}", PUBLISHED[2])]);
    assert_ne!(before, after);
    assert_eq!(
        after.as_bytes(),
        std::fs::read(sb.out().join(PUBLISHED[2]))
            .unwrap()
            .as_slice()
    );
    let message = git(&f.remote, &["log", "-1", "--format=%B", BRANCH]);
    assert!(
        message.contains(&format!(
            "- {}: ± rotate token media-reader: rotate_every 1d elapsed",
            PUBLISHED[2]
        )),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_to_the_repository_and_branch_the_daemon_watches_is_refused() {
    let sb = Sandbox::new().await;
    let f = fleet(&sb);
    // The desired-state file lives in a checkout of the same remote, on `main`: the
    // checkout the daemon watches. Its clone `fleet` (untracked inside it) pushes there too.
    git(sb.dir.path(), &["init", "-q", "-b", "main"]);
    git(
        sb.dir.path(),
        &["remote", "add", "origin", f.remote.to_str().unwrap()],
    );
    sb.write(&yaml("{ repository: fleet, branch: main }"));
    git(sb.dir.path(), &["add", "r2gitops.yaml"]);
    git(sb.dir.path(), &["commit", "-q", "-m", "desired state"]);
    git(sb.dir.path(), &["push", "-q", "origin", "main"]);
    let main_before = git(&f.remote, &["rev-parse", "main"]);

    let (code, out, err) = reconcile(&sb);
    assert_eq!(code, 1, "{out}\n{err}");
    let text = format!("{out}{err}");
    assert!(
        text.contains("r2gitops.yaml:4:41: settings.publish.branch: 'main' is the branch of the repository this daemon watches"),
        "{text}"
    );
    assert_eq!(git(&f.remote, &["rev-parse", "main"]), main_before);

    // The same clone with a branch of its own publishes.
    sb.write(&yaml(&format!("{{ repository: fleet, branch: {BRANCH} }}")));
    reconciled(&sb);
    assert_eq!(files(&f), PUBLISHED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committers_repository_outside_the_files_tree_is_refused_with_its_location() {
    let sb = Sandbox::new().await;
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), sb.dir.path().join("fleet")).unwrap();
    let cases = [
        (
            "{ repository: ../../elsewhere, branch: b }".to_string(),
            "r2gitops.yaml:4:26: settings.publish.repository: publish repository '../../elsewhere' contains '..'",
        ),
        (
            "{ repository: fleet, branch: b }".to_string(),
            "r2gitops.yaml:4:26: settings.publish.repository: publish repository 'fleet' leads out of the directory of this file through the symlink 'fleet' -> ",
        ),
    ];
    for (publish, want) in cases {
        sb.write(&yaml(&publish));
        for cmd in [vec!["validate"], vec!["reconcile"]] {
            let out = sb.r2gitops(&cmd).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{cmd:?}: {err}");
            assert!(err.contains(want), "{cmd:?}: {err}");
        }
    }
    // The operator's pin names any clone; the file's value is then not used.
    let f = fleet_at(elsewhere.path());
    sb.write(&yaml("{ repository: ../../elsewhere, branch: b }"));
    let out = sb
        .r2gitops(&[
            "reconcile",
            "--publish-repository",
            f.clone.to_str().unwrap(),
            "--publish-branch",
            BRANCH,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files(&f), PUBLISHED);
}

fn fleet_at(dir: &Path) -> Fleet {
    let remote = dir.join("fleet.git");
    git(dir, &["init", "-q", "--bare", "-b", "main", "fleet.git"]);
    let clone = dir.join("clone");
    git(dir, &["clone", "-q", remote.to_str().unwrap(), "clone"]);
    Fleet {
        _home: tempfile::tempdir().unwrap(),
        remote,
        clone,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_publishes_and_status_and_metrics_show_the_last_commit() {
    let sb = Sandbox::new().await;
    let f = fleet(&sb);
    sb.write(&yaml(&format!("{{ repository: fleet, branch: {BRANCH} }}")));
    let w = common::Watch::spawn(sb.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--debounce",
        "100ms",
    ]));
    common::until(
        std::time::Duration::from_secs(60),
        "a published commit",
        || async { w.get("/status").1.contains("\"last_commit\":\"") },
    )
    .await;
    let head = git(&f.remote, &["rev-parse", BRANCH]).trim().to_string();
    let (_, body) = w.get("/status");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["publish"]["last_commit"], head, "{body}");
    assert_eq!(status["publish"]["branch"], BRANCH);
    assert_eq!(status["publish"]["error"], serde_json::Value::Null);
    assert_eq!(w.metric("r2gitops_publish_total{result=\"commit\"}"), 1.0);
    assert_eq!(w.metric("r2gitops_publish_failing"), 0.0);
    let (_, metrics) = w.get("/metrics");
    assert!(metrics.contains(&format!(
        "r2gitops_publish_last_commit_info{{commit=\"{head}\"}} 1"
    )));

    // The remote goes away: the failure is shown, the pass itself is not failed by it.
    std::fs::rename(&f.remote, f.remote.with_extension("moved")).unwrap();
    sb.write(
        &yaml(&format!("{{ repository: fleet, branch: {BRANCH} }}"))
            .replace("ttl: 12h", "ttl: 11h"),
    );
    common::until(
        std::time::Duration::from_secs(60),
        "a publish failure",
        || async { w.metric("r2gitops_publish_failing") == 1.0 },
    )
    .await;
    let (_, body) = w.get("/status");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        status["publish"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(status["publish"]["last_commit"], head);
}
