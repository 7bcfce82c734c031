//! Done-when for credential outputs: for every format, the real `age` CLI decrypts the file
//! and the credentials inside work with a real S3 client against the emulator: boto3 for
//! `env`, `json` and `aws`, rclone for `rclone`. A read-write token puts and gets; a
//! read-only token gets and is denied the put. Tokens are created through the emulator's
//! REST API with its admin token, so the ids and values are real ones (for the emulator).

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cf_emulator::{Emulator, EmulatorConfig};
use r2gitops::config::{
    Access, IpRules, Jurisdiction, OutputFormat, OutputSpec, Owner, TokenScope, TokenSpec,
};
use r2gitops::secret::TokenValue;
use r2gitops::secrets::{OutputWriter, S3Endpoints, VerifyOutcome};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// Bucket-scoped ("Object ...") permission groups, by the names Cloudflare gives them.
const ITEM_WRITE: &str = "Workers R2 Storage Bucket Item Write";
const ITEM_READ: &str = "Workers R2 Storage Bucket Item Read";

struct Api {
    http: reqwest::Client,
    base: String,
    account: String,
    admin: String,
}

impl Api {
    fn new(emu: &Emulator) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            http: reqwest::Client::new(),
            base: emu.api_url().to_owned(),
            account: emu.account_id().to_owned(),
            admin: emu.admin_token().to_owned(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.admin);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert!(
            status.is_success() && v["success"] == true,
            "{method} {path}: {status} {v}"
        );
        v["result"].clone()
    }

    async fn create_bucket(&self, name: &str, jurisdiction: &str) {
        let path = format!("/accounts/{}/r2/buckets", self.account);
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .header("cf-r2-jurisdiction", jurisdiction)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "create bucket {name}: {resp:?}");
    }

    async fn permission_group(&self, name: &str) -> String {
        let groups = self
            .call(
                reqwest::Method::GET,
                &format!("/accounts/{}/tokens/permission_groups", self.account),
                None,
            )
            .await;
        groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("no permission group '{name}'"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An account-owned token on one bucket: (id, value).
    async fn create_token(
        &self,
        name: &str,
        group: &str,
        bucket: &str,
        jurisdiction: &str,
    ) -> (String, TokenValue) {
        let group_id = self.permission_group(group).await;
        let resource = format!(
            "com.cloudflare.edge.r2.bucket.{}_{jurisdiction}_{bucket}",
            self.account
        );
        let created = self
            .call(
                reqwest::Method::POST,
                &format!("/accounts/{}/tokens", self.account),
                Some(json!({
                    "name": format!("r2gitops:{name}"),
                    "policies": [{
                        "effect": "allow",
                        "resources": { resource: "*" },
                        "permission_groups": [{ "id": group_id }],
                    }],
                })),
            )
            .await;
        (
            created["id"].as_str().unwrap().to_owned(),
            TokenValue::new(created["value"].as_str().unwrap()),
        )
    }
}

fn token(
    name: &str,
    access: Access,
    bucket: &str,
    jurisdiction: Jurisdiction,
    format: OutputFormat,
    recipient: &str,
) -> TokenSpec {
    TokenSpec {
        name: name.into(),
        owner: Owner::Account,
        access,
        scope: TokenScope::Buckets(vec![bucket.into()]),
        jurisdiction,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        output: OutputSpec {
            file: PathBuf::from(format!("{name}.{}.age", format.as_str())),
            format,
            recipients: vec![recipient.into()],
            armor: format == OutputFormat::Json,
            include_api_token: format == OutputFormat::Env,
            verify: true,
            kubernetes: None,
        },
        adopt: None,
    }
}

/// boto3 driven by one decrypted output. Prints `PUT_GET_OK` (read-write) or
/// `PUT_DENIED <code>` then `GET_OK` (read-only).
const BOTO3: &str = r##"
import json, os, sys
import boto3
from botocore.exceptions import ClientError

mode, fmt, bucket, key, plaintext = sys.argv[1:6]
data = open(plaintext).read()
if fmt == "env":
    for line in data.splitlines():
        if line and not line.startswith("#"):
            k, v = line.split("=", 1)
            os.environ[k] = v
    s3 = boto3.client("s3")
elif fmt == "json":
    j = json.loads(data)
    s3 = boto3.client("s3", endpoint_url=j["endpoint"], region_name=j["region"],
                      aws_access_key_id=j["access_key_id"],
                      aws_secret_access_key=j["secret_access_key"])
elif fmt == "aws":
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = plaintext
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    s3 = boto3.Session(profile_name=sys.argv[6]).client("s3")
else:
    sys.exit("unknown format " + fmt)

body = ("written by " + fmt).encode()
if mode == "rw":
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert got == body, got
    print("PUT_GET_OK")
else:
    try:
        s3.put_object(Bucket=bucket, Key=key + ".denied", Body=body)
        print("PUT_ALLOWED")
        sys.exit(1)
    except ClientError as e:
        print("PUT_DENIED", e.response["Error"]["Code"])
    s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    print("GET_OK")
"##;

/// Only PATH and a throwaway HOME: no AWS_* variable of this machine may help or hinder.
fn clean(mut cmd: Command, home: &Path) -> Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home);
    cmd
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    eprintln!(
        "{:?}\nstdout: {}\nstderr: {}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Decrypt with the real age CLI into `scratch` (a test-only dir, not the output dir).
fn decrypt_to(identity: &Path, file: &Path, scratch: &Path, name: &str) -> PathBuf {
    let plain = common::age_decrypt(identity, file);
    let path = scratch.join(name);
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&path)
        .unwrap();
    f.write_all(&plain).unwrap();
    path
}

