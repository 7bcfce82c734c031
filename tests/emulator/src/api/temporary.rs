//! Temporary credentials: `POST /accounts/{account_id}/r2/temp-access-credentials`
//! with the request and response of Cloudflare's schema
//! (https://developers.cloudflare.com/r2/api/s3/temporary-credentials/; the fields
//! cloudflare-typescript and cloudflare-python send and read), and their enforcement on the
//! S3 side: the session token must be sent and signed (`X-Amz-Security-Token`), the
//! credential reaches one bucket within its prefixes or objects, expires, and dies with its
//! parent (rolled or deleted). A child of `api` (it answers through the same envelope).

use std::net::IpAddr;

use base64::Engine;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{Principal, Reply, bad_request, err, forbidden, no_bucket, ok, parse_query};
use crate::state::{R2_ADMIN_READ, R2_ADMIN_WRITE, Token, random_hex, rfc3339};
use crate::{Inner, World};
use axum::http::{Method, StatusCode};

/// The spec's bounds on `ttlSeconds`: default 900, maximum 604800, no minimum declared.
pub const DEFAULT_TTL: u64 = 900;
pub const MAX_TTL: u64 = 604_800;

const PERMISSIONS: [&str; 4] = [
    "admin-read-write",
    "admin-read-only",
    "object-read-write",
    "object-read-only",
];

/// A credential as the emulator holds it.
#[derive(Debug, Clone)]
pub(crate) struct TempCred {
    pub access_key_id: String,
    pub secret: String,
    pub session_token: String,
    pub parent_id: String,
    /// SHA-256 of the parent's value when this was issued: a roll changes it.
    pub parent_value_sha256: String,
    pub bucket: String,
    pub permission: &'static str,
    pub prefixes: Vec<String>,
    pub objects: Vec<String>,
    pub ttl_seconds: u64,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A temporary credential as the emulator holds it, for tests that check the result
/// directly rather than through the product. Never its secret or session token.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TemporaryView {
    pub access_key_id: String,
    pub parent_access_key_id: String,
    pub bucket: String,
    pub permission: String,
    pub prefixes: Vec<String>,
    pub objects: Vec<String>,
    pub ttl_seconds: u64,
    pub issued_at: String,
    pub expires_at: String,
}

pub(crate) fn views(inner: &Inner) -> Vec<TemporaryView> {
    let world = inner.world.lock().unwrap();
    let mut all: Vec<&TempCred> = world.temporary.values().collect();
    all.sort_by_key(|t| (t.issued_at, t.access_key_id.clone()));
    all.into_iter()
        .map(|t| TemporaryView {
            access_key_id: t.access_key_id.clone(),
            parent_access_key_id: t.parent_id.clone(),
            bucket: t.bucket.clone(),
            permission: t.permission.to_string(),
            prefixes: t.prefixes.clone(),
            objects: t.objects.clone(),
            ttl_seconds: t.ttl_seconds,
            issued_at: rfc3339(t.issued_at),
            expires_at: rfc3339(t.expires_at),
        })
        .collect()
}

fn value_sha256(t: &Token) -> String {
    hex::encode(Sha256::digest(t.value.as_bytes()))
}

fn strings(v: &Value, field: &str) -> Result<Vec<String>, Reply> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad_request(&format!("{field}: must be an array of strings")))
            })
            .collect(),
        Some(_) => Err(bad_request(&format!(
            "{field}: must be an array of strings"
        ))),
    }
}

