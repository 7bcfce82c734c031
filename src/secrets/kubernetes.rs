//! The Kubernetes `Secret` of the `kubernetes` and `kubernetes-sops` formats: built as a
//! document tree, then either rendered as plaintext YAML and age-encrypted like every other
//! format (`kubernetes`), or SOPS-encrypted value by value (`kubernetes-sops`: safe to
//! commit, and what Flux's kustomize-controller decrypts with `decryption.provider: sops`).
//!
//! Stable contract (consumers read these names; change them only additively):
//! - `apiVersion: v1`, `kind: Secret`, `type: Opaque`, the declared name, namespace and
//!   labels plus `app.kubernetes.io/managed-by: r2gitops` (a declared label wins).
//! - Annotations: `r2gitops.io/token` (the declared name), `r2gitops.io/token-id` (a
//!   token's id) or `r2gitops.io/access-key-id` (a temporary credential's),
//!   `r2gitops.io/generation` (when the value was issued, RFC 3339 UTC: it changes with
//!   every new value, so a Deployment can roll on it), and `r2gitops.io/expires-at` when the
//!   credential expires.
//! - `stringData`, `keys: aws`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   (`AWS_SESSION_TOKEN`), `AWS_ENDPOINT_URL_S3`, `AWS_REGION` and `AWS_DEFAULT_REGION`
//!   (`auto`; boto3 reads the latter), `AWS_REQUEST_CHECKSUM_CALCULATION` and
//!   `AWS_RESPONSE_CHECKSUM_VALIDATION` (`when_required`: newer SDKs send checksums R2
//!   rejects), `R2_BUCKET` when the credential names one bucket, and for a temporary
//!   credential `AWS_CREDENTIAL_EXPIRATION`. `keys: r2`: `R2_ACCOUNT_ID`,
//!   `R2_ACCESS_KEY_ID`, `R2_SECRET_ACCESS_KEY`, (`R2_SESSION_TOKEN`), `R2_ENDPOINT`,
//!   `R2_BUCKET`, (`R2_EXPIRES_AT`). With `include_api_token`: `CLOUDFLARE_API_TOKEN` and
//!   `CLOUDFLARE_ACCOUNT_ID`.
//!
//! Pure except for the randomness of encryption; no file I/O, no clock. The plaintext lives
//! only in `SecretBuf`s (wiped when dropped) until it is encrypted.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::SecretsError;
use super::encrypt;
use super::sops::{self, Node};
use crate::config::{KeyStyle, KubernetesSpec, OutputFormat, OutputSpec};
use crate::secret::SecretBuf;

/// What the Secret carries, borrowed from wherever it is held.
pub struct Values<'a> {
    pub account_id: &'a str,
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub endpoint: &'a str,
    pub bucket: Option<&'a str>,
    pub expires_at: Option<OffsetDateTime>,
    pub api_token: Option<&'a str>,
}

/// Who the Secret is for: the declared name, and which annotation names its id.
pub struct Owner<'a> {
    pub name: &'a str,
    /// `("r2gitops.io/token-id", id)` or `("r2gitops.io/access-key-id", id)`.
    pub id: (&'static str, &'a str),
    pub issued_at: OffsetDateTime,
}

/// The ciphertext of the output: age over the plaintext manifest, or the SOPS document.
pub fn encode(
    token: &str,
    output: &OutputSpec,
    owner: &Owner<'_>,
    values: &Values<'_>,
    now: OffsetDateTime,
) -> Result<Vec<u8>, SecretsError> {
    let spec = output
        .kubernetes
        .as_ref()
        .ok_or_else(|| SecretsError::Render {
            token: token.to_owned(),
            format: output.format.as_str(),
        })?;
    let doc = manifest(spec, owner, values);
    match output.format {
        OutputFormat::KubernetesSops => sops::encrypt_yaml(token, &doc, &output.recipients, now),
        _ => {
            let plaintext = sops::plain_yaml(&doc);
            drop(doc);
            let ciphertext =
                encrypt::encrypt(token, &output.recipients, output.armor, plaintext.expose())?;
            // Wiped now, not when the caller returns.
            drop(plaintext);
            Ok(ciphertext)
        }
    }
}

