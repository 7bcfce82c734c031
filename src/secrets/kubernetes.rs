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
mod tests {
    use std::path::PathBuf;

    use time::macros::datetime;

    use super::*;

    fn spec(keys: KeyStyle) -> KubernetesSpec {
        KubernetesSpec {
            name: "r2-media-reader".into(),
            namespace: "media".into(),
            keys,
            labels: BTreeMap::from([("app".into(), "media".into())]),
        }
    }

    fn values(session: Option<&'static str>) -> Values<'static> {
        Values {
            account_id: "0123456789abcdef0123456789abcdef",
            access_key_id: "f00dfacef00dfacef00dfacef00dface",
            secret_access_key: "5ecre75ecre75ecre75ecre75ecre75ecre75ecre75ecre75ecre75ecre70000",
            session_token: session,
            endpoint: "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
            bucket: Some("media"),
            expires_at: session.map(|_| datetime!(2026-03-01 12:00:00 UTC)),
            api_token: None,
        }
    }

    fn owner() -> Owner<'static> {
        Owner {
            name: "media-reader",
            id: ("r2gitops.io/token-id", "f00dfacef00dfacef00dfacef00dface"),
            issued_at: datetime!(2026-03-01 11:00:00.25 UTC),
        }
    }

    fn plain(keys: KeyStyle, session: Option<&'static str>) -> serde_json::Value {
        let doc = manifest(&spec(keys), &owner(), &values(session));
        serde_saphyr::from_str(sops::plain_yaml(&doc).expose_str().unwrap()).unwrap()
    }

    #[test]
    fn the_aws_keys_are_the_ones_the_sdks_read_from_the_environment() {
        let m = plain(KeyStyle::Aws, None);
        assert_eq!(m["apiVersion"], "v1");
        assert_eq!(m["kind"], "Secret");
        assert_eq!(m["type"], "Opaque");
        assert_eq!(m["metadata"]["name"], "r2-media-reader");
        assert_eq!(m["metadata"]["namespace"], "media");
        assert_eq!(m["metadata"]["labels"]["app"], "media");
        assert_eq!(
            m["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "r2gitops"
        );
        let a = &m["metadata"]["annotations"];
        assert_eq!(
            a["r2gitops.io/token-id"],
            "f00dfacef00dfacef00dfacef00dface"
        );
        assert_eq!(a["r2gitops.io/generation"], "2026-03-01T11:00:00Z");
        assert!(a.get("r2gitops.io/expires-at").is_none());
        let keys: Vec<&str> = m["stringData"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL_S3",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_REQUEST_CHECKSUM_CALCULATION",
            "AWS_RESPONSE_CHECKSUM_VALIDATION",
            "R2_BUCKET",
        ];
        let mut got = keys.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(m["stringData"]["AWS_REGION"], "auto");
        assert_eq!(m["stringData"]["R2_BUCKET"], "media");
    }

    #[test]
    fn a_temporary_credential_adds_its_session_token_and_expiry() {
        let m = plain(KeyStyle::Aws, Some("sess"));
        assert_eq!(m["stringData"]["AWS_SESSION_TOKEN"], "sess");
        assert_eq!(
            m["stringData"]["AWS_CREDENTIAL_EXPIRATION"],
            "2026-03-01T12:00:00Z"
        );
        assert_eq!(
            m["metadata"]["annotations"]["r2gitops.io/expires-at"],
            "2026-03-01T12:00:00Z"
        );
        let r = plain(KeyStyle::R2, Some("sess"));
        assert_eq!(r["stringData"]["R2_SESSION_TOKEN"], "sess");
        assert_eq!(r["stringData"]["R2_EXPIRES_AT"], "2026-03-01T12:00:00Z");
    }

    #[test]
    fn the_r2_keys_are_cloudflares_names() {
        let m = plain(KeyStyle::R2, None);
        let d = &m["stringData"];
        for key in [
            "R2_ACCOUNT_ID",
            "R2_ACCESS_KEY_ID",
            "R2_SECRET_ACCESS_KEY",
            "R2_ENDPOINT",
            "R2_BUCKET",
        ] {
            assert!(d.get(key).is_some(), "missing {key}");
        }
        assert!(d.get("AWS_ACCESS_KEY_ID").is_none());
    }

    #[test]
    fn a_declared_managed_by_label_wins() {
        let mut s = spec(KeyStyle::Aws);
        s.labels
            .insert("app.kubernetes.io/managed-by".into(), "flux".into());
        let doc = manifest(&s, &owner(), &values(None));
        let m: serde_json::Value =
            serde_saphyr::from_str(sops::plain_yaml(&doc).expose_str().unwrap()).unwrap();
        assert_eq!(
            m["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "flux"
        );
    }

    #[test]
    fn the_age_format_is_the_plain_manifest_encrypted() {
        let id = age::x25519::Identity::generate();
        let output = OutputSpec {
            file: PathBuf::from("s.age"),
            format: OutputFormat::Kubernetes,
            recipients: vec![id.to_public().to_string()],
            armor: false,
            include_api_token: false,
            verify: false,
            kubernetes: Some(spec(KeyStyle::Aws)),
        };
        let ct = encode(
            "t",
            &output,
            &owner(),
            &values(None),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert!(ct.starts_with(b"age-encryption.org/v1\n"));
        let plain = age::decrypt(&id, &ct).unwrap();
        let m: serde_json::Value =
            serde_saphyr::from_str(std::str::from_utf8(&plain).unwrap()).unwrap();
        assert_eq!(
            m["stringData"]["AWS_ACCESS_KEY_ID"],
            "f00dfacef00dfacef00dfacef00dface"
        );
        assert!(m.get("sops").is_none());
    }
}
