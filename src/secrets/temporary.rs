//! Outputs of temporary credentials: the four formats with the session token in
//! the field each client expects and an `expires_at` everywhere, written like a token's
//! output (age, atomic, 0600, no symlinks), and the `verify` self-test: one signed S3 call
//! that carries the session token.
//!
//! Owns the plaintext of these outputs: it exists only in a `SecretBuf` between render and
//! encryption. Must not log, print or return a secret, and decides nothing about *when* a
//! credential is issued (the planner does).
//!
//! Stable contract of each format (consumers parse these; change them only additively):
//! - `env`: as a token's, plus `AWS_SESSION_TOKEN`, `R2_BUCKET`, `R2_EXPIRES_AT` and
//!   `AWS_CREDENTIAL_EXPIRATION` (both RFC 3339, UTC; the latter is the name AWS SDKs that
//!   read expiring environment credentials look for).
//! - `json`: `access_key_id`, `secret_access_key`, `session_token`, `endpoint`, `region`,
//!   `account_id`, `bucket`, `jurisdiction`, `issued_at`, `expires_at`.
//! - `rclone`: as a token's remote, plus `session_token` and `expires_at` (rclone ignores
//!   keys it does not know).
//! - `aws`: as a token's profile, plus `aws_session_token` and `expires_at`.
//!
//! Unlike a token's file, these may show the scope (bucket, prefixes): any change of scope
//! issues a new credential and re-renders the file anyway.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::derive::REGION;
use super::format::section_name;
use super::probe::{ProbeSettings, SignedHeaders, VerifyOutcome, signed_get_until_ok};
use super::sigv4::{self, EMPTY_SHA256, Request, Signer};
use super::{OutputRecord, OutputWriter, SecretsError, encrypt, write};
use crate::config::{OutputFormat, TemporarySpec};
use crate::secret::{S3Secret, SecretBuf, SessionToken};

/// The three values Cloudflare issued, borrowed from wherever they are held.
pub struct TemporaryCredentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a S3Secret,
    pub session_token: &'a SessionToken,
}

/// Everything one output shows.
pub struct RenderInput<'a> {
    pub spec: &'a TemporarySpec,
    pub account_id: &'a str,
    pub endpoint: &'a str,
    pub creds: &'a TemporaryCredentials<'a>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The plaintext, in a buffer wiped when dropped: encrypt it and drop it.
pub fn render(input: &RenderInput<'_>) -> Result<SecretBuf, SecretsError> {
    let mut out = SecretBuf::with_capacity(4096);
    match input.spec.output.format {
        OutputFormat::Env => env(input, &mut out),
        OutputFormat::Json => json(input, &mut out)?,
        OutputFormat::Rclone => rclone(input, &mut out),
        OutputFormat::Aws => aws(input, &mut out),
        // Rendered as a Secret by `kubernetes` (the writer never calls this for them).
        OutputFormat::Kubernetes | OutputFormat::KubernetesSops => {
            return Err(SecretsError::Render {
                token: input.spec.name.clone(),
                format: input.spec.output.format.as_str(),
            });
        }
    }
    Ok(out)
}

/// What an output shows that may change without a new credential (the endpoint and its
/// jurisdiction): recorded, so that a change issues a new one.
pub fn details(endpoint: &str, spec: &TemporarySpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("endpoint".to_string(), endpoint.to_string()),
        (
            "jurisdiction".to_string(),
            spec.jurisdiction.as_str().to_string(),
        ),
    ])
}

fn header(input: &RenderInput<'_>) -> String {
    let scope = &input.spec.scope;
    format!(
        "# r2gitops: temporary S3 credentials '{}' ({} on {}), issued {}, expires {}\n",
        section_name(&input.spec.name),
        scope.access.as_str(),
        scope.target().replace('\n', " "),
        rfc3339(input.issued_at),
        rfc3339(input.expires_at),
    )
}

