//! What a temporary credential can do, in every format: writes inside its prefix and nothing
//! outside; and no secret or session token reaches the logs, the plan or the inventory.

use std::collections::BTreeMap;

use common::Sandbox;
use serde_json::Value;

use crate::common;
use crate::{ISSUE, YAML, boto3, env_output, mode, op, reconcile};

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
