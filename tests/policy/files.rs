//! A policy refusing a desired-state file: one located violation per key with no mutating
//! call, a policy inside the repository, a policy with an unknown key.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::common;
use crate::{Ops, good, strict, violations};

/// The one violation line of `stderr`: `FILE:LINE:COL: PATH: ... is not allowed by the
/// policy (POLICY:LINE:COL ...`.
fn assert_located(stderr: &str, file: &Path, path: &str, policy: &Path, key: &str) {
    let file = file.display().to_string();
    let policy = policy.display().to_string();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("is not allowed by the policy"))
        .collect();
    assert!(!lines.is_empty(), "{key}: no violation in:\n{stderr}");
    let want_path = if path.is_empty() {
        String::new()
    } else {
        format!(" {path}:")
    };
    let one = lines
        .iter()
        .find(|l| {
            let Some(rest) = l.strip_prefix(&format!("{file}:")) else {
                return false;
            };
            let mut parts = rest.splitn(3, ':');
            let line: Option<u32> = parts.next().and_then(|n| n.parse().ok());
            let column: Option<u32> = parts.next().and_then(|n| n.parse().ok());
            line.is_some_and(|n| n > 0)
                && column.is_some_and(|n| n > 0)
                && parts.next().is_some_and(|r| r.starts_with(&want_path))
                && l.contains(&format!("({policy}:"))
        })
        .unwrap_or_else(|| panic!("{key}: no line located at {path} naming {policy}:\n{stderr}"));
    eprintln!("{key}: {one}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_of_the_policy_refuses_its_violation_located_in_both_files_with_no_mutating_call()
{
    let s = common::Sandbox::new().await;
    let ops = Ops::new();
    ops.write(&strict(&s.recipient));
    let policy = ops.policy();
    let policy_arg = policy.to_str().unwrap();

    // The good file passes, and validate prints its projected cost.
    s.write(&good());
    let out = s
        .r2gitops(&["validate", "--policy", policy_arg])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\ncost: about "), "{stdout}");
    let sha = hex::encode(Sha256::digest(std::fs::read(&policy).unwrap()));
    assert!(stdout.contains(&format!("(sha256 {sha})")), "{stdout}");
    let out = s
        .r2gitops(&["validate", "--output", "json", "--policy", policy_arg])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["policy"],
        serde_json::json!({"path": policy_arg, "sha256": sha}),
        "{report}"
    );
    assert!(
        report["cost"]["calls_per_hour"].as_u64().unwrap() > 0,
        "{report}"
    );

    let mut rows = violations();
    let cost = ops.dir.path().join("cost.yaml");
    std::fs::write(&cost, "version: 1\napi:\n  max_calls_per_hour: 5\n").unwrap();
    rows.push(("api.max_calls_per_hour", good(), ""));
    for (key, text, path) in rows {
        let policy = if key == "api.max_calls_per_hour" {
            cost.clone()
        } else {
            policy.clone()
        };
        let arg = policy.to_str().unwrap();
        s.write(&text);
        let out = s.r2gitops(&["validate", "--policy", arg]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{key}: validate");
        assert_located(
            &String::from_utf8_lossy(&out.stderr),
            &s.file(),
            path,
            &policy,
            key,
        );

        s.emu.reset_stats();
        // Through the environment, as a deployment sets it.
        let out = s
            .r2gitops(&["reconcile"])
            .env("R2GITOPS_POLICY", arg)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{key}: reconcile\n{stderr}");
        assert_located(&stderr, &s.file(), path, &policy, key);
        assert!(
            stderr.contains("nothing was planned or changed"),
            "{key}: {stderr}"
        );
        assert_eq!(s.emu.stats().mutating, 0, "{key}: mutating calls");
        // The file alone (no policy) is a valid file: the policy is what refused it.
        let out = s.r2gitops(&["validate"]).output().unwrap();
        assert!(
            out.status.success(),
            "{key} without the policy:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_inside_the_repository_is_refused_unless_the_operator_allows_it() {
    let s = common::Sandbox::new().await;
    s.write("version: 1\nsettings: {recipients: [\"{recipient}\"]}\nbuckets: []\n");
    let inside = s.dir.path().join("policy.yaml");
    std::fs::write(&inside, "version: 1\n").unwrap();
    let arg = inside.to_str().unwrap();
    let out = s.r2gitops(&["validate", "--policy", arg]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is inside the repository it judges")
            && stderr.contains("--policy-in-repo"),
        "{stderr}"
    );
    let out = s
        .r2gitops(&["validate", "--policy", arg, "--policy-in-repo"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same for the daemon, at start.
    let mut w =
        common::Watch::start(s.r2gitops(&["watch", "--listen", "127.0.0.1:0", "--policy", arg]));
    assert_eq!(
        w.wait_exit(Duration::from_secs(10)).await,
        Some(1),
        "{}",
        w.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_with_an_unknown_key_is_an_error_in_the_policy_and_stops_the_daemon_at_start() {
    let s = common::Sandbox::new().await;
    s.write(&good());
    let ops = Ops::new();
    ops.write("version: 1\nbuckets:\n  nmes: [\"team-a-*\"]\n");
    let arg = ops.policy().display().to_string();
    let out = s
        .r2gitops(&["validate", "--policy", &arg])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{arg}:3:3: buckets.nmes: ")),
        "{stderr}"
    );
    // One JSON document still, the problem located in the policy.
    let out = s
        .r2gitops(&["validate", "--output", "json", "--policy", &arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["diagnostics"][0]["file"], arg.as_str(), "{report}");
    assert_eq!(report["diagnostics"][0]["line"], 3);
    assert_eq!(report["diagnostics"][0]["path"], "buckets.nmes");
    let mut w =
        common::Watch::start(s.r2gitops(&["watch", "--listen", "127.0.0.1:0", "--policy", &arg]));
    assert_eq!(
        w.wait_exit(Duration::from_secs(10)).await,
        Some(1),
        "{}",
        w.log()
    );
    assert!(w.log().contains(&format!("{arg}:3:3")), "{}", w.log());
    assert_eq!(s.emu.stats().mutating, 0);
}
