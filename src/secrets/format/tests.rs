//! Unit tests of `secrets::format`.

use std::path::PathBuf;

use time::macros::datetime;

use super::*;
use crate::config::{Access, IpRules, Jurisdiction, OutputSpec, Owner, TokenScope};
use crate::secrets::derive::derive;

// Fake, made-up values: never a real token.
const TOKEN_ID: &str = "f00dfacef00dfacef00dfacef00dface";
const VALUE: &str = "cfat_FAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake0000";
const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

fn token(
    name: &str,
    access: Access,
    scope: TokenScope,
    format: OutputFormat,
    api: bool,
) -> TokenSpec {
    TokenSpec {
        name: name.into(),
        owner: Owner::Account,
        access,
        scope,
        jurisdiction: Jurisdiction::Eu,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        adopt: None,
        output: OutputSpec {
            file: PathBuf::from(format!("{name}.age")),
            format,
            recipients: vec!["age1fake".into()],
            armor: false,
            include_api_token: api,
            verify: false,
            kubernetes: None,
        },
    }
}

fn rendered(t: &TokenSpec) -> String {
    let value = TokenValue::new(VALUE);
    let creds = derive(
        TOKEN_ID,
        &value,
        format!("https://{ACCOUNT}.eu.r2.cloudflarestorage.com"),
    );
    let out = render(&RenderInput {
        token: t,
        token_id: TOKEN_ID,
        account_id: ACCOUNT,
        creds: &creds,
        api_token: t.output.include_api_token.then_some(&value),
        issued_at: datetime!(2026-03-01 12:00:00 +01:00),
    })
    .unwrap();
    out.expose_str().unwrap().to_owned()
}

fn golden_cases() -> Vec<(&'static str, TokenSpec)> {
    let two = || TokenScope::Buckets(vec!["media".into(), "media-backup".into()]);
    vec![
        (
            "env",
            token(
                "app",
                Access::ObjectReadWrite,
                two(),
                OutputFormat::Env,
                false,
            ),
        ),
        (
            "env-api-token",
            token(
                "ops",
                Access::AdminReadWrite,
                TokenScope::Account,
                OutputFormat::Env,
                true,
            ),
        ),
        (
            "json",
            token("app", Access::ObjectRead, two(), OutputFormat::Json, false),
        ),
        (
            "json-api-token",
            token(
                "all",
                Access::ObjectRead,
                TokenScope::AllBuckets,
                OutputFormat::Json,
                true,
            ),
        ),
        (
            "rclone",
            token(
                "backup",
                Access::ObjectReadWrite,
                two(),
                OutputFormat::Rclone,
                false,
            ),
        ),
        (
            "rclone-admin-api-token",
            token(
                "ops",
                Access::AdminRead,
                TokenScope::Account,
                OutputFormat::Rclone,
                true,
            ),
        ),
        (
            "aws",
            token(
                "app",
                Access::ObjectReadWrite,
                two(),
                OutputFormat::Aws,
                false,
            ),
        ),
        (
            "aws-api-token",
            token(
                "app",
                Access::ObjectReadWrite,
                two(),
                OutputFormat::Aws,
                true,
            ),
        ),
    ]
}

/// Each format matches its reviewed golden file byte for byte. Regenerate after an
/// intended change with `R2GITOPS_UPDATE_GOLDEN=1 cargo test --lib secrets::format`
/// and review the diff.
#[test]
fn every_format_matches_its_golden_file() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden");
    let update = std::env::var_os("R2GITOPS_UPDATE_GOLDEN").is_some();
    for (name, t) in golden_cases() {
        let path = dir.join(format!("{name}.txt"));
        let got = rendered(&t);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got, want, "golden file {} differs", path.display());
    }
}

#[test]
fn the_api_token_appears_only_when_asked_and_always_labelled() {
    for (name, t) in golden_cases() {
        let got = rendered(&t);
        assert_eq!(got.contains(VALUE), t.output.include_api_token, "{name}");
        if t.output.include_api_token {
            let lines: Vec<&str> = got.lines().collect();
            let at = lines.iter().position(|l| l.contains(VALUE)).unwrap();
            // JSON has no comments: its key is the label.
            let labelled = if t.output.format == OutputFormat::Json {
                lines[at]
                    .trim_start()
                    .starts_with("\"cloudflare_api_token\": ")
            } else {
                lines[at - 1].contains("Cloudflare API token value (not an S3 credential)")
            };
            assert!(labelled, "{name}: the API token is not labelled");
        }
    }
}

