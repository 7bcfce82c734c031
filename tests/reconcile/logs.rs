//! What reaches the logs: no secret at any level, and an applied step once, in the report.

use std::sync::Arc;
use std::time::Duration;

use crate::common;
use crate::{World, stdout, walk};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_plan_the_report_the_logs_or_the_inventory() {
    use sha2::{Digest, Sha256};
    let w = Arc::new(World::new().await);
    w.write(
        r#"
version: 1
settings: { recipients: ["{recipient}"] }
buckets: [{ name: media }]
tokens:
  - name: wrangler
    access: object-read-write
    buckets: [media]
    rotate_every: 1h
    output: { file: wrangler.env.age, format: env, include_api_token: true }
"#,
    );
    let first = w
        .run(&["--log-format", "json", "reconcile", "--output", "json"])
        .await;
    assert_eq!(first.status.code(), Some(0));
    let value_1 = common::env_vars(&common::age_decrypt(
        &w.identity,
        &w.out().join("wrangler.env.age"),
    ))["CLOUDFLARE_API_TOKEN"]
        .clone();
    // Force a rotation (the output vanished) so that a second value passes through too, at
    // trace.
    std::fs::remove_file(w.out().join("wrangler.env.age")).unwrap();
    let w2 = w.clone();
    let second = tokio::task::spawn_blocking(move || {
        w2.r2gitops(&["reconcile"])
            .env("RUST_LOG", "trace")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(second.status.code(), Some(0));
    assert!(stdout(&second).contains("± rotate token wrangler: output file missing"));
    let value_2 = common::env_vars(&common::age_decrypt(
        &w.identity,
        &w.out().join("wrangler.env.age"),
    ))["CLOUDFLARE_API_TOKEN"]
        .clone();
    assert_ne!(value_1, value_2);

    let mut haystack = Vec::new();
    for o in [&first, &second] {
        haystack.extend_from_slice(&o.stdout);
        haystack.extend_from_slice(&o.stderr);
    }
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("TRACE"),
        "trace logging ran"
    );
    for f in walk(&w.out()) {
        haystack.extend_from_slice(&std::fs::read(f).unwrap());
    }
    let haystack = String::from_utf8_lossy(&haystack);
    let mut secrets = vec![w.emu.admin_token().to_string()];
    for v in [&value_1, &value_2] {
        secrets.push(v.clone());
        secrets.push(hex::encode(Sha256::digest(v.as_bytes())));
    }
    for s in &secrets {
        assert!(!haystack.contains(s.as_str()), "a secret leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_step_is_shown_once_by_the_report_and_never_logged_at_info() {
    let w = Arc::new(World::new().await);
    w.write(
        r#"
version: 1
settings: { recipients: ["{recipient}"] }
buckets: [{ name: media }]
tokens:
  - { name: reader, access: object-read, buckets: [media], ip: { allow: [10.0.0.0/8] }, output: { file: reader.env.age, format: env } }
"#,
    );
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0));
    let report = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    for line in ["+ create bucket media", "+ create token reader"] {
        assert_eq!(report.matches(line).count(), 2, "plan and report: {report}");
        assert!(!log.contains(line), "logged too: {log}");
    }
    // Which key Cloudflare keeps IP conditions under is internal detail: debug only.
    assert!(!log.contains("IP conditions"), "{log}");

    // The daemon prints no report: its log has one line per step.
    w.write(
        r#"
version: 1
settings: { recipients: ["{recipient}"] }
buckets: [{ name: media }, { name: logs }]
"#,
    );
    let d = common::Watch::spawn(w.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "10m",
    ]));
    common::until(
        Duration::from_secs(10),
        "the daemon creates logs",
        || async { d.log().contains("+ create bucket logs") },
    )
    .await;
    assert_eq!(
        d.log().matches("+ create bucket logs").count(),
        1,
        "{}",
        d.log()
    );
}