fn env(input: &RenderInput<'_>, s: &mut SecretBuf) {
    let c = input.creds;
    let expires = rfc3339(input.expires_at);
    let _ = s.write_str(&header(input));
    let _ = write!(
        s,
        "AWS_ACCESS_KEY_ID={}\n\
         AWS_SECRET_ACCESS_KEY={}\n\
         AWS_SESSION_TOKEN={}\n\
         AWS_ENDPOINT_URL={}\n\
         AWS_REGION={REGION}\n\
         AWS_DEFAULT_REGION={REGION}\n\
         AWS_REQUEST_CHECKSUM_CALCULATION=when_required\n\
         AWS_RESPONSE_CHECKSUM_VALIDATION=when_required\n\
         AWS_CREDENTIAL_EXPIRATION={expires}\n\
         R2_ACCOUNT_ID={}\n\
         R2_BUCKET={}\n\
         R2_EXPIRES_AT={expires}\n",
        c.access_key_id,
        c.secret_access_key.expose(),
        c.session_token.expose(),
        input.endpoint,
        input.account_id,
        input.spec.scope.bucket,
    );
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    endpoint: &'a str,
    region: &'a str,
    account_id: &'a str,
    bucket: &'a str,
    jurisdiction: &'a str,
    issued_at: String,
    expires_at: String,
}

fn json(input: &RenderInput<'_>, s: &mut SecretBuf) -> Result<(), SecretsError> {
    let c = input.creds;
    let out = JsonOutput {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key.expose(),
        session_token: c.session_token.expose(),
        endpoint: input.endpoint,
        region: REGION,
        account_id: input.account_id,
        bucket: &input.spec.scope.bucket,
        jurisdiction: input.spec.jurisdiction.as_str(),
        issued_at: rfc3339(input.issued_at),
        expires_at: rfc3339(input.expires_at),
    };
    // serde_json's own errors could quote input; replace them with a plain one.
    serde_json::to_writer_pretty(&mut *s, &out).map_err(|_| SecretsError::Render {
        token: input.spec.name.clone(),
        format: input.spec.output.format.as_str(),
    })?;
    s.push(b"\n");
    Ok(())
}

fn rclone(input: &RenderInput<'_>, s: &mut SecretBuf) {
    let c = input.creds;
    let _ = s.write_str(&header(input));
    let _ = write!(
        s,
        "[{}]\n\
         type = s3\n\
         provider = Cloudflare\n\
         access_key_id = {}\n\
         secret_access_key = {}\n\
         session_token = {}\n\
         endpoint = {}\n\
         region = {REGION}\n\
         acl = private\n\
         # buckets are managed by r2gitops: rclone must not try to create them\n\
         no_check_bucket = true\n\
         # for whoever polls this file; rclone ignores it\n\
         expires_at = {}\n",
        section_name(&input.spec.name),
        c.access_key_id,
        c.secret_access_key.expose(),
        c.session_token.expose(),
        input.endpoint,
        rfc3339(input.expires_at),
    );
}

fn aws(input: &RenderInput<'_>, s: &mut SecretBuf) {
    let c = input.creds;
    let name = section_name(&input.spec.name);
    let _ = s.write_str(&header(input));
    let _ = write!(
        s,
        "# use: AWS_SHARED_CREDENTIALS_FILE=<this file> AWS_PROFILE={name}\n\
         [{name}]\n\
         aws_access_key_id = {}\n\
         aws_secret_access_key = {}\n\
         aws_session_token = {}\n\
         endpoint_url = {}\n\
         region = {REGION}\n\
         request_checksum_calculation = when_required\n\
         response_checksum_validation = when_required\n\
         # for whoever polls this file; AWS clients ignore it\n\
         expires_at = {}\n",
        c.access_key_id,
        c.secret_access_key.expose(),
        c.session_token.expose(),
        input.endpoint,
        rfc3339(input.expires_at),
    );
}

impl OutputWriter {
    /// The S3 endpoint a temporary credential's output names.
    pub fn temporary_endpoint(&self, spec: &TemporarySpec) -> String {
        self.endpoints.url(&self.account_id, spec.jurisdiction)
    }

    /// What an output written now for `spec` would show that may change (for the plan).
    pub fn temporary_details(&self, spec: &TemporarySpec) -> BTreeMap<String, String> {
        details(&self.temporary_endpoint(spec), spec)
    }