#[test]
fn every_format_carries_the_derived_secret_not_the_value() {
    let secret = crate::secrets::derive::s3_secret(&TokenValue::new(VALUE));
    for (name, t) in golden_cases() {
        let got = rendered(&t);
        assert!(got.contains(secret.expose()), "{name}");
        assert!(got.contains(TOKEN_ID), "{name}");
        assert!(got.contains(".eu.r2.cloudflarestorage.com"), "{name}");
    }
}

#[test]
fn env_has_every_key_the_issue_names() {
    let got = rendered(&golden_cases()[0].1);
    for key in [
        "AWS_ACCESS_KEY_ID=",
        "AWS_SECRET_ACCESS_KEY=",
        "AWS_ENDPOINT_URL=",
        "AWS_REGION=auto\n",
        "AWS_REQUEST_CHECKSUM_CALCULATION=when_required\n",
        "AWS_RESPONSE_CHECKSUM_VALIDATION=when_required\n",
        "R2_ACCOUNT_ID=0123456789abcdef0123456789abcdef\n",
    ] {
        assert!(got.contains(key), "missing {key}");
    }
}

/// A file is re-rendered only with a fresh secret (a roll): nothing that an ordinary
/// edit changes (the bucket list, the access level) may show in it, or it goes stale.
#[test]
fn nothing_an_ordinary_edit_changes_is_rendered() {
    for format in [
        OutputFormat::Env,
        OutputFormat::Json,
        OutputFormat::Rclone,
        OutputFormat::Aws,
    ] {
        let before = token(
            "app",
            Access::ObjectRead,
            TokenScope::Buckets(vec!["media".into()]),
            format,
            false,
        );
        let after = token(
            "app",
            Access::ObjectReadWrite,
            TokenScope::Buckets(vec!["media".into(), "logs".into()]),
            format,
            false,
        );
        assert_eq!(rendered(&before), rendered(&after), "{format:?}");
    }
}

#[test]
fn what_a_file_shows_and_may_change_is_in_its_details() {
    let t = &golden_cases()[0].1;
    let d = details("https://x.eu.r2.cloudflarestorage.com", t);
    assert_eq!(
        d.into_iter().collect::<Vec<_>>(),
        [
            (
                "endpoint".to_string(),
                "https://x.eu.r2.cloudflarestorage.com".to_string()
            ),
            ("jurisdiction".to_string(), "eu".to_string()),
        ]
    );
}

#[test]
fn json_keys_are_the_documented_ones_in_order() {
    let t = &golden_cases()[3].1;
    let v: serde_json::Value = serde_json::from_str(&rendered(t)).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "access_key_id",
        "secret_access_key",
        "endpoint",
        "region",
        "account_id",
        "token_id",
        "jurisdiction",
        "issued_at",
        "cloudflare_api_token",
    ];
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    want.sort_unstable();
    assert_eq!(sorted, want);
    assert_eq!(v["issued_at"], "2026-03-01T11:00:00Z");
    assert_eq!(v["region"], "auto");
    assert_eq!(v["jurisdiction"], "eu");
}

#[test]
fn rclone_never_tries_to_create_a_bucket_whatever_the_access() {
    let cases = [
        (Access::ObjectRead, true),
        (Access::ObjectReadWrite, true),
        (Access::AdminRead, true),
        (Access::AdminReadWrite, true),
    ];
    for (access, want) in cases {
        let t = token(
            "x",
            access,
            TokenScope::AllBuckets,
            OutputFormat::Rclone,
            false,
        );
        assert_eq!(
            rendered(&t).contains("\nno_check_bucket = true\n"),
            want,
            "{access:?}"
        );
    }
}

#[test]
fn section_names_cannot_break_out_of_their_brackets() {
    let cases = [
        ("media-app", "media-app"),
        ("a.b_c@d+e", "a.b_c@d+e"),
        ("evil]\n[x", "evil---x"),
        ("sp ace", "sp-ace"),
    ];
    for (name, want) in cases {
        assert_eq!(section_name(name), want);
    }
}
