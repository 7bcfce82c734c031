//! Unit tests of `secrets::temporary`.

use std::path::PathBuf;
use std::time::Duration;

use time::macros::datetime;

use super::*;
use crate::config::{Access, Jurisdiction, OutputSpec, TemporaryScope};

// Fake, made-up values: never real credentials.
const KEY_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const SECRET: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";
const SESSION: &str = "c2Vzc2lvbi10b2tlbi1mYWtlLWZha2UtZmFrZQ==";
const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

fn spec(format: OutputFormat) -> TemporarySpec {
    TemporarySpec {
        name: "partner-a-inbound".into(),
        parent: "uploader".into(),
        jurisdiction: Jurisdiction::Default,
        scope: TemporaryScope {
            bucket: "media-uploads".into(),
            access: Access::ObjectReadWrite,
            prefixes: vec!["inbound/partner-a/".into()],
            objects: Vec::new(),
            ttl: Duration::from_secs(43_200),
        },
        refresh_before: Duration::from_secs(14_400),
        output: OutputSpec {
            file: PathBuf::from("partner-a.age"),
            format,
            recipients: vec!["age1fake".into()],
            armor: false,
            include_api_token: false,
            verify: false,
            kubernetes: None,
        },
    }
}

fn rendered(format: OutputFormat) -> String {
    let (secret, session) = (S3Secret::new(SECRET), SessionToken::new(SESSION));
    let creds = TemporaryCredentials {
        access_key_id: KEY_ID,
        secret_access_key: &secret,
        session_token: &session,
    };
    let s = spec(format);
    let out = render(&RenderInput {
        spec: &s,
        account_id: ACCOUNT,
        endpoint: "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
        creds: &creds,
        issued_at: datetime!(2026-03-01 12:00:00.250 +01:00),
        expires_at: datetime!(2026-03-01 23:00:00.250 UTC),
    })
    .unwrap();
    out.expose_str().unwrap().to_owned()
}

const FORMATS: [(OutputFormat, &str); 4] = [
    (OutputFormat::Env, "temporary-env"),
    (OutputFormat::Json, "temporary-json"),
    (OutputFormat::Rclone, "temporary-rclone"),
    (OutputFormat::Aws, "temporary-aws"),
];

/// Each format matches its reviewed golden file byte for byte. Regenerate after an
/// intended change with `R2GITOPS_UPDATE_GOLDEN=1 cargo test --lib secrets::temporary`
/// and review the diff.
#[test]
fn every_format_matches_its_golden_file() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden");
    let update = std::env::var_os("R2GITOPS_UPDATE_GOLDEN").is_some();
    for (format, name) in FORMATS {
        let path = dir.join(format!("{name}.txt"));
        let got = rendered(format);
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got, want, "golden file {} differs", path.display());
    }
}

#[test]
fn each_format_carries_the_session_token_in_its_clients_field_and_an_expiry() {
    let cases = [
        (
            OutputFormat::Env,
            "AWS_SESSION_TOKEN=",
            "R2_EXPIRES_AT=2026-03-01T23:00:00Z",
        ),
        (
            OutputFormat::Json,
            "\"session_token\": ",
            "\"expires_at\": \"2026-03-01T23:00:00Z\"",
        ),
        (
            OutputFormat::Rclone,
            "session_token = ",
            "expires_at = 2026-03-01T23:00:00Z",
        ),
        (
            OutputFormat::Aws,
            "aws_session_token = ",
            "expires_at = 2026-03-01T23:00:00Z",
        ),
    ];
    for (format, field, expiry) in cases {
        let got = rendered(format);
        let line = got
            .lines()
            .find(|l| l.trim_start().starts_with(field))
            .unwrap_or_else(|| panic!("{format:?}: no {field}"));
        assert!(line.contains(SESSION), "{format:?}: {line}");
        assert!(got.contains(expiry), "{format:?}: no {expiry}");
        assert!(got.contains(SECRET) && got.contains(KEY_ID), "{format:?}");
    }
    let v: serde_json::Value = serde_json::from_str(&rendered(OutputFormat::Json)).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_key_id",
            "account_id",
            "bucket",
            "endpoint",
            "expires_at",
            "issued_at",
            "jurisdiction",
            "region",
            "secret_access_key",
            "session_token"
        ]
    );
}

#[test]
fn the_self_test_signs_the_session_token_and_lists_inside_the_scope() {
    let (secret, session) = (S3Secret::new(SECRET), SessionToken::new(SESSION));
    let creds = TemporaryCredentials {
        access_key_id: KEY_ID,
        secret_access_key: &secret,
        session_token: &session,
    };
    let (url, headers) = signed_list(
        &creds,
        "http://127.0.0.1:9000",
        "media-uploads",
        probe_prefix(&spec(OutputFormat::Env)),
        "20260301T120000Z",
    )
    .unwrap();
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:9000/media-uploads?list-type=2&max-keys=1&prefix=inbound%2Fpartner-a%2F"
    );
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(header("x-amz-security-token"), SESSION);
    let auth = header("authorization");
    assert!(
        auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"),
        "{auth}"
    );
    assert!(!auth.contains(SECRET) && !auth.contains(SESSION));

    let mut objects = spec(OutputFormat::Env);
    objects.scope.prefixes.clear();
    assert_eq!(probe_prefix(&objects), None);
    objects.scope.objects = vec!["releases/manifest.json".into()];
    assert_eq!(probe_prefix(&objects), Some("releases/manifest.json"));
}