    /// Render, encrypt and atomically write `spec`'s output. Blocking I/O: call it from
    /// `spawn_blocking` in async code.
    pub fn write_temporary(
        &self,
        spec: &TemporarySpec,
        creds: &TemporaryCredentials<'_>,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<OutputRecord, SecretsError> {
        let endpoint = self.temporary_endpoint(spec);
        let ciphertext = if spec.output.format.is_kubernetes() {
            super::kubernetes::encode(
                &spec.name,
                &spec.output,
                &super::kubernetes::Owner {
                    name: &spec.name,
                    id: ("r2gitops.io/access-key-id", creds.access_key_id),
                    issued_at,
                },
                &super::kubernetes::Values {
                    account_id: &self.account_id,
                    access_key_id: creds.access_key_id,
                    secret_access_key: creds.secret_access_key.expose(),
                    session_token: Some(creds.session_token.expose()),
                    endpoint: &endpoint,
                    bucket: Some(&spec.scope.bucket),
                    expires_at: Some(expires_at),
                    api_token: None,
                },
                issued_at,
            )?
        } else {
            let plaintext = render(&RenderInput {
                spec,
                account_id: &self.account_id,
                endpoint: &endpoint,
                creds,
                issued_at,
                expires_at,
            })?;
            let ciphertext = encrypt::encrypt(
                &spec.name,
                &spec.output.recipients,
                spec.output.armor,
                plaintext.expose(),
            )?;
            drop(plaintext);
            ciphertext
        };
        write::write_atomic(
            &self.output_dir,
            &spec.output.file,
            &ciphertext,
            self.hook.as_deref(),
        )?;
        Ok(OutputRecord {
            path: spec.output.file.clone(),
            ciphertext_sha256: hex::encode(Sha256::digest(&ciphertext)),
            fingerprint: spec.output.fingerprint(),
            details: details(&endpoint, spec),
        })
    }

    /// The `output.verify` self-test of a temporary credential: `None` when not asked for,
    /// else the outcome of one signed ListObjectsV2 that carries the session token, retried
    /// briefly while the credential propagates. Cloudflare cannot show a temporary
    /// credential back, so this is the only proof that it works.
    pub async fn verify_temporary(
        &self,
        spec: &TemporarySpec,
        creds: &TemporaryCredentials<'_>,
    ) -> Option<VerifyOutcome> {
        if !spec.output.verify {
            return None;
        }
        let endpoint = self.temporary_endpoint(spec);
        Some(verify(creds, &endpoint, spec, &self.probe).await)
    }
}

/// The key prefix the self-test lists under: the first declared prefix, else the first
/// object key (a list under an exact key stays inside the scope), else none (whole bucket).
pub fn probe_prefix(spec: &TemporarySpec) -> Option<&str> {
    spec.scope
        .prefixes
        .first()
        .or(spec.scope.objects.first())
        .map(String::as_str)
}

/// ListObjectsV2 (`max-keys=1`, `prefix` when given) on `bucket`, signed with the session
/// token among the signed headers. Pure.
pub fn signed_list(
    creds: &TemporaryCredentials<'_>,
    endpoint: &str,
    bucket: &str,
    prefix: Option<&str>,
    amz_date: &str,
) -> Result<(reqwest::Url, SignedHeaders), String> {
    let mut url =
        reqwest::Url::parse(endpoint).map_err(|e| format!("bad endpoint '{endpoint}': {e}"))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(format!("endpoint '{endpoint}' has no host")),
    };
    let path = format!("/{}", sigv4::uri_encode(bucket, false));
    let mut query = vec![("list-type", "2"), ("max-keys", "1")];
    if let Some(p) = prefix {
        query.push(("prefix", p));
    }
    let token = creds.session_token.expose();
    let signer = Signer {
        access_key_id: creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose(),
        region: REGION,
        service: "s3",
    };
    let authorization = signer.authorization(
        amz_date,
        &Request {
            method: "GET",
            path: &path,
            query: &query,
            headers: &[
                ("host", &host),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", amz_date),
                ("x-amz-security-token", token),
            ],
            payload_sha256: EMPTY_SHA256,
        },
    );
    url.set_path(&path);
    url.set_query(Some(&sigv4::canonical_query(&query)));
    Ok((
        url,
        vec![
            ("x-amz-content-sha256", EMPTY_SHA256.to_owned()),
            ("x-amz-date", amz_date.to_owned()),
            ("x-amz-security-token", token.to_owned()),
            ("authorization", authorization),
        ],
    ))
}

async fn verify(
    creds: &TemporaryCredentials<'_>,
    endpoint: &str,
    spec: &TemporarySpec,
    settings: &ProbeSettings,
) -> VerifyOutcome {
    let bucket = spec.scope.bucket.as_str();
    signed_get_until_ok(
        bucket,
        settings,
        "temporary credential self-test",
        |amz_date| signed_list(creds, endpoint, bucket, probe_prefix(spec), amz_date),
    )
    .await
}

#[cfg(test)]
mod tests;
