//! `POST /accounts/{account_id}/r2/temp-access-credentials` (https://developers.cloudflare.com/r2/api/s3/temporary-credentials/;
//! request and response shapes as in cloudflare-typescript and
//! cloudflare-python's `r2.temporary_credentials.create`).
//!
//! A child of `client` (it sends through the same `send_secret` path). The answer's secret
//! access key and session token go from the wiped body buffer straight into their secret
//! types; nothing here logs or formats them. Cloudflare keeps no record of what it issued:
//! there is nothing to list or read back.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, WriteClient};
use crate::cloudflare::api::{IssuedTemporary, TemporaryRequest};
use crate::cloudflare::error::ApiError;
use crate::secret::{S3Secret, SessionToken};

/// `r2_temp_access_creds_response`: every field is optional in the SDKs' types.
#[derive(Deserialize)]
struct WireIssued {
    #[serde(rename = "accessKeyId", default)]
    access_key_id: Option<String>,
    #[serde(rename = "secretAccessKey", default)]
    secret_access_key: Option<S3Secret>,
    #[serde(rename = "sessionToken", default)]
    session_token: Option<SessionToken>,
}

/// The JSON body, camelCase as the API and the SDKs send it; empty scopes are left out.
pub fn request_body(r: &TemporaryRequest) -> Value {
    let mut body = json!({
        "bucket": r.bucket,
        "parentAccessKeyId": r.parent_access_key_id,
        "permission": r.permission,
        "ttlSeconds": r.ttl_seconds,
    });
    if !r.prefixes.is_empty() {
        body["prefixes"] = json!(r.prefixes);
    }
    if !r.objects.is_empty() {
        body["objects"] = json!(r.objects);
    }
    body
}

impl WriteClient {
    pub(crate) async fn post_temporary(
        &self,
        request: &TemporaryRequest,
    ) -> Result<IssuedTemporary, ApiError> {
        let op = format!(
            "issue a temporary credential for bucket '{}' under {}",
            request.bucket, request.parent_access_key_id
        );
        let path = format!(
            "/accounts/{}/r2/temp-access-credentials",
            self.read.inner.account_id
        );
        let mut call = Call::new(op.clone(), Method::POST, path);
        call.body = Some(request_body(request));
        // Replay-safe: a lost answer leaves nothing behind in Cloudflare (no object, no
        // quota), and the credential it held was never written anywhere.
        let wire: WireIssued = self.read.send_secret(call).await?;
        let missing: Vec<&str> = [
            (
                "accessKeyId",
                wire.access_key_id.as_ref().is_none_or(|s| s.is_empty()),
            ),
            (
                "secretAccessKey",
                wire.secret_access_key
                    .as_ref()
                    .is_none_or(|s| s.expose().is_empty()),
            ),
            (
                "sessionToken",
                wire.session_token
                    .as_ref()
                    .is_none_or(|s| s.expose().is_empty()),
            ),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        match (
            wire.access_key_id,
            wire.secret_access_key,
            wire.session_token,
        ) {
            (Some(access_key_id), Some(secret_access_key), Some(session_token))
                if missing.is_empty() =>
            {
                Ok(IssuedTemporary {
                    access_key_id,
                    secret_access_key,
                    session_token,
                })
            }
            _ => Err(ApiError::transport(
                &op,
                format!(
                    "the answer has no {} (nothing was written)",
                    missing.join(", ")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_documented_fields_and_leaves_empty_scopes_out() {
        let mut r = TemporaryRequest {
            bucket: "media-uploads".into(),
            parent_access_key_id: "0123456789abcdef0123456789abcdef".into(),
            permission: "object-read-write",
            ttl_seconds: 43_200,
            prefixes: vec!["inbound/partner-a/".into()],
            objects: Vec::new(),
        };
        assert_eq!(
            request_body(&r),
            json!({
                "bucket": "media-uploads",
                "parentAccessKeyId": "0123456789abcdef0123456789abcdef",
                "permission": "object-read-write",
                "ttlSeconds": 43200,
                "prefixes": ["inbound/partner-a/"],
            })
        );
        r.prefixes.clear();
        r.objects = vec!["a.json".into()];
        let body = request_body(&r);
        assert_eq!(body["objects"], json!(["a.json"]));
        assert!(body.get("prefixes").is_none());
    }
}
