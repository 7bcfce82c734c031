//! The `output.verify` self-test against a scripted local S3 stand-in: what request it sends
//! (checked against botocore's own SigV4 signer), how it retries, what it reports, and that
//! and (in `secrets_logs.rs`) what it logs.

mod common;

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use r2gitops::config::{
    Access, IpRules, Jurisdiction, OutputFormat, OutputSpec, Owner, TokenScope, TokenSpec,
};
use r2gitops::secret::TokenValue;
use r2gitops::secrets::{OutputWriter, ProbeSettings, S3Endpoints, VerifyOutcome};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<VecDeque<(u16, &'static str)>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A local server answering each request with the next scripted (status, S3 error code).
async fn start(answers: &[(u16, &'static str)]) -> (String, Script) {
    let script = Script::default();
    script
        .answers
        .lock()
        .unwrap()
        .extend(answers.iter().copied());
    let s = script.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let s = s.clone();
        async move {
            s.seen.lock().unwrap().push(Seen {
                method: method.to_string(),
                uri: uri.to_string(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect(),
            });
            let (status, code) = s
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or((500, "Gone"));
            let body = if status == 200 {
                "<?xml version=\"1.0\"?><ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>"
                    .to_owned()
            } else {
                format!(
                    "<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m</Message></Error>"
                )
            };
            (StatusCode::from_u16(status).unwrap(), body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, script)
}

fn fake_token() -> (String, TokenValue) {
    use rand::Rng;
    let mut rng = rand::rng();
    let id: String = (0..32)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap())
        .collect();
    let body: String = (0..40)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect();
    (id, TokenValue::new(format!("cfut_{body}")))
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn token(scope: TokenScope, recipient: String, verify: bool) -> TokenSpec {
    TokenSpec {
        name: "app".into(),
        owner: Owner::Account,
        access: Access::ObjectRead,
        scope,
        jurisdiction: Jurisdiction::Eu,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        adopt: None,
        output: OutputSpec {
            file: PathBuf::from("app.env.age"),
            format: OutputFormat::Env,
            recipients: vec![recipient],
            armor: false,
            include_api_token: true,
            verify,
            kubernetes: None,
        },
    }
}

fn writer(dir: &std::path::Path, s3: &str) -> OutputWriter {
    let endpoints = S3Endpoints::from_args(&[format!("eu={s3}")], None).unwrap();
    OutputWriter::new(dir, ACCOUNT, endpoints).with_probe_settings(ProbeSettings {
        attempts: 3,
        first_pause: Duration::from_millis(20),
        request_timeout: Duration::from_secs(5),
    })
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    &seen.headers.iter().find(|(k, _)| k == name).unwrap().1
}

/// botocore's signature for the request the server saw (the secret goes through stdin).
fn botocore_signature(url: &str, amz_date: &str, access_key_id: &str, secret: &str) -> String {
    let script = r#"
import sys
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, amz_date, key_id = sys.argv[1:4]
secret = sys.stdin.read()
empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
req = AWSRequest(method="GET", url=url, headers={"x-amz-date": amz_date, "x-amz-content-sha256": empty})
req.context["timestamp"] = amz_date
auth = S3SigV4Auth(Credentials(key_id, secret), "s3", "auto")
print(auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req))
"#;
    let mut child = std::process::Command::new(common::python())
        .args(["-c", script, url, amz_date, access_key_id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn verify_retries_until_the_credentials_work_and_signs_like_botocore() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = common::age_keygen(tmp.path(), "k");
    let (s3, script) = start(&[(403, "AccessDenied"), (401, "Unauthorized"), (200, "")]).await;
    let (id, value) = fake_token();
    let t = token(
        TokenScope::Buckets(vec!["media".into(), "other".into()]),
        public,
        true,
    );
    let outcome = writer(tmp.path(), &s3).verify(&t, &id, &value).await;
    assert_eq!(
        outcome,
        Some(VerifyOutcome::Passed {
            bucket: "media".into(),
            attempts: 3
        })
    );
    let seen = script.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.method, "GET");
        assert_eq!(s.uri, "/media?list-type=2&max-keys=1");
        let auth = header(s, "authorization");
        let amz_date = header(s, "x-amz-date");
        let prefix = format!(
            "AWS4-HMAC-SHA256 Credential={id}/{}/auto/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=",
            &amz_date[..8]
        );
        assert!(auth.starts_with(&prefix), "{auth}");
        let want = botocore_signature(
            &format!("{s3}{}", s.uri),
            amz_date,
            &id,
            &sha256_hex(value.expose()),
        );
        assert_eq!(&auth[prefix.len()..], want, "botocore disagrees");
    }
}

#[tokio::test]
async fn verify_reports_the_last_s3_error_after_its_attempts() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = common::age_keygen(tmp.path(), "k");
    let (s3, script) = start(&[
        (403, "AccessDenied"),
        (403, "AccessDenied"),
        (404, "NoSuchBucket"),
        (200, ""),
    ])
    .await;
    let (id, value) = fake_token();
    let t = token(TokenScope::Buckets(vec!["media".into()]), public, true);
    let outcome = writer(tmp.path(), &s3)
        .verify(&t, &id, &value)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        VerifyOutcome::Failed {
            bucket: "media".into(),
            attempts: 3,
            status: Some(404),
            error: "NoSuchBucket".into(),
        }
    );
    assert_eq!(script.seen.lock().unwrap().len(), 3, "no fourth attempt");
    assert_eq!(
        outcome.to_string(),
        "verify failed: ListObjectsV2 on bucket 'media': NoSuchBucket (HTTP 404) after 3 attempt(s)"
    );
}

#[tokio::test]
async fn verify_is_off_unless_asked_and_skips_tokens_without_named_buckets() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = common::age_keygen(tmp.path(), "k");
    let (s3, script) = start(&[]).await;
    let (id, value) = fake_token();
    let w = writer(tmp.path(), &s3);
    let off = token(
        TokenScope::Buckets(vec!["media".into()]),
        public.clone(),
        false,
    );
    assert_eq!(w.verify(&off, &id, &value).await, None);
    for scope in [TokenScope::AllBuckets, TokenScope::Account] {
        let t = token(scope, public.clone(), true);
        let outcome = w.verify(&t, &id, &value).await.unwrap();
        assert!(
            matches!(outcome, VerifyOutcome::Skipped { .. }),
            "{outcome:?}"
        );
    }
    assert!(
        script.seen.lock().unwrap().is_empty(),
        "no ListBuckets, no HeadBucket, nothing"
    );
}
