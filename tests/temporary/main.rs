//! Temporary credentials, end to end through the real binary against the emulator, proven with boto3
//! (and rclone) using the session token: writes inside the prefix succeed, a write outside
//! it and a read of another bucket are AccessDenied; after a parent roll the old temporary
//! credentials fail and the reissued ones work; the daemon renews a 1-minute credential
//! (refresh_before 20s) at least twice within 2 minutes, each version working when it is
//! written; a failing renewal keeps `/readyz` ready and is retried; no secret or session
//! token reaches trace logs, plan JSON or the inventory.

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Sandbox;
use serde_json::{Value, json};

mod parent;
mod renewal;
mod scope;

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
