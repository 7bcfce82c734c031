//! Temporary credentials, end to end through the real binary against the emulator, proven with boto3
//! (and rclone) using the session token: writes inside the prefix succeed, a write outside
//! it and a read of another bucket are AccessDenied; after a parent roll the old temporary
//! credentials fail and the reissued ones work; the daemon renews a 1-minute credential
//! (refresh_before 20s) at least twice within 2 minutes, each version working when it is
//! written; a failing renewal keeps `/readyz` ready and is retried; no secret or session
//! token reaches trace logs, plan JSON or the inventory.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Sandbox, Watch, until};
use serde_json::{Value, json};

const YAML: &str = r#"version: 1
settings: { recipients: ["{recipient}"] }
buckets:
  - { name: media-uploads }
  - { name: other }
tokens:
  - { name: uploader, access: object-read-write, buckets: [media-uploads, other], output: { file: uploader.env.age, format: env } }
temporary_credentials:
  - name: partner-a-inbound
    parent: uploader
    bucket: media-uploads
    prefixes: [inbound/partner-a/]
    access: object-read-write
    ttl: 12h
    output: { file: partner-a.env.age, format: env, verify: true }
"#;

const ISSUE: &str = "+ issue temporary partner-a-inbound (object-read-write on media-uploads/inbound/partner-a/, 12h)";

fn reconcile(sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["reconcile"];
    all.extend_from_slice(args);
    let out = sb.r2gitops(&all).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn env_output(sb: &Sandbox, file: &str) -> BTreeMap<String, String> {
    common::env_vars(&common::age_decrypt(&sb.identity, &sb.out().join(file)))
}

/// boto3 with the credentials of a decrypted `env` output (session token included when
/// the file has one); one result per operation: "ok" or the S3 error code.
fn boto3(sb: &Sandbox, creds: &BTreeMap<String, String>, ops: Vec<Value>) -> Vec<String> {
    let ops: Vec<Value> = ops
        .into_iter()
        .map(|mut op| {
            op["endpoint"] = json!(creds["AWS_ENDPOINT_URL"]);
            op["key_id"] = json!(creds["AWS_ACCESS_KEY_ID"]);
            op["secret"] = json!(creds["AWS_SECRET_ACCESS_KEY"]);
            if let Some(t) = creds.get("AWS_SESSION_TOKEN") {
                op["session_token"] = json!(t);
            }
            op
        })
        .collect();
    let _ = sb;
    common::s3_ops(&json!(ops))
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match r["ok"].as_bool() {
            Some(true) => "ok".to_string(),
            _ => r["error"].as_str().unwrap_or("?").to_string(),
        })
        .collect()
}

