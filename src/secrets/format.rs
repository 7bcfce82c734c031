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
mod tests;
