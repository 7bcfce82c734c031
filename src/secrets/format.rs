//! The four output formats (`env`, `json`, `rclone`, `aws`), rendered in memory.
//!
//! Pure: no I/O, no clock. The result is a `SecretBuf` (wiped when dropped) that goes
//! straight to `encrypt`; nothing here logs or returns plaintext in any other shape.
//!
//! Stable contract of each format (consumers parse these; change them only additively):
//! - `env`: `KEY=value` lines, no quoting (every value is hex or a URL):
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`, `AWS_REGION=auto`,
//!   `AWS_DEFAULT_REGION=auto` (boto3 reads only this one), `AWS_REQUEST_CHECKSUM_CALCULATION`
//!   and `AWS_RESPONSE_CHECKSUM_VALIDATION` = `when_required` (newer AWS SDKs send checksums
//!   R2 rejects on upload), `R2_ACCOUNT_ID`. With `include_api_token`:
//!   `CLOUDFLARE_API_TOKEN` and `CLOUDFLARE_ACCOUNT_ID` (the names wrangler reads).
//! - `json`: one object with the keys `access_key_id`, `secret_access_key`, `endpoint`,
//!   `region`, `account_id`, `token_id`, `jurisdiction`, `issued_at` (RFC 3339, UTC), and
//!   with `include_api_token` `cloudflare_api_token`.
//! - `rclone`: one remote named after the token: `type = s3`, `provider = Cloudflare`, the
//!   keys, `endpoint`, `region = auto`, `acl = private`, `no_check_bucket = true` (buckets
//!   are r2gitops' business, and an object-scoped token is denied CreateBucket).
//!
//! A file can only be re-rendered with a fresh secret (a roll), so it shows nothing that
//! changes with an ordinary edit: no bucket list (`R2_BUCKETS` and `buckets` were dropped:
//! editing a bucket list must not rotate a secret), no access level. What it does show and
//! can change (the endpoint and the jurisdiction) is recorded by `details`, and a change
//! rolls the token with the detail named in the plan.
//! - `aws`: one shared-credentials profile named after the token (use it with
//!   `AWS_SHARED_CREDENTIALS_FILE` and `AWS_PROFILE`): `aws_access_key_id`,
//!   `aws_secret_access_key`, `endpoint_url`, `region = auto` and the two checksum settings.
//!
//! The Cloudflare API token value, when included, is always under a comment saying it is
//! not an S3 credential, so nobody mistakes which secret is which.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{OutputFormat, TokenSpec};
use crate::secret::{SecretBuf, TokenValue};

use super::SecretsError;
use super::derive::S3Credentials;

/// Everything one output shows. `api_token` is `Some` only with `include_api_token`.
pub struct RenderInput<'a> {
    pub token: &'a TokenSpec,
    pub token_id: &'a str,
    pub account_id: &'a str,
    pub creds: &'a S3Credentials,
    pub api_token: Option<&'a TokenValue>,
    pub issued_at: OffsetDateTime,
}

const API_TOKEN_LABEL: &str =
    "Cloudflare API token value (not an S3 credential): for wrangler and the Cloudflare API";

/// The plaintext, in a buffer that is wiped when dropped (and on growth, which the
/// starting capacity makes rare): drop it as soon as it is encrypted.
pub fn render(input: &RenderInput<'_>) -> Result<SecretBuf, SecretsError> {
    let mut out = SecretBuf::with_capacity(2048);
    match input.token.output.format {
        OutputFormat::Env => env(input, &mut out),
        OutputFormat::Json => json(input, &mut out)?,
        OutputFormat::Rclone => rclone(input, &mut out),
        OutputFormat::Aws => aws(input, &mut out),
        // Rendered as a Secret by `kubernetes` (the writer never calls this for them).
        OutputFormat::Kubernetes | OutputFormat::KubernetesSops => {
            return Err(render_error(input));
        }
    }
    Ok(out)
}

/// The details a rendered output shows that may change without its secret changing, by
/// name: recorded in the inventory, so that a change re-renders the file (a roll).
pub fn details(endpoint: &str, token: &TokenSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("endpoint".to_string(), endpoint.to_string()),
        (
            "jurisdiction".to_string(),
            token.jurisdiction.as_str().to_string(),
        ),
    ])
}

/// An INI section / rclone remote name: the token name with anything outside
/// `[A-Za-z0-9._@+-]` replaced by `-`, so a name can never break out of its `[...]`.
pub fn section_name(token_name: &str) -> String {
    token_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._@+-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn header(input: &RenderInput<'_>, what: &str) -> String {
    let issued = input
        .issued_at
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default();
    format!(
        "# r2gitops: {what} for token '{}', issued {issued}\n",
        section_name(&input.token.name),
    )
}

fn env(input: &RenderInput<'_>, s: &mut SecretBuf) {
    let c = input.creds;
    let _ = s.write_str(&header(input, "S3 credentials"));
    let _ = write!(
        s,
        "AWS_ACCESS_KEY_ID={}\n\
         AWS_SECRET_ACCESS_KEY={}\n\
         AWS_ENDPOINT_URL={}\n\
         AWS_REGION={}\n\
         AWS_DEFAULT_REGION={}\n\
         AWS_REQUEST_CHECKSUM_CALCULATION=when_required\n\
         AWS_RESPONSE_CHECKSUM_VALIDATION=when_required\n\
         R2_ACCOUNT_ID={}\n",
        c.access_key_id,
        c.secret_access_key.expose(),
        c.endpoint,
        c.region,
        c.region,
        input.account_id,
    );
    if let Some(api) = input.api_token {
        let _ = write!(
            s,
            "# {API_TOKEN_LABEL}\nCLOUDFLARE_API_TOKEN={}\nCLOUDFLARE_ACCOUNT_ID={}\n",
            api.expose(),
            input.account_id
        );
    }
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    endpoint: &'a str,
    region: &'a str,
    account_id: &'a str,
    token_id: &'a str,
    jurisdiction: &'a str,
    issued_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudflare_api_token: Option<&'a str>,
}

fn json(input: &RenderInput<'_>, s: &mut SecretBuf) -> Result<(), SecretsError> {
    let c = input.creds;
    let out = JsonOutput {
        access_key_id: &c.access_key_id,
        secret_access_key: c.secret_access_key.expose(),
        endpoint: &c.endpoint,
        region: c.region,
        account_id: input.account_id,
        token_id: input.token_id,
        jurisdiction: input.token.jurisdiction.as_str(),
        issued_at: input
            .issued_at
            .to_offset(time::UtcOffset::UTC)
            .format(&Rfc3339)
            .map_err(|_| render_error(input))?,
        cloudflare_api_token: input.api_token.map(TokenValue::expose),
    };
    // serde_json's own errors could quote input; replace them with a plain one.
    serde_json::to_writer_pretty(&mut *s, &out).map_err(|_| render_error(input))?;
    s.push(b"\n");
    Ok(())
}

fn render_error(input: &RenderInput<'_>) -> SecretsError {
    SecretsError::Render {
        token: input.token.name.clone(),
        format: input.token.output.format.as_str(),
    }
}

fn rclone(input: &RenderInput<'_>, s: &mut SecretBuf) {
    let c = input.creds;
    let _ = s.write_str(&header(input, "rclone remote"));
    let _ = write!(
        s,
        "[{}]\n\
         type = s3\n\
         provider = Cloudflare\n\
         access_key_id = {}\n\
         secret_access_key = {}\n\
         endpoint = {}\n\
         region = {}\n\
         acl = private\n",
        section_name(&input.token.name),
        c.access_key_id,
        c.secret_access_key.expose(),
        c.endpoint,
        c.region,
    );
    // Always: an object-scoped token is denied CreateBucket, and shown only for those it
    // would go stale when the access level changes.
    let _ = s.write_str("# buckets are managed by r2gitops: rclone must not try to create them\n");
    let _ = s.write_str("no_check_bucket = true\n");
    if let Some(api) = input.api_token {
        let _ = write!(
            s,
            "# {API_TOKEN_LABEL}\ncloudflare_api_token = {}\n",
            api.expose()
        );
    }
}

fn aws(input: &RenderInput<'_>, s: &mut SecretBuf) {
    let c = input.creds;
    let name = section_name(&input.token.name);
    let _ = s.write_str(&header(input, "AWS shared-credentials profile"));
    let _ = write!(
        s,
        "# use: AWS_SHARED_CREDENTIALS_FILE=<this file> AWS_PROFILE={name}\n\
         [{name}]\n\
         aws_access_key_id = {}\n\
         aws_secret_access_key = {}\n\
         endpoint_url = {}\n\
         region = {}\n\
         request_checksum_calculation = when_required\n\
         response_checksum_validation = when_required\n",
        c.access_key_id,
        c.secret_access_key.expose(),
        c.endpoint,
        c.region,
    );
    if let Some(api) = input.api_token {
        let _ = write!(
            s,
            "# {API_TOKEN_LABEL}\ncloudflare_api_token = {}\n",
            api.expose()
        );
    }
}

#[cfg(test)]
mod tests {
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
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
}
