//! Exhaustive crash injection: a reconcile that needs N >= 30 mutating calls
//! (bucket creates and deletes, token creates, an update, a roll of a moved output, a
//! rotation with overlap of another (create, probe, write, record), token deletes) is
//! killed with SIGKILL right after its k-th mutating call has taken effect at
//! the emulator (the emulator holds that call's answer, so the kill is exact, not timed),
//! then run again. After every k: exactly one token per declared name, every output opens
//! with the age CLI and works through boto3, at most one retiring key is recorded and none
//! is left after its `retire_at` (the retiring pass is itself killed after its DELETE), the
//! inventory matches Cloudflare, no plaintext and no temp file in the output directory, and
//! one more run makes no mutating call. Every log (at trace), plan JSON, inventory and output
//! is scanned for every value the emulator ever issued.
//!
//! CI runs every third k; `R2GITOPS_CRASH_ALL=1 cargo test --test crash_injection` runs them
//! all, `R2GITOPS_CRASH_K=22` one.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Sandbox;
use serde_json::{Value, json};

/// The state a crashed run starts from: what a first reconcile made of it.
fn state_a() -> String {
    let mut t = String::from(
        "version: 1\nsettings: { recipients: [\"{recipient}\"], prune: true, max_deletions: 10 }\nbuckets:\n",
    );
    t.push_str("  - { name: keep-1 }\n");
    t.push_str(
        "  - { name: keep-2, notifications: [{ queue: uploads, events: [object-delete] }] }\n",
    );
    for b in ["old-1", "old-2"] {
        t.push_str(&format!("  - {{ name: {b}, protect: false }}\n"));
    }
    t.push_str("tokens:\n");
    t.push_str("  - { name: t-keep, access: object-read, buckets: [keep-1], output: { file: t-keep.env.age, format: env } }\n");
    t.push_str("  - { name: t-update, access: object-read, buckets: [keep-1], output: { file: t-update.env.age, format: env } }\n");
    t.push_str("  - { name: t-roll, access: object-read, buckets: [keep-2], output: { file: t-roll.env.age, format: env } }\n");
    t.push_str("  - { name: t-rotate, access: object-read, buckets: [keep-1], output: { file: t-rotate.env.age, format: env } }\n");
    for n in ["t-old-1", "t-old-2"] {
        t.push_str(&format!("  - {{ name: {n}, access: object-read, buckets: [old-1], output: {{ file: {n}.env.age, format: env }} }}\n"));
    }
    t
}

/// The state the crashed run was applying: 8 bucket creates, 16 token creates, 1 update,
/// 1 roll (the output moved), 1 rotation (t-rotate's output moved: a create), 2 token
/// deletes and 2 bucket deletes: 31 mutating calls;
/// then the configuration writes: CORS, lifecycle and lock PUTs, r2.dev on, a custom domain
/// added, and a queue's notification rules replaced (DELETE, then PUT: a kill can fall
/// between the two).
fn state_b() -> String {
    let mut t = String::from(
        "version: 1\nsettings: { recipients: [\"{recipient}\"], prune: true, max_deletions: 10 }\nbuckets:\n",
    );
    t.push_str(concat!(
        "  - name: keep-1\n",
        "    cors: [{ allowed_origins: [\"https://app.example.com\"], allowed_methods: [GET] }]\n",
        "    lifecycle: [{ id: expire-tmp, prefix: tmp/, expire_after: 7d }]\n",
        "    lock: [{ id: keep, prefix: audit/, retain_for: 30d }]\n",
        "  - name: keep-2\n",
        "    custom_domains: [{ domain: assets.example.com, zone: example.com }]\n",
        "    notifications: [{ queue: uploads, events: [object-create], prefix: images/ }]\n",
        "  - { name: new-1, public_dev_url: true }\n",
    ));
    for i in 2..=8 {
        t.push_str(&format!("  - {{ name: new-{i} }}\n"));
    }
    t.push_str("tokens:\n");
    t.push_str("  - { name: t-keep, access: object-read, buckets: [keep-1], output: { file: t-keep.env.age, format: env } }\n");
    t.push_str("  - { name: t-update, access: object-read-write, buckets: [keep-1, keep-2], output: { file: t-update.env.age, format: env } }\n");
    // Rolled in place (overlap 0); t-rotate's move is a rotation with the default overlap:
    // a create, its probe, the write, the record of the old key as retiring.
    t.push_str("  - { name: t-roll, access: object-read, buckets: [keep-2], rotation_overlap: 0, output: { file: moved/t-roll.env.age, format: env } }\n");
    t.push_str("  - { name: t-rotate, access: object-read, buckets: [keep-1], output: { file: moved/t-rotate.env.age, format: env } }\n");
    for i in 1..=16 {
        let b = (i - 1) % 8 + 1;
        t.push_str(&format!("  - {{ name: n-{i}, access: object-read-write, buckets: [new-{b}], output: {{ file: n-{i}.env.age, format: env }} }}\n"));
    }
    t
}

