//! The daemon under stress, as a real process against the emulator:
//! - a fault soak: 20% of API calls fail, a tight rate limit answers 429s, every call takes
//!   100 ms, and the file is edited every few seconds; at the end everything is converged,
//!   no token is duplicated, every failed pass was followed by a successful one, nothing
//!   panicked and memory stayed flat. CI runs a short version (about 30 s);
//!   `R2GITOPS_SOAK=1` runs the 2-minute one with 100 tokens and 50 buckets;
//! - two daemons with separate inventories on one file and one account: they race (each
//!   keeps the token its own inventory records and deletes the other's as a duplicate), and
//!   once one stops the other brings the account to one token per name.

mod common;

use std::time::{Duration, Instant};

use cf_emulator::Faults;
use common::{Sandbox, Watch};

fn file(tokens: usize, buckets: usize, generation: usize) -> String {
    let mut t = String::from("version: 1\nsettings: { recipients: [\"{recipient}\"] }\nbuckets:\n");
    for b in 0..buckets {
        t.push_str(&format!("  - {{ name: soak-{b:03} }}\n"));
    }
    t.push_str("tokens:\n");
    for i in 0..tokens {
        // Each generation widens a rotating slice of the tokens to a second bucket: edits
        // that are updates in place.
        let b = i % buckets;
        let extra = if (i + generation).is_multiple_of(5) {
            format!(", soak-{:03}", (b + 1) % buckets)
        } else {
            String::new()
        };
        t.push_str(&format!(
            "  - {{ name: t-{i:03}, access: object-read, buckets: [soak-{b:03}{extra}], output: {{ file: t-{i:03}.env.age, format: env }} }}\n"
        ));
    }
    t
}

fn one_token_per_name(s: &Sandbox, tokens: usize) {
    let stored = s.emu.tokens();
    for i in 0..tokens {
        let name = format!("r2gitops:t-{i:03}");
        let n = stored.iter().filter(|t| t.name == name).count();
        assert_eq!(n, 1, "{name}: {n} tokens");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_converges_through_a_storm_of_errors() {
    let long = std::env::var_os("R2GITOPS_SOAK").is_some();
    let (tokens, buckets, edits, every) = if long {
        (100, 50, 12, Duration::from_secs(10))
    } else {
        (20, 10, 5, Duration::from_secs(5))
    };
    let s = Sandbox::new().await;
    s.write(&file(tokens, buckets, 0));
    s.emu.set_faults(Faults {
        latency_ms: 100,
        fail_rate: 0.2,
        // Tighter than the client's budget below: another tool shares the account.
        rate_limit: Some((40, Duration::from_secs(10))),
        seed: 7,
        ..Faults::default()
    });
    let d = Watch::spawn(s.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "2s",
        "--debounce",
        "200ms",
        "--request-budget",
        "60/10",
    ]));
    let mut rss = Vec::new();
    for generation in 1..=edits {
        tokio::time::sleep(every).await;
        s.write(&file(tokens, buckets, generation));
        rss.extend(d.proc_kb("VmRSS"));
    }
    // The storm ends; the daemon must now reach the last file.
    s.emu.set_faults(Faults::default());
    let start = Instant::now();
    let last = file(tokens, buckets, edits);
    let converged = loop {
        let plan = s
            .r2gitops(&["reconcile", "--dry-run", "--detailed-exitcode"])
            .output()
            .unwrap();
        if plan.status.code() == Some(0) {
            break true;
        }
        if start.elapsed() > Duration::from_secs(120) {
            eprintln!("{}", String::from_utf8_lossy(&plan.stdout));
            break false;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let log = d.log();
    assert!(converged, "not converged to the last file:\n{last}\n{log}");
    assert!(!log.contains("panicked"), "a panic:\n{log}");
    one_token_per_name(&s, tokens);

    // Every failed pass was followed, later, by a successful one.
    let results: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" pass ") && l.contains("result="))
        .map(|l| {
            if l.contains("result=\"failure\"") || l.contains("result=failure") {
                "failure"
            } else {
                "other"
            }
        })
        .collect();
    let failures = results.iter().filter(|r| **r == "failure").count();
    // A storm it was: the emulator answered 500s and 429s (the client retries most of
    // them away; a pass fails only when one call fails every attempt).
    let calls = s.emu.stats().calls;
    let errors = calls.iter().filter(|c| c.status == 500).count();
    let limited = calls.iter().filter(|c| c.status == 429).count();
    assert!(errors > 10, "only {errors} 500s: not a storm");
    assert_ne!(
        results.last(),
        Some(&"failure"),
        "the last pass failed: {results:?}"
    );
    // Memory stays flat: the last samples are not far above the first ones.
    let half = rss.len() / 2;
    let early = rss[..half.max(1)].iter().copied().max().unwrap_or(0);
    let late = rss[half..].iter().copied().max().unwrap_or(0);
    eprintln!(
        "soak: {tokens} tokens, {buckets} buckets, {edits} edits, {} API calls ({errors} answered 500, {limited} answered 429), {} passes ({failures} failed), RSS {early} kB -> {late} kB",
        calls.len(),
        results.len()
    );
    assert!(
        late <= early + early / 2 + 4096,
        "RSS grew from {early} kB to {late} kB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_with_separate_inventories_end_with_one_token_per_name() {
    let s = Sandbox::new().await;
    let tokens = 6;
    // Rolls in place: what this test counts is the duplicates two inventories make. With an
    // overlap, each daemon's re-keys would also leave recorded retiring keys alive for the
    // overlap (tests/rotation.rs and the crash injection count those).
    s.write(&file(tokens, 3, 0).replace("settings: {", "settings: { rotation_overlap: 0,"));
    let start = |out: &str| {
        let mut cmd = s.r2gitops(&[
            "watch",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1s",
            "--debounce",
            "100ms",
        ]);
        cmd.arg("--output-dir").arg(s.dir.path().join(out));
        Watch::spawn(cmd)
    };
    let a = start("out-a");
    let b = start("out-b");
    // Both run a few passes side by side: each keeps what its own inventory records.
    tokio::time::sleep(Duration::from_secs(6)).await;
    b.signal("-TERM");
    drop(b);
    // The survivor deduplicates; give it a few intervals.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored = s.emu.tokens();
        let ok = (0..tokens).all(|i| {
            stored
                .iter()
                .filter(|t| t.name == format!("r2gitops:t-{i:03}"))
                .count()
                == 1
        });
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "no convergence:\n{}", a.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    one_token_per_name(&s, tokens);
    // What the survivor's files hold is not promised: while both ran, each rolled what the
    // other had rolled, and a change made within the second of the survivor's own last write
    // cannot be told from it (Cloudflare's modified_on is to the second). Say how it went.
    let out = s.dir.path().join("out-a");
    let mut ops = Vec::new();
    for i in 0..tokens {
        let vars = common::env_vars(&common::age_decrypt(
            &s.identity,
            &out.join(format!("t-{i:03}.env.age")),
        ));
        ops.push(serde_json::json!({
            "endpoint": vars["AWS_ENDPOINT_URL"], "key_id": vars["AWS_ACCESS_KEY_ID"],
            "secret": vars["AWS_SECRET_ACCESS_KEY"], "op": "list",
            "bucket": format!("soak-{:03}", i % 3),
        }));
    }
    let results = common::s3_ops(&serde_json::Value::Array(ops));
    let working = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == true)
        .count();
    eprintln!("two daemons: after the race, {working}/{tokens} of the survivor's files work");
}
