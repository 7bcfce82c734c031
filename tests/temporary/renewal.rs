//! The daemon renews temporary credentials: on time, through a failing renewal, without
//! observing the whole account, never postponing the full pass.

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Sandbox, Watch, until};
use serde_json::Value;

use crate::common;
use crate::{YAML, boto3, env_output, op};

/// SHA-256 of a file's bytes, `None` while it is missing.
fn digest(path: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    std::fs::read(path)
        .ok()
        .map(|b| hex::encode(Sha256::digest(b)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_renews_a_one_minute_credential_at_least_twice_within_two_minutes() {
    let sb = Sandbox::new().await;
    sb.write(
        &YAML
            .replace("ttl: 12h", "ttl: 1m\n    refresh_before: 20s")
            .replace("verify: true", "verify: false"),
    );
    let d = Watch::spawn(sb.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "10m",
        "--debounce",
        "100ms",
        // The operator allows a ttl below the 15m a file may declare alone.
        "--min-temporary-ttl",
        "1m",
    ]));
    let file = sb.out().join("partner-a.env.age");
    until(Duration::from_secs(15), "first issue", || async {
        digest(&file).is_some()
    })
    .await;
    let started = Instant::now();
    let mut versions: Vec<(Duration, String)> = Vec::new();
    let mut last: Option<String> = None;
    while versions.len() < 3 && started.elapsed() < Duration::from_secs(120) {
        let now = digest(&file);
        if now.is_some() && now != last {
            // Each version works when it is written.
            let creds = env_output(&sb, "partner-a.env.age");
            let key = format!("inbound/partner-a/v{}", versions.len());
            let got = tokio::task::block_in_place(|| {
                boto3(&sb, &creds, vec![op("put", "media-uploads", &key)])
            });
            assert_eq!(
                got,
                ["ok"],
                "version {} at {:?}",
                versions.len(),
                started.elapsed()
            );
            versions.push((started.elapsed(), creds["AWS_ACCESS_KEY_ID"].clone()));
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        versions.len() >= 3,
        "renewed {} time(s) in 2 minutes: {versions:?}\n{}",
        versions.len().saturating_sub(1),
        d.log()
    );
    let at: Vec<String> = versions
        .iter()
        .map(|(t, _)| format!("{:.1}s", t.as_secs_f64()))
        .collect();
    eprintln!(
        "versions written at {} after the first issue",
        at.join(", ")
    );
    let keys: std::collections::BTreeSet<&String> = versions.iter().map(|(_, k)| k).collect();
    assert_eq!(
        keys.len(),
        versions.len(),
        "each renewal is a new credential"
    );
    // Renewed around expiry - refresh_before (40 s), not before.
    let gap = versions[1].0 - versions[0].0;
    assert!(
        gap >= Duration::from_secs(35) && gap <= Duration::from_secs(50),
        "{versions:?}"
    );
    assert!(d.log().contains("trigger=\"renewal\""), "{}", d.log());
    assert_eq!(d.get("/readyz").0, 200);
    let left = d.metric("r2gitops_temporary_credential_expiry_seconds{name=\"partner-a-inbound\"}");
    assert!((1.0..=60.0).contains(&left), "{left}");
    let (_, status) = d.get("/status");
    let v: Value = serde_json::from_str(&status).unwrap();
    let entry = &v["temporary_credentials"][0];
    assert_eq!(entry["name"], "partner-a-inbound");
    assert!(
        entry["renew_at"].is_string() && entry["last_error"].is_null(),
        "{entry}"
    );
}

/// A daemon token with token management and R2 read, but not R2 write: Cloudflare (and the
/// emulator) refuses it temporary credentials under another token.
async fn weak_daemon_token(sb: &Sandbox) -> String {
    use r2gitops::cloudflare::WriteApi;
    use r2gitops::config::Owner;
    use r2gitops::observed::{Effect, Policy, ResourceValue};
    let admin = common::admin_client(&sb.emu).await.into_writer();
    let policy = Policy {
        effect: Effect::Allow,
        permission_groups: [
            "5bc3f8b21c554832afc660159ab75fa4".to_string(), // Account API Tokens Write
            "b4992e1108244f5d8bfbd5744320c2e1".to_string(), // Workers R2 Storage Read
        ]
        .into(),
        resources: [(
            format!("com.cloudflare.api.account.{}", sb.emu.account_id()),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    let created = admin
        .create_token(
            Owner::Account,
            &common::token_request("daemon-weak", policy),
        )
        .await
        .unwrap();
    created.value.expose().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_renewal_keeps_the_daemon_ready_shows_in_metrics_and_is_retried() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new().await;
    // The bucket exists already: the weak token may read buckets but not create them.
    let admin = common::admin_client(&sb.emu).await.into_writer();
    use r2gitops::cloudflare::WriteApi;
    admin
        .create_bucket(
            r2gitops::config::Jurisdiction::Default,
            "media-uploads",
            None,
            r2gitops::config::StorageClass::Standard,
        )
        .await
        .unwrap();
    sb.write(
        &YAML
            .replace("  - { name: other }\n", "")
            .replace("[media-uploads, other]", "[media-uploads]"),
    );
    let token_file = sb.dir.path().join("api-token");
    let write_token = |value: &str| {
        let tmp = token_file.with_extension("tmp");
        std::fs::write(&tmp, format!("{value}\n")).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::rename(&tmp, &token_file).unwrap();
    };
    write_token(&weak_daemon_token(&sb).await);
    let mut cmd = sb.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "10m",
        "--api-token-file",
        token_file.to_str().unwrap(),
    ]);
    cmd.env_remove("CLOUDFLARE_API_TOKEN");
    let d = Watch::spawn(cmd);
    let failing = "r2gitops_temporary_credential_renewal_failing{name=\"partner-a-inbound\"}";
    until(Duration::from_secs(15), "the issue fails", || async {
        d.get("/metrics").1.contains(&format!("{failing} 1"))
    })
    .await;
    assert_eq!(d.get("/readyz").0, 200, "{}", d.log());
    assert_eq!(
        d.metric("r2gitops_temporary_credential_expiry_seconds{name=\"partner-a-inbound\"}"),
        0.0,
        "never issued"
    );
    let v: Value = serde_json::from_str(&d.get("/status").1).unwrap();
    let error = v["temporary_credentials"][0]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("10000"), "{v}");
    assert!(
        sb.out().join("uploader.env.age").exists(),
        "the parent was still written"
    );
    assert!(!sb.out().join("partner-a.env.age").exists());

    // The daemon's token gains the permission: the retry (backoff 5 s, then 10 s) issues it
    // without any trigger from outside.
    write_token(sb.emu.admin_token());
    until(Duration::from_secs(30), "the retried issue", || async {
        sb.out().join("partner-a.env.age").exists()
    })
    .await;
    until(Duration::from_secs(5), "the metric clears", || async {
        d.get("/metrics").1.contains(&format!("{failing} 0"))
    })
    .await;
    assert!(d.log().contains("trigger=\"renewal retry\""), "{}", d.log());
    assert_eq!(d.metric("r2gitops_passes_total{result=\"failure\"}"), 0.0);
}

/// 60 credentials each renewed by a full pass (list every bucket, every token, re-read
/// what is due) drove several times Cloudflare's limit: a renewal issues, nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_issues_the_credential_without_observing_the_whole_account() {
    let sb = Sandbox::new().await;
    sb.write(
        &YAML
            .replace(
                "  - { name: other }\n",
                "  - { name: other, cors: [], public_dev_url: false }\n",
            )
            .replace("ttl: 12h", "ttl: 1m\n    refresh_before: 40s")
            .replace("verify: true", "verify: false"),
    );
    let d = Watch::spawn(sb.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "10m",
        "--min-temporary-ttl",
        "1m",
    ]));
    let file = sb.out().join("partner-a.env.age");
    until(Duration::from_secs(15), "the first full pass", || async {
        digest(&file).is_some() && d.get("/readyz").0 == 200
    })
    .await;
    let first = digest(&file);
    let passes = d.successes();
    sb.emu.reset_stats();
    // Renewal due 20 s after the issue (ttl 1m - refresh_before 40s), plus jitter.
    until(Duration::from_secs(45), "the renewal pass", || async {
        digest(&file) != first && d.successes() > passes
    })
    .await;
    let stats = sb.emu.stats();
    assert_eq!(
        stats.by_route,
        std::collections::BTreeMap::from([(
            "POST /accounts/:id/r2/temp-access-credentials".to_string(),
            1
        )]),
        "a renewal pass calls Cloudflare once per credential due, and for nothing else\n{}",
        d.log()
    );
    assert!(
        d.log().contains("trigger=\"renewal\" scope=\"renewals\""),
        "{}",
        d.log()
    );
    // What it wrote works.
    let creds = env_output(&sb, "partner-a.env.age");
    let got = tokio::task::block_in_place(|| {
        boto3(
            &sb,
            &creds,
            vec![op(
                "put",
                "media-uploads",
                "inbound/partner-a/after-renewal",
            )],
        )
    });
    assert_eq!(got, ["ok"]);
    // The next renewal is again only an issue, and the interval's resync stays a full pass.
    let v: Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(v["last_pass"]["trigger"], "renewal", "{v}");
    assert_eq!(v["ready"], true, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_passes_never_postpone_the_intervals_full_pass() {
    let sb = Sandbox::new().await;
    sb.write(
        &YAML
            .replace("ttl: 12h", "ttl: 1m\n    refresh_before: 40s")
            .replace("verify: true", "verify: false"),
    );
    // Renewals every ~20 s, a full pass due every 45 s (+/-10%).
    let d = Watch::spawn(sb.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "45s",
        "--min-temporary-ttl",
        "1m",
    ]));
    until(Duration::from_secs(60), "an interval pass", || async {
        d.log().contains("trigger=\"interval\" scope=\"full\"")
    })
    .await;
    let log = d.log();
    let before = &log[..log.find("trigger=\"interval\"").unwrap()];
    assert!(
        before.matches("scope=\"renewals\"").count() >= 1,
        "renewals ran before the interval's pass:\n{log}"
    );
}