/// Read-write must put and get; read-only must get and be denied the put.
fn exercise(
    format: OutputFormat,
    rw_plain: &Path,
    ro_plain: &Path,
    bucket: &str,
    home: &Path,
    names: (&str, &str),
) {
    let key = format!("from-{}.txt", format.as_str());
    match format {
        OutputFormat::Rclone => {
            let src = home.join(format!("{key}.src"));
            std::fs::write(&src, "written by rclone").unwrap();
            let rclone = |conf: &Path, args: &[String]| {
                let mut c = clean(common::tool("rclone"), home);
                c.arg("--config").arg(conf).args(args).args([
                    "--retries",
                    "1",
                    "--low-level-retries",
                    "1",
                ]);
                run(c)
            };
            let dst = |remote: &str, k: &str| format!("{remote}:{bucket}/{k}");
            let put = rclone(
                rw_plain,
                &[
                    "copyto".into(),
                    src.display().to_string(),
                    dst(names.0, &key),
                ],
            );
            assert!(put.status.success(), "rclone read-write put failed");
            let get = rclone(rw_plain, &["cat".into(), dst(names.0, &key)]);
            assert!(get.status.success());
            assert_eq!(get.stdout, b"written by rclone");

            let get = rclone(ro_plain, &["cat".into(), dst(names.1, &key)]);
            assert!(get.status.success(), "rclone read-only get failed");
            assert_eq!(get.stdout, b"written by rclone");
            let put = rclone(
                ro_plain,
                &[
                    "copyto".into(),
                    src.display().to_string(),
                    dst(names.1, "denied.txt"),
                ],
            );
            assert!(!put.status.success(), "read-only rclone put succeeded");
            // Control: without `no_check_bucket` the object-scoped read-write token fails,
            // because rclone first tries CreateBucket. So that line is what makes it work.
            let conf = std::fs::read_to_string(rw_plain).unwrap();
            assert!(conf.contains("\nno_check_bucket = true\n"));
            let without = home.join(format!("{}.without-no-check", names.0));
            std::fs::write(&without, conf.replace("no_check_bucket = true\n", "")).unwrap();
            let put = rclone(
                &without,
                &[
                    "copyto".into(),
                    src.display().to_string(),
                    dst(names.0, "control.txt"),
                ],
            );
            assert!(
                !put.status.success(),
                "rclone put without no_check_bucket worked"
            );
            assert!(
                String::from_utf8_lossy(&put.stderr).contains("AccessDenied"),
                "read-only put must fail with AccessDenied"
            );
        }
        _ => {
            let boto = |mode: &str, plain: &Path, profile: &str| {
                let mut c = clean(Command::new(common::python()), home);
                c.args(["-c", BOTO3, mode, format.as_str(), bucket, &key])
                    .arg(plain)
                    .arg(profile);
                run(c)
            };
            let rw = boto("rw", rw_plain, names.0);
            assert!(rw.status.success(), "boto3 read-write failed");
            assert_eq!(String::from_utf8_lossy(&rw.stdout), "PUT_GET_OK\n");
            let ro = boto("ro", ro_plain, names.1);
            assert!(ro.status.success(), "boto3 read-only failed");
            assert_eq!(
                String::from_utf8_lossy(&ro.stdout),
                "PUT_DENIED AccessDenied\nGET_OK\n"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_decrypts_with_age_and_works_with_a_real_s3_client() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let api = Api::new(&emu);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let (identity, recipient) = common::age_keygen(tmp.path(), "consumer");

    assert_ne!(
        emu.s3_urls()["default"],
        emu.s3_urls()["eu"],
        "the eu case must prove the per-jurisdiction endpoint"
    );
    let flags: Vec<String> = emu
        .s3_urls()
        .iter()
        .map(|(j, url)| format!("{j}={url}"))
        .collect();
    let writer = OutputWriter::new(
        &out,
        emu.account_id(),
        S3Endpoints::from_args(&flags, None).unwrap(),
    );

    let cases = [
        (OutputFormat::Env, "media-env", Jurisdiction::Default),
        (OutputFormat::Json, "media-json", Jurisdiction::Default),
        (OutputFormat::Aws, "media-aws", Jurisdiction::Default),
        (OutputFormat::Rclone, "media-rclone", Jurisdiction::Default),
        // A jurisdictional bucket answers only on its own endpoint.
        (OutputFormat::Env, "media-eu", Jurisdiction::Eu),
    ];
    let mut secrets = vec![];
    for (format, bucket, j) in cases {
        eprintln!("--- {} on {bucket} ({})", format.as_str(), j.as_str());
        api.create_bucket(bucket, j.as_str()).await;
        let rw_name = format!("{bucket}-rw");
        let ro_name = format!("{bucket}-ro");
        let (rw_id, rw_value) = api
            .create_token(&rw_name, ITEM_WRITE, bucket, j.as_str())
            .await;
        let (ro_id, ro_value) = api
            .create_token(&ro_name, ITEM_READ, bucket, j.as_str())
            .await;
        let rw = token(
            &rw_name,
            Access::ObjectReadWrite,
            bucket,
            j,
            format,
            &recipient,
        );
        let ro = token(&ro_name, Access::ObjectRead, bucket, j, format, &recipient);

        let now = OffsetDateTime::now_utc();
        let rec_rw = writer.write(&rw, &rw_id, &rw_value, now).unwrap();
        let rec_ro = writer.write(&ro, &ro_id, &ro_value, now).unwrap();
        for (rec, spec) in [(&rec_rw, &rw), (&rec_ro, &ro)] {
            assert_eq!(rec.path, spec.output.file);
            assert_eq!(rec.fingerprint, spec.output.fingerprint());
        }

        // The optional self-test passes for both (ListObjectsV2 is a read).
        for (spec, id, value) in [(&rw, &rw_id, &rw_value), (&ro, &ro_id, &ro_value)] {
            let outcome = writer.verify(spec, id, value).await;
            assert!(
                matches!(outcome, Some(VerifyOutcome::Passed { .. })),
                "{outcome:?}"
            );
        }

        let rw_plain = decrypt_to(&identity, &out.join(&rw.output.file), &scratch, &rw_name);
        let ro_plain = decrypt_to(&identity, &out.join(&ro.output.file), &scratch, &ro_name);
        let home = scratch.clone();
        let names = (rw_name.clone(), ro_name.clone());
        tokio::task::spawn_blocking(move || {
            exercise(
                format,
                &rw_plain,
                &ro_plain,
                bucket,
                &home,
                (&names.0, &names.1),
            )
        })
        .await
        .unwrap();

        for v in [&rw_value, &ro_value] {
            secrets.push(v.expose().to_owned());
            secrets.push(sha256_hex(v.expose()));
        }
    }

    // The included Cloudflare API token is the token itself: it verifies against the API.
    let env_plain = std::fs::read_to_string(scratch.join("media-env-rw")).unwrap();
    let api_token = env_plain
        .lines()
        .find_map(|l| l.strip_prefix("CLOUDFLARE_API_TOKEN="))
        .expect("include_api_token wrote CLOUDFLARE_API_TOKEN");
    let verified = reqwest::Client::new()
        .get(format!(
            "{}/accounts/{}/tokens/verify",
            emu.api_url(),
            emu.account_id()
        ))
        .bearer_auth(api_token)
        .send()
        .await
        .unwrap();
    assert!(verified.status().is_success(), "{verified:?}");

    // Nothing under the output dir holds a value or a derived secret.
    for entry in std::fs::read_dir(&out).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for s in &secrets {
            assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()));
        }
    }
    emu.shutdown().await;
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Rotation: a roll keeps the access key id and changes the secret; the rewritten file
/// works, and the old secret is refused (the self-test tells which is which).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_token_rewrites_the_file_with_the_same_key_id_and_a_working_secret() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let api = Api::new(&emu);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let (identity, recipient) = common::age_keygen(tmp.path(), "consumer");
    let flags: Vec<String> = emu
        .s3_urls()
        .iter()
        .map(|(j, url)| format!("{j}={url}"))
        .collect();
    let writer = OutputWriter::new(
        &out,
        emu.account_id(),
        S3Endpoints::from_args(&flags, None).unwrap(),
    )
    .with_probe_settings(r2gitops::secrets::ProbeSettings {
        attempts: 2,
        first_pause: std::time::Duration::from_millis(50),
        request_timeout: std::time::Duration::from_secs(5),
    });

    api.create_bucket("media", "default").await;
    let (id, first) = api
        .create_token("app", ITEM_WRITE, "media", "default")
        .await;
    let spec = token(
        "app",
        Access::ObjectReadWrite,
        "media",
        Jurisdiction::Default,
        OutputFormat::Json,
        &recipient,
    );
    let before = writer
        .write(&spec, &id, &first, OffsetDateTime::now_utc())
        .unwrap();

    let rolled = api
        .call(
            reqwest::Method::PUT,
            &format!("/accounts/{}/tokens/{id}/value", api.account),
            Some(json!({})),
        )
        .await;
    let second = TokenValue::new(rolled.as_str().expect("roll returns the new value"));
    let after = writer
        .write(&spec, &id, &second, OffsetDateTime::now_utc())
        .unwrap();
    assert_ne!(before.ciphertext_sha256, after.ciphertext_sha256);
    assert_eq!(before.fingerprint, after.fingerprint);

    let plain = decrypt_to(&identity, &out.join(&spec.output.file), &scratch, "app");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&plain).unwrap()).unwrap();
    assert_eq!(json["access_key_id"], id.as_str());
    assert_eq!(
        json["secret_access_key"],
        sha256_hex(second.expose()).as_str()
    );

    let new = writer.verify(&spec, &id, &second).await.unwrap();
    assert!(new.passed(), "{new}");
    match writer.verify(&spec, &id, &first).await.unwrap() {
        VerifyOutcome::Failed { status, error, .. } => {
            assert_eq!(status, Some(403));
            assert_eq!(error, "SignatureDoesNotMatch");
        }
        other => panic!("the old secret still works: {other}"),
    }
    let home = scratch.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = clean(Command::new(common::python()), &home);
        c.args(["-c", BOTO3, "rw", "json", "media", "after-roll.txt"])
            .arg(&plain)
            .arg("-");
        let rw = run(c);
        assert_eq!(String::from_utf8_lossy(&rw.stdout), "PUT_GET_OK\n");
    })
    .await
    .unwrap();
    emu.shutdown().await;
}