fn op(kind: &str, bucket: &str, key: &str) -> Value {
    json!({"op": kind, "bucket": bucket, "key": key, "body": "hello"})
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_token_writes_inside_the_prefix_and_nothing_outside_or_in_another_bucket() {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(&format!("  {ISSUE}\n")), "{stdout}");
    assert!(
        stdout.contains("Plan: 3 to create, 0 to update, 0 to roll, 1 to issue, 0 to delete"),
        "{stdout}"
    );
    assert!(
        stdout.contains("verify: verified: ListObjectsV2 on bucket 'media-uploads' succeeded"),
        "the output's self-test ran with the session token:\n{stdout}"
    );
    let file = sb.out().join("partner-a.env.age");
    assert_eq!(mode(&file), 0o600);

    // What the emulator issued, read directly: under the parent's id, with the scope.
    let uploader = sb
        .emu
        .tokens()
        .into_iter()
        .find(|t| t.name == "r2gitops:uploader")
        .unwrap();
    let issued = sb.emu.temporary_credentials();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].parent_access_key_id, uploader.id);
    assert_eq!(issued[0].prefixes, ["inbound/partner-a/"]);
    assert_eq!(
        (issued[0].permission.as_str(), issued[0].ttl_seconds),
        ("object-read-write", 43_200)
    );

    let temp = env_output(&sb, "partner-a.env.age");
    assert_eq!(temp["AWS_ACCESS_KEY_ID"], issued[0].access_key_id);
    assert!(temp["AWS_SESSION_TOKEN"].len() > 20);
    assert_eq!(temp["R2_EXPIRES_AT"], issued[0].expires_at);
    // A real object in the other bucket, put with the parent's own credentials: a read the
    // temporary credential could make would succeed.
    let parent = env_output(&sb, "uploader.env.age");
    let got =
        tokio::task::block_in_place(|| boto3(&sb, &parent, vec![op("put", "other", "x.txt")]));
    assert_eq!(got, ["ok"]);
    let got = tokio::task::block_in_place(|| {
        boto3(
            &sb,
            &temp,
            vec![
                op("put", "media-uploads", "inbound/partner-a/report.csv"),
                op("get", "media-uploads", "inbound/partner-a/report.csv"),
                op("put", "media-uploads", "inbound/partner-b/report.csv"),
                op("put", "media-uploads", "report.csv"),
                op("get", "other", "x.txt"),
            ],
        )
    });
    assert_eq!(
        got,
        ["ok", "ok", "AccessDenied", "AccessDenied", "AccessDenied"]
    );

    // The next plan keeps it and says how long it has left.
    let (code, stdout, _) = reconcile(&sb, &["--dry-run", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("  = temporary partner-a-inbound (object-read-write on media-uploads/inbound/partner-a/, 12h) (expires in 11h 59m)\n"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_carries_a_session_token_its_client_uses() {
    let sb = Sandbox::new().await;
    let formats = ["json", "aws", "rclone"];
    let mut yaml = YAML.replace("verify: true", "verify: false");
    for f in formats {
        yaml.push_str(&format!(
            "  - {{ name: p-{f}, parent: uploader, bucket: media-uploads, prefixes: [{f}/], access: object-read-write, ttl: 1h, output: {{ file: p.{f}.age, format: {f} }} }}\n"
        ));
    }
    sb.write(&yaml);
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let plain = |f: &str| common::age_decrypt(&sb.identity, &sb.out().join(format!("p.{f}.age")));

    let j: Value = serde_json::from_slice(&plain("json")).unwrap();
    assert!(j["expires_at"].as_str().unwrap().ends_with('Z'));
    let creds: BTreeMap<String, String> = [
        ("AWS_ENDPOINT_URL", &j["endpoint"]),
        ("AWS_ACCESS_KEY_ID", &j["access_key_id"]),
        ("AWS_SECRET_ACCESS_KEY", &j["secret_access_key"]),
        ("AWS_SESSION_TOKEN", &j["session_token"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.as_str().unwrap().to_string()))
    .collect();
    let got = tokio::task::block_in_place(|| {
        boto3(
            &sb,
            &creds,
            vec![
                op("put", "media-uploads", "json/a"),
                op("put", "media-uploads", "b"),
            ],
        )
    });
    assert_eq!(got, ["ok", "AccessDenied"], "json");

    // aws: boto3 reads the profile itself (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE).
    let scratch = tempfile::tempdir().unwrap();
    let aws_file = scratch.path().join("credentials");
    std::fs::write(&aws_file, plain("aws")).unwrap();
    let script = r#"
import boto3, sys
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.Session().client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
out = []
for key in ["aws/a", "b"]:
    try:
        s3.put_object(Bucket="media-uploads", Key=key, Body=b"x"); out.append("ok")
    except ClientError as e:
        out.append(e.response["Error"]["Code"])
print(",".join(out))
"#;
    let out = std::process::Command::new(common::python())
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch.path())
        .env("AWS_SHARED_CREDENTIALS_FILE", &aws_file)
        .env("AWS_CONFIG_FILE", scratch.path().join("none"))
        .env("AWS_PROFILE", "p-aws")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok,AccessDenied",
        "aws: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // rclone: the remote with session_token (and expires_at, which rclone ignores).
    let conf = scratch.path().join("rclone.conf");
    std::fs::write(&conf, plain("rclone")).unwrap();
    let local = scratch.path().join("up.txt");
    std::fs::write(&local, "from rclone").unwrap();
    let rclone = |dest: &str| {
        common::tool("rclone")
            .arg("--config")
            .arg(&conf)
            .args([
                "copyto",
                local.to_str().unwrap(),
                dest,
                "--retries",
                "1",
                "--low-level-retries",
                "1",
            ])
            .output()
            .unwrap()
    };
    let inside = rclone("p-rclone:media-uploads/rclone/up.txt");
    assert!(
        inside.status.success(),
        "rclone: {}",
        String::from_utf8_lossy(&inside.stderr)
    );
    let outside = rclone("p-rclone:media-uploads/up.txt");
    assert!(!outside.status.success(), "rclone wrote outside its prefix");
    // rclone checks the destination with a HEAD first, whose 403 carries no XML code.
    assert!(
        String::from_utf8_lossy(&outside.stderr).contains("status code: 403"),
        "{}",
        String::from_utf8_lossy(&outside.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_parent_roll_the_old_temporary_credentials_fail_and_the_reissued_ones_work() {
    let sb = Sandbox::new().await;
    // Rolled in place (overlap 0); a rotation keeps them working (the test below).
    sb.write(&YAML.replace(
        "settings: { recipients",
        "settings: { rotation_overlap: 0, recipients",
    ));
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let old = env_output(&sb, "partner-a.env.age");
    let put = || vec![op("put", "media-uploads", "inbound/partner-a/x")];
    assert_eq!(
        tokio::task::block_in_place(|| boto3(&sb, &old, put())),
        ["ok"]
    );

    // The parent's output is lost: it is rolled, and its child reissued right after.
    std::fs::remove_file(sb.out().join("uploader.env.age")).unwrap();
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    let roll = lines
        .iter()
        .position(|l| *l == "↻ roll token uploader: output file missing")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        lines[roll + 1],
        format!("{ISSUE}: its parent token uploader is rolled in this pass"),
        "{stdout}"
    );
    let applied: Vec<&&str> = lines.iter().filter(|l| l.starts_with("[ok]")).collect();
    assert_eq!(applied.len(), 2, "{stdout}");
    assert!(applied[0].contains("roll token uploader") && applied[1].contains("issue temporary"));

    let new = env_output(&sb, "partner-a.env.age");
    assert_ne!(new["AWS_ACCESS_KEY_ID"], old["AWS_ACCESS_KEY_ID"]);
    let got = tokio::task::block_in_place(|| (boto3(&sb, &old, put()), boto3(&sb, &new, put())));
    assert_eq!(
        got,
        (vec!["Unauthorized".to_string()], vec!["ok".to_string()])
    );
    // Both were issued under the same parent id (a roll keeps it).
    let issued = sb.emu.temporary_credentials();
    assert_eq!(issued.len(), 2);
    assert_eq!(
        issued[0].parent_access_key_id,
        issued[1].parent_access_key_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_parent_rotation_the_old_temporary_credentials_work_until_it_retires_and_the_reissued_ones_work()
 {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let old = env_output(&sb, "partner-a.env.age");
    let put = || vec![op("put", "media-uploads", "inbound/partner-a/x")];

    // The parent's output is lost: it is rotated, and its child reissued under the new key.
    std::fs::remove_file(sb.out().join("uploader.env.age")).unwrap();
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{ISSUE}: its parent token uploader is rotated in this pass"
        )),
        "{stdout}"
    );
    let new = env_output(&sb, "partner-a.env.age");
    let issued = sb.emu.temporary_credentials();
    assert_eq!(issued.len(), 2);
    assert_ne!(
        issued[0].parent_access_key_id, issued[1].parent_access_key_id,
        "reissued under the new parent"
    );
    let got = tokio::task::block_in_place(|| (boto3(&sb, &old, put()), boto3(&sb, &new, put())));
    assert_eq!(
        got,
        (vec!["ok".to_string()], vec!["ok".to_string()]),
        "the old parent's child works through the overlap"
    );

    // Once the old parent retires, its child stops working; the new one goes on.
    let state = sb.out().join(".r2gitops-state.json");
    let mut inv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    inv["retiring"][0]["retire_at"] = serde_json::json!("2020-01-01T00:00:00Z");
    std::fs::write(&state, serde_json::to_string_pretty(&inv).unwrap()).unwrap();
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("- retire token uploader "), "{stdout}");
    let got = tokio::task::block_in_place(|| (boto3(&sb, &old, put()), boto3(&sb, &new, put())));
    assert_eq!(
        got,
        (vec!["Unauthorized".to_string()], vec!["ok".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_session_token_reaches_trace_logs_plan_json_or_the_inventory() {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    let mut cmd = sb.r2gitops(&["reconcile"]);
    cmd.env("RUST_LOG", "trace");
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    let mut logs = String::from_utf8_lossy(&out.stdout).into_owned();
    logs.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(logs.contains("TRACE"), "trace level was on");
    assert!(
        logs.contains("temp-access-credentials"),
        "the call was logged"
    );

    // A plan that issues again (the output is gone), as JSON, at trace level too.
    std::fs::remove_file(sb.out().join("partner-a.env.age")).unwrap();
    let mut cmd = sb.r2gitops(&["reconcile", "--dry-run", "--output", "json"]);
    cmd.env("RUST_LOG", "trace");
    let out = cmd.output().unwrap();
    let plan = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(v["changes"][0]["action"], "issue", "{plan}");
    logs.push_str(&String::from_utf8_lossy(&out.stderr));
    // Issue it again, so that the secrets checked below are the current ones.
    let out = sb
        .r2gitops(&["reconcile"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success());
    logs.push_str(&String::from_utf8_lossy(&out.stdout));
    logs.push_str(&String::from_utf8_lossy(&out.stderr));

    let temp = env_output(&sb, "partner-a.env.age");
    let inventory = std::fs::read_to_string(sb.out().join(".r2gitops-state.json")).unwrap();
    assert!(
        inventory.contains(&temp["AWS_ACCESS_KEY_ID"]),
        "the inventory records the access key id"
    );
    for (what, secret) in [
        ("secret access key", &temp["AWS_SECRET_ACCESS_KEY"]),
        ("session token", &temp["AWS_SESSION_TOKEN"]),
    ] {
        assert!(secret.len() >= 32, "{what} is a real value");
        assert!(!logs.contains(secret.as_str()), "{what} in the logs");
        assert!(!plan.contains(secret.as_str()), "{what} in the plan JSON");
        assert!(
            !inventory.contains(secret.as_str()),
            "{what} in the inventory"
        );
    }
}

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