/// What a token's Secret shows that may change without its secret (a roll re-renders it):
/// the one bucket `R2_BUCKET` names and the expiry annotation.
pub fn details(
    bucket: Option<&str>,
    expires_at: Option<OffsetDateTime>,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("bucket".to_string(), bucket.unwrap_or_default().to_string()),
        (
            "expires_at".to_string(),
            expires_at.map(rfc3339).unwrap_or_default(),
        ),
    ])
}

/// UTC, whole seconds: `2026-03-01T11:00:00Z`.
fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn text(s: impl Into<String>) -> Node {
    Node::Text(s.into())
}

fn secret(s: &str) -> Node {
    let mut b = SecretBuf::with_capacity(s.len());
    b.push(s.as_bytes());
    Node::Secret(b)
}

/// The Secret as a document tree, keys in the order of the contract above.
pub fn manifest(spec: &KubernetesSpec, owner: &Owner<'_>, v: &Values<'_>) -> Vec<(String, Node)> {
    let mut labels: BTreeMap<String, String> = spec.labels.clone();
    labels
        .entry("app.kubernetes.io/managed-by".into())
        .or_insert_with(|| "r2gitops".into());
    let mut annotations = vec![
        ("r2gitops.io/token".to_string(), text(owner.name)),
        (owner.id.0.to_string(), text(owner.id.1)),
        (
            "r2gitops.io/generation".to_string(),
            text(rfc3339(owner.issued_at)),
        ),
    ];
    if let Some(at) = v.expires_at {
        annotations.push(("r2gitops.io/expires-at".into(), text(rfc3339(at))));
    }
    let expires = v.expires_at.map(rfc3339);
    let mut data: Vec<(String, Node)> = Vec::new();
    let mut put = |k: &str, value: &str| data.push((k.to_string(), secret(value)));
    match spec.keys {
        KeyStyle::Aws => {
            put("AWS_ACCESS_KEY_ID", v.access_key_id);
            put("AWS_SECRET_ACCESS_KEY", v.secret_access_key);
            if let Some(s) = v.session_token {
                put("AWS_SESSION_TOKEN", s);
            }
            put("AWS_ENDPOINT_URL_S3", v.endpoint);
            put("AWS_REGION", super::derive::REGION);
            put("AWS_DEFAULT_REGION", super::derive::REGION);
            put("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required");
            put("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required");
            if let Some(b) = v.bucket {
                put("R2_BUCKET", b);
            }
            if v.session_token.is_some()
                && let Some(e) = &expires
            {
                put("AWS_CREDENTIAL_EXPIRATION", e);
            }
        }
        KeyStyle::R2 => {
            put("R2_ACCOUNT_ID", v.account_id);
            put("R2_ACCESS_KEY_ID", v.access_key_id);
            put("R2_SECRET_ACCESS_KEY", v.secret_access_key);
            if let Some(s) = v.session_token {
                put("R2_SESSION_TOKEN", s);
            }
            put("R2_ENDPOINT", v.endpoint);
            if let Some(b) = v.bucket {
                put("R2_BUCKET", b);
            }
            if v.session_token.is_some()
                && let Some(e) = &expires
            {
                put("R2_EXPIRES_AT", e);
            }
        }
    }
    if let Some(api) = v.api_token {
        put("CLOUDFLARE_API_TOKEN", api);
        put("CLOUDFLARE_ACCOUNT_ID", v.account_id);
    }
    vec![
        ("apiVersion".into(), text("v1")),
        ("kind".into(), text("Secret")),
        (
            "metadata".into(),
            Node::Map(vec![
                ("name".into(), text(spec.name.as_str())),
                ("namespace".into(), text(spec.namespace.as_str())),
                (
                    "labels".into(),
                    Node::Map(labels.into_iter().map(|(k, v)| (k, text(v))).collect()),
                ),
                ("annotations".into(), Node::Map(annotations)),
            ]),
        ),
        ("type".into(), text("Opaque")),
        ("stringData".into(), Node::Map(data)),
    ]
}

#[cfg(test)]
mod tests;