/// `POST /accounts/{account_id}/r2/temp-access-credentials`.
pub(super) fn create(inner: &Inner, who: &Principal, method: &Method, body: &[u8]) -> Reply {
    if *method != Method::POST {
        return err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed");
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_request("Malformed JSON in request body");
    };
    let bucket = req.get("bucket").and_then(Value::as_str).unwrap_or("");
    if bucket.is_empty() {
        return bad_request("bucket: required");
    }
    let Some(parent_id) = req.get("parentAccessKeyId").and_then(Value::as_str) else {
        return bad_request("parentAccessKeyId: required");
    };
    let Some(permission) = req
        .get("permission")
        .and_then(Value::as_str)
        .and_then(|p| PERMISSIONS.into_iter().find(|x| *x == p))
    else {
        return bad_request(
            "permission: must be one of admin-read-write, admin-read-only, object-read-write, object-read-only",
        );
    };
    let ttl = match req.get("ttlSeconds") {
        None | Some(Value::Null) => DEFAULT_TTL as f64,
        Some(v) => match v.as_f64() {
            Some(t) => t,
            None => return bad_request("ttlSeconds: must be a number"),
        },
    };
    if !(ttl > 0.0 && ttl <= MAX_TTL as f64) {
        return bad_request("ttlSeconds: must be more than 0 and at most 604800");
    }
    let (prefixes, objects) = match (strings(&req, "prefixes"), strings(&req, "objects")) {
        (Ok(p), Ok(o)) => (p, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };

    let now = OffsetDateTime::now_utc();
    let mut world = inner.world.lock().unwrap();
    // Who may mint: the parent itself (the docs' example), or a token that may write R2
    // in this account (the spec names no permission for this call).
    if let Principal::Token(caller) = who
        && caller != parent_id
        && !world.tokens[caller].has_account_group(&inner.account_id, &[R2_ADMIN_WRITE])
    {
        return forbidden();
    }
    let Some(parent) = world.tokens.get(parent_id) else {
        return bad_request("parentAccessKeyId: no R2 API token has this access key id");
    };
    if parent.status(now) != "active" {
        return err(
            StatusCode::FORBIDDEN,
            10000,
            "The parent access key is not active",
        );
    }
    let jurisdictions: Vec<&str> = world
        .buckets
        .keys()
        .filter(|(_, n)| n == bucket)
        .map(|(j, _)| j.as_str())
        .collect();
    if jurisdictions.is_empty() {
        return no_bucket();
    }
    let write = permission.ends_with("read-write");
    let admin_ok = !permission.starts_with("admin")
        || parent.has_account_group(&inner.account_id, &[R2_ADMIN_WRITE, R2_ADMIN_READ])
            && (!write || parent.has_account_group(&inner.account_id, &[R2_ADMIN_WRITE]));
    let covers = jurisdictions
        .iter()
        .any(|j| parent.may_access_bucket(&inner.account_id, j, bucket, write));
    if !(covers && admin_ok) {
        return err(
            StatusCode::FORBIDDEN,
            10000,
            "The parent access key cannot grant this permission on this bucket",
        );
    }
    let parent_value_sha256 = value_sha256(parent);
    let mut rng = inner.rng.lock().unwrap();
    let session = format!("emu/{}", random_hex(&mut *rng, 48));
    let cred = TempCred {
        access_key_id: random_hex(&mut *rng, 16),
        secret: random_hex(&mut *rng, 32),
        session_token: base64::engine::general_purpose::STANDARD.encode(session),
        parent_id: parent_id.to_string(),
        parent_value_sha256,
        bucket: bucket.to_string(),
        permission,
        prefixes,
        objects,
        ttl_seconds: ttl.ceil() as u64,
        issued_at: now,
        expires_at: now + time::Duration::seconds_f64(ttl),
    };
    let result = json!({
        "accessKeyId": cred.access_key_id,
        "secretAccessKey": cred.secret,
        "sessionToken": cred.session_token,
    });
    world.temporary.insert(cred.access_key_id.clone(), cred);
    ok(result)
}

/// R2's answer to credentials that do not authenticate (10002 in the docs' table).
fn unauthorized(message: &'static str) -> S3Error {
    let code = S3ErrorCode::from_bytes(b"Unauthorized").expect("any name is a code");
    let mut e = S3Error::with_message(code, message);
    e.set_status_code(StatusCode::UNAUTHORIZED);
    e
}

const READ_OPS: &[&str] = &[
    "GetObject",
    "HeadObject",
    "ListObjects",
    "ListObjectsV2",
    "ListMultipartUploads",
    "ListParts",
];
const WRITE_OPS: &[&str] = &[
    "PutObject",
    "DeleteObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
];
const LIST_OPS: &[&str] = &["ListObjects", "ListObjectsV2", "ListMultipartUploads"];

/// The S3 check of a request signed with a temporary credential; `None` when the access
/// key is not one (the token rules apply then).
pub(crate) fn s3_check(
    inner: &Inner,
    jurisdiction: &str,
    cx: &mut s3s::access::S3AccessContext<'_>,
) -> Option<S3Result<()>> {
    let access_key = cx.credentials()?.access_key.clone();
    let peer: Option<IpAddr> = cx
        .extensions_mut()
        .get::<crate::s3::PeerAddr>()
        .map(|p| p.0.ip());
    let world = inner.world.lock().unwrap();
    let cred = world.temporary.get(&access_key)?;
    Some(check(inner, &world, cred, jurisdiction, cx, peer))
}

fn check(
    inner: &Inner,
    world: &World,
    cred: &TempCred,
    jurisdiction: &str,
    cx: &s3s::access::S3AccessContext<'_>,
    peer: Option<IpAddr>,
) -> S3Result<()> {
    let headers = cx.headers();
    let query = parse_query(cx.uri().query().unwrap_or(""));
    let sent = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.get("X-Amz-Security-Token").cloned());
    if sent.as_deref() != Some(cred.session_token.as_str()) {
        return Err(unauthorized(
            "The session token (X-Amz-Security-Token) is missing or does not belong to this access key",
        ));
    }
    // With header auth the token must be among the signed headers (a presigned URL signs
    // its whole query, the token included).
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let signed = auth
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|r| r.split([',', ' ']).next())
            .unwrap_or("");
        if !signed.split(';').any(|h| h == "x-amz-security-token") {
            return Err(unauthorized(
                "X-Amz-Security-Token must be one of the signed headers",
            ));
        }
    }
    let now = OffsetDateTime::now_utc();
    if now >= cred.expires_at {
        return Err(unauthorized("The temporary credential has expired"));
    }
    let Some(parent) = world.tokens.get(&cred.parent_id) else {
        return Err(unauthorized(
            "The parent access key of this temporary credential no longer exists",
        ));
    };
    if value_sha256(parent) != cred.parent_value_sha256 || !parent.usable(now, peer) {
        return Err(unauthorized(
            "The parent access key of this temporary credential was rolled or is not usable",
        ));
    }

    let denied = || Err(s3_error!(AccessDenied, "Access Denied"));
    let op = cx.s3_op().name();
    let (bucket, key) = match cx.s3_path() {
        s3s::path::S3Path::Root => return denied(),
        s3s::path::S3Path::Bucket { bucket } => (bucket.to_string(), None),
        s3s::path::S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
    };
    if bucket != cred.bucket {
        return denied();
    }
    let write = if READ_OPS.contains(&op) {
        false
    } else if WRITE_OPS.contains(&op) {
        true
    } else if op == "HeadBucket" && cred.permission.starts_with("admin") {
        false
    } else {
        return denied();
    };
    if write && !cred.permission.ends_with("read-write") {
        return denied();
    }
    // Never more than the parent may do now.
    if !parent.may_access_bucket(&inner.account_id, jurisdiction, &bucket, write) {
        return denied();
    }
    if cred.prefixes.is_empty() && cred.objects.is_empty() {
        return Ok(());
    }
    let within = |path: &str, exact_ok: bool| {
        cred.prefixes.iter().any(|p| path.starts_with(p.as_str()))
            || (exact_ok && cred.objects.iter().any(|o| o == path))
    };
    let allowed = match (&key, LIST_OPS.contains(&op)) {
        (Some(k), _) => within(k, true),
        // A list stays inside when its prefix does (or names an allowed object exactly).
        (None, true) => query.get("prefix").is_some_and(|p| within(p, true)),
        (None, false) => op == "HeadBucket",
    };
    if allowed { Ok(()) } else { denied() }
}