/// Declared token name -> (output file, one bucket it reaches), for state B.
fn declared_b() -> BTreeMap<String, (String, String)> {
    let mut m = BTreeMap::new();
    m.insert("t-keep".into(), ("t-keep.env.age".into(), "keep-1".into()));
    m.insert(
        "t-update".into(),
        ("t-update.env.age".into(), "keep-2".into()),
    );
    m.insert(
        "t-roll".into(),
        ("moved/t-roll.env.age".into(), "keep-2".into()),
    );
    m.insert(
        "t-rotate".into(),
        ("moved/t-rotate.env.age".into(), "keep-1".into()),
    );
    for i in 1..=16 {
        let b = (i - 1) % 8 + 1;
        m.insert(
            format!("n-{i}"),
            (format!("n-{i}.env.age"), format!("new-{b}")),
        );
    }
    m
}

/// The binary with trace logs going to `log` (a file: a pipe could fill and stall it).
fn reconcile(s: &Sandbox, log: &Path, extra: &[&str]) -> Command {
    let mut args = vec!["reconcile"];
    args.extend_from_slice(extra);
    let mut cmd = s.r2gitops(&args);
    let f = std::fs::File::create(log).unwrap();
    cmd.env("RUST_LOG", "trace")
        .stdout(Stdio::from(f.try_clone().unwrap()))
        .stderr(Stdio::from(f));
    cmd
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// One k: kill after the k-th mutating call, run again, check everything. `logs` collects
/// every file the runs wrote, for the leak scan.
async fn crash_at(k: u64, logs: &mut Vec<String>, issued: &mut Vec<String>) -> u64 {
    let s = Sandbox::new().await;
    s.emu
        .add_zone(cf_emulator::ZoneSeed::parse("example.com").unwrap());
    s.emu.add_queue("uploads");
    s.write(&state_a());
    let setup = blocking({
        let cmd = reconcile(&s, &s.dir.path().join("setup.log"), &[]);
        move || {
            let mut cmd = cmd;
            cmd.status().unwrap()
        }
    })
    .await;
    assert!(setup.success(), "state A converges");
    s.write(&state_b());
    s.emu.reset_stats();
    s.emu.hold_after_mutating(k);

    let crashed_log = s.dir.path().join("crashed.log");
    // One call in flight at a time, so that "after call k" means exactly that: with more,
    // calls already sent when k is held would land too.
    let mut child = reconcile(&s, &crashed_log, &["--concurrency", "1"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut finished = None;
    while !s.emu.holding() {
        if let Some(status) = child.try_wait().unwrap() {
            // Fewer than k mutating calls: the run ended on its own.
            finished = Some(status);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "call {k} never came"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if finished.is_none() {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    s.emu.release();
    let made = s.emu.stats().mutating;

    // Recovery: the next run completes, then one more changes nothing.
    let rerun_log = s.dir.path().join("rerun.log");
    let rerun = blocking({
        let cmd = reconcile(&s, &rerun_log, &[]);
        move || {
            let mut cmd = cmd;
            cmd.status().unwrap()
        }
    })
    .await;
    let text = std::fs::read_to_string(&rerun_log).unwrap_or_default();
    assert!(
        rerun.success(),
        "k={k}: the run after the crash failed:\n{text}"
    );
    s.emu.reset_stats();
    let again_log = s.dir.path().join("again.log");
    let plan_json = s.dir.path().join("plan.json");
    let again = blocking({
        let cmd = reconcile(&s, &again_log, &["--output", "json"]);
        move || {
            let mut cmd = cmd;
            cmd.status().unwrap()
        }
    })
    .await;
    assert!(again.success());
    assert_eq!(
        s.emu.stats().mutating,
        0,
        "k={k}: a second run after recovery changes nothing:\n{}",
        std::fs::read_to_string(&again_log).unwrap_or_default()
    );
    std::fs::copy(&again_log, &plan_json).unwrap();

    // One token per declared name, and t-rotate's old key while it is recorded as
    // retiring (at most one); nothing left of the pruned ones.
    let out = s.out();
    let state = out.join(".r2gitops-state.json");
    let inv: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let retiring: Vec<&str> = inv["retiring"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        retiring.len() <= 1,
        "k={k}: {retiring:?}\n{}\n{}",
        std::fs::read_to_string(&crashed_log).unwrap_or_default(),
        std::fs::read_to_string(&rerun_log).unwrap_or_default()
    );
    let tokens = s.emu.tokens();
    let declared = declared_b();
    for name in declared.keys() {
        let n = tokens
            .iter()
            .filter(|t| t.name == format!("r2gitops:{name}"))
            .filter(|t| !retiring.contains(&t.id.as_str()))
            .count();
        assert_eq!(
            n, 1,
            "k={k}: {name} has {n} tokens besides its retiring key"
        );
    }
    for id in &retiring {
        assert!(
            tokens
                .iter()
                .any(|t| t.id == *id && t.name == "r2gitops:t-rotate"),
            "k={k}: a retiring record of a token that is not t-rotate's old key"
        );
    }
    assert_eq!(
        tokens.len(),
        declared.len() + retiring.len(),
        "k={k}: {:?}",
        tokens.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    assert!(
        s.emu
            .bucket_names("default")
            .iter()
            .all(|b| !b.starts_with("old-"))
    );

    // The configuration stands as declared.
    let keep1 = s.emu.bucket_config("default", "keep-1").unwrap();
    assert_eq!(
        keep1["cors"].as_array().map(Vec::len),
        Some(1),
        "k={k}: {keep1}"
    );
    assert!(
        keep1["lifecycle"]
            .as_array()
            .is_some_and(|r| r.len() == 1 && r[0]["id"] == "expire-tmp"),
        "k={k}: {keep1}"
    );
    assert_eq!(
        keep1["lock"].as_array().map(Vec::len),
        Some(1),
        "k={k}: {keep1}"
    );
    assert_eq!(
        s.emu.bucket_config("default", "new-1").unwrap()["public_dev_url"],
        true
    );
    let domains = s.emu.custom_domains("default", "keep-2").unwrap();
    assert_eq!(
        domains.as_array().map(Vec::len),
        Some(1),
        "k={k}: {domains}"
    );
    let rules = s.emu.notification_rules("default", "keep-2").unwrap();
    assert_eq!(
        rules.get("uploads").map(|r| r.len()),
        Some(1),
        "k={k}: {rules:?}"
    );
    assert_eq!(rules["uploads"][0]["prefix"], "images/", "k={k}: {rules:?}");

    // The inventory matches Cloudflare.
    for (name, _) in declared.iter() {
        let id = inv["tokens"][name]["id"].as_str().unwrap_or_default();
        assert!(
            tokens
                .iter()
                .any(|t| t.id == id && t.name == format!("r2gitops:{name}")),
            "k={k}: the inventory's id for {name} is not Cloudflare's"
        );
    }

    // No plaintext, no temp file: only age files and the inventory.
    for f in walk(&out) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.ends_with(".age") || name == ".r2gitops-state.json" || name.ends_with(".lock"),
            "k={k}: unexpected file {}",
            f.display()
        );
        assert!(!name.contains(".r2gitops-tmp-"), "k={k}: temp file left");
    }

    // Every output opens with the age CLI and its keys work through boto3.
    let mut ops = Vec::new();
    for (file, bucket) in declared.values() {
        let vars = common::env_vars(&common::age_decrypt(&s.identity, &out.join(file)));
        ops.push(json!({
            "endpoint": vars["AWS_ENDPOINT_URL"], "key_id": vars["AWS_ACCESS_KEY_ID"],
            "secret": vars["AWS_SECRET_ACCESS_KEY"], "op": "list", "bucket": bucket,
        }));
    }
    let results = blocking(move || common::s3_ops(&Value::Array(ops))).await;
    for r in results.as_array().unwrap() {
        assert_eq!(r["ok"], true, "k={k}: {results}");
    }

    // Once its overlap has ended, the old key is retired: exactly one token per name.
    if !retiring.is_empty() {
        let mut inv = inv.clone();
        for r in inv["retiring"].as_array_mut().unwrap() {
            r["retire_at"] = json!("2020-01-01T00:00:00Z");
        }
        std::fs::write(&state, serde_json::to_string_pretty(&inv).unwrap()).unwrap();
        // The retire pass killed right after its DELETE took effect, before the inventory
        // could forget the key: the next pass finds it gone and only forgets it.
        s.emu.reset_stats();
        s.emu.hold_after_mutating(1);
        let killed_log = s.dir.path().join("retire-killed.log");
        let mut child = reconcile(&s, &killed_log, &["--concurrency", "1"])
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !s.emu.holding() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "k={k}: the retire pass made no mutating call"
            );
            assert!(start.elapsed() < Duration::from_secs(60), "k={k}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        s.emu.release();
        assert_eq!(
            s.emu.tokens().len(),
            declared.len(),
            "k={k}: the retire pass's first call is the old key's DELETE"
        );
        let retire_log = s.dir.path().join("retire.log");
        let retired = blocking({
            let cmd = reconcile(&s, &retire_log, &[]);
            move || {
                let mut cmd = cmd;
                cmd.status().unwrap()
            }
        })
        .await;
        assert!(
            retired.success(),
            "k={k}: {}",
            std::fs::read_to_string(&retire_log).unwrap_or_default()
        );
        let tokens = s.emu.tokens();
        assert_eq!(
            tokens.len(),
            declared.len(),
            "k={k}: none leaked after retire_at"
        );
        let after: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert!(
            after["retiring"].as_array().is_none_or(Vec::is_empty),
            "k={k}: the retired key is still recorded: {}",
            after["retiring"]
        );
        s.emu.reset_stats();
        let quiet_log = s.dir.path().join("retire-quiet.log");
        let quiet = blocking({
            let cmd = reconcile(&s, &quiet_log, &[]);
            move || {
                let mut cmd = cmd;
                cmd.status().unwrap()
            }
        })
        .await;
        assert!(quiet.success(), "k={k}");
        assert_eq!(
            s.emu.stats().mutating,
            0,
            "k={k}: a pass after the retirement changes nothing:\n{}",
            std::fs::read_to_string(&quiet_log).unwrap_or_default()
        );
        for f in [killed_log, retire_log, quiet_log] {
            logs.push(std::fs::read_to_string(f).unwrap_or_default());
        }
    }

    for f in [
        s.dir.path().join("setup.log"),
        crashed_log,
        rerun_log,
        again_log,
        plan_json,
    ] {
        logs.push(std::fs::read_to_string(f).unwrap_or_default());
    }
    for f in walk(&out) {
        logs.push(String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned());
    }
    issued.extend(s.emu.issued_secrets());
    issued.push(s.emu.admin_token().to_string());
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_after_any_mutating_call_recovers_without_duplicates_or_leaks() {
    let all = std::env::var_os("R2GITOPS_CRASH_ALL").is_some();
    let mut logs = Vec::new();
    let mut issued = Vec::new();
    // k beyond N: the run ends by itself; that measures N.
    let n = crash_at(1_000, &mut logs, &mut issued).await;
    assert!(
        n >= 30,
        "the scenario needs at least 30 mutating calls, has {n}"
    );
    // `R2GITOPS_CRASH_K=22` reruns one k (to look into a failure).
    let one: Option<u64> = std::env::var("R2GITOPS_CRASH_K")
        .ok()
        .and_then(|k| k.parse().ok());
    let ks: Vec<u64> = (1..=n)
        .filter(|k| one.map_or(all || k % 3 == 1 || *k == n, |one| *k == one))
        .collect();
    for k in &ks {
        let made = crash_at(*k, &mut logs, &mut issued).await;
        assert_eq!(made, *k, "the kill came right after call {k}");
    }
    eprintln!("crash injection: N = {n}, killed after calls {ks:?}");

    let haystack = logs.join("\n");
    assert!(haystack.contains("TRACE"), "trace logging ran");
    let leaked: Vec<&String> = issued
        .iter()
        .filter(|s| haystack.contains(s.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "{} issued secret(s) found in logs, plans, inventories or outputs",
        leaked.len()
    );
}
