//! The optional `output.verify` self-test: one signed S3 ListObjectsV2 (`max-keys=1`) on the
//! token's first scoped bucket, retried briefly while new credentials propagate; and a
//! rotation's readiness proof (`ready`): the same call, or ListBuckets for an account-wide
//! token, retried with backoff until `settings.readiness_timeout`.
//!
//! Never HeadBucket, and ListBuckets only for admin tokens: R2 denies both to
//! object-scoped tokens. Network I/O only; the outcome is data for the report and never
//! contains a secret.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::config::TokenScope;

use super::derive::S3Credentials;
use super::sigv4::{self, EMPTY_SHA256, Request, Signer};

/// How hard the self-test tries before it reports a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSettings {
    pub attempts: u32,
    /// Pause after the first failure; doubles after each further one.
    pub first_pause: Duration,
    pub request_timeout: Duration,
}

impl Default for ProbeSettings {
    /// Five attempts over about 7.5 s: long enough for R2 to accept a fresh token.
    fn default() -> Self {
        ProbeSettings {
            attempts: 5,
            first_pause: Duration::from_millis(500),
            request_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum VerifyOutcome {
    Passed {
        bucket: String,
        attempts: u32,
    },
    Failed {
        bucket: String,
        attempts: u32,
        /// HTTP status of the last answer; `None` when no answer came.
        status: Option<u16>,
        /// The S3 error code (`AccessDenied`, `NoSuchBucket`, ...) or a transport error.
        error: String,
    },
    Skipped {
        reason: String,
    },
}

impl VerifyOutcome {
    pub fn passed(&self) -> bool {
        matches!(self, VerifyOutcome::Passed { .. })
    }
}

impl fmt::Display for VerifyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyOutcome::Passed { bucket, attempts } => write!(
                f,
                "verified: ListObjectsV2 on bucket '{bucket}' succeeded (attempt {attempts})"
            ),
            VerifyOutcome::Failed {
                bucket,
                attempts,
                status,
                error,
            } => {
                write!(
                    f,
                    "verify failed: ListObjectsV2 on bucket '{bucket}': {error}"
                )?;
                if let Some(s) = status {
                    write!(f, " (HTTP {s})")?;
                }
                write!(f, " after {attempts} attempt(s)")
            }
            VerifyOutcome::Skipped { reason } => write!(f, "verify skipped: {reason}"),
        }
    }
}

/// The bucket the self-test lists: the first named one. Account-wide and `*` tokens have
/// none, and listing the account's buckets is what R2 denies, so they are skipped.
pub fn probe_bucket(scope: &TokenScope) -> Option<&str> {
    match scope {
        TokenScope::Buckets(names) => names.first().map(String::as_str),
        TokenScope::AllBuckets | TokenScope::Account => None,
    }
}

/// Header name and value pairs to send with a signed request.
pub type SignedHeaders = Vec<(&'static str, String)>;

/// One path-style S3 request to sign: `path` is already URI-encoded (`/<bucket>[/<key>]`).
pub struct S3Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    /// Lowercase hex SHA-256 of the body (`EMPTY_SHA256` for none).
    pub payload_sha256: &'a str,
}

/// Sign `call` with `creds` (SigV4, service `s3`): the URL and the headers to send. Pure.
pub fn signed_request(
    creds: &S3Credentials,
    call: &S3Call<'_>,
    amz_date: &str,
) -> Result<(reqwest::Url, SignedHeaders), String> {
    let base = reqwest::Url::parse(&creds.endpoint)
        .map_err(|e| format!("bad endpoint '{}': {e}", creds.endpoint))?;
    let host = match (base.host_str(), base.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(format!("endpoint '{}' has no host", creds.endpoint)),
    };
    let signer = Signer {
        access_key_id: &creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose(),
        region: creds.region,
        service: "s3",
    };
    let authorization = signer.authorization(
        amz_date,
        &Request {
            method: call.method,
            path: call.path,
            query: call.query,
            headers: &[
                ("host", &host),
                ("x-amz-content-sha256", call.payload_sha256),
                ("x-amz-date", amz_date),
            ],
            payload_sha256: call.payload_sha256,
        },
    );
    let mut url = base;
    url.set_path(call.path);
    if !call.query.is_empty() {
        url.set_query(Some(&sigv4::canonical_query(call.query)));
    }
    Ok((
        url,
        vec![
            ("x-amz-content-sha256", call.payload_sha256.to_owned()),
            ("x-amz-date", amz_date.to_owned()),
            ("authorization", authorization),
        ],
    ))
}

/// The self-test's request: ListObjectsV2 with `max-keys=1` on `bucket`. Pure.
pub fn list_objects_request(
    creds: &S3Credentials,
    bucket: &str,
    amz_date: &str,
) -> Result<(reqwest::Url, SignedHeaders), String> {
    let path = format!("/{}", sigv4::uri_encode(bucket, false));
    let call = S3Call {
        method: "GET",
        path: &path,
        query: &[("list-type", "2"), ("max-keys", "1")],
        payload_sha256: EMPTY_SHA256,
    };
    signed_request(creds, &call, amz_date)
}

/// ListBuckets (`GET /`), which only an account-wide (admin) token may make. Pure.
pub fn list_buckets_request(
    creds: &S3Credentials,
    amz_date: &str,
) -> Result<(reqwest::Url, SignedHeaders), String> {
    let call = S3Call {
        method: "GET",
        path: "/",
        query: &[],
        payload_sha256: EMPTY_SHA256,
    };
    signed_request(creds, &call, amz_date)
}

/// A new key that passed its readiness probe: after how many attempts and how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ready {
    pub attempts: u32,
    pub elapsed: Duration,
}

/// The pause before the next readiness attempt: 250 ms, doubling, at most 4 s. A new R2
/// token can take seconds to propagate (wrangler sleeps 3 s, workers-sdk PR #6629).
pub fn readiness_pause(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.saturating_sub(1).min(4)))
}

/// Prove that a new pair works before anything is written with it: ListObjectsV2 with
/// `max-keys=1` on the first named bucket, or ListBuckets for a token without named
/// buckets, retried with backoff until it passes or `timeout` has passed. `Err` says what
/// the last answer was. A token with IP rules may refuse this host: its `AccessDenied`
/// (not R2's `InvalidAccessKeyId` for a key it does not know yet) proves that the key has
/// propagated, which is what the probe is for.
pub async fn ready(
    creds: &S3Credentials,
    scope: &TokenScope,
    ip_restricted: bool,
    timeout: Duration,
) -> Result<Ready, String> {
    let started = std::time::Instant::now();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let bucket = probe_bucket(scope);
    let what = match bucket {
        Some(b) => format!("ListObjectsV2 on bucket '{b}'"),
        None => "ListBuckets".to_string(),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let amz_date = sigv4::amz_date(time::OffsetDateTime::now_utc());
        let (url, headers) = match bucket {
            Some(b) => list_objects_request(creds, b, &amz_date)?,
            None => list_buckets_request(creds, &amz_date)?,
        };
        let mut req = client.get(url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let last = match req.send().await {
            Ok(resp) if resp.status().is_success() => {
                return Ok(Ready {
                    attempts: attempt,
                    elapsed: started.elapsed(),
                });
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                let code = s3_error_code(&body)
                    .unwrap_or("unexpected answer")
                    .to_owned();
                if ip_restricted && status == 403 && code == "AccessDenied" {
                    return Ok(Ready {
                        attempts: attempt,
                        elapsed: started.elapsed(),
                    });
                }
                tracing::debug!(attempt, status, code, "readiness probe not yet passing");
                format!("{code} (HTTP {status})")
            }
            Err(e) => format!("request failed: {}", e.without_url()),
        };
        let pause = readiness_pause(attempt);
        if started.elapsed() + pause > timeout {
            return Err(format!(
                "{what} did not succeed within {} ({attempt} attempts; last: {last})",
                crate::config::model::temporary::short_duration(timeout)
            ));
        }
        tokio::time::sleep(pause).await;
    }
}

/// The `<Code>` of an S3 XML error body.
fn s3_error_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    Some(&body[start..start + len])
}

pub async fn verify(
    creds: &S3Credentials,
    scope: &TokenScope,
    settings: &ProbeSettings,
) -> VerifyOutcome {
    let Some(bucket) = probe_bucket(scope) else {
        return VerifyOutcome::Skipped {
            reason: "the token is not scoped to named buckets (ListBuckets would be denied)".into(),
        };
    };
    signed_get_until_ok(bucket, settings, "output self-test", |amz_date| {
        list_objects_request(creds, bucket, amz_date)
    })
    .await
}

/// Send the GET `sign` makes (for an `x-amz-date`) until S3 answers 2xx or
/// `settings.attempts` run out, pausing twice as long each time: a new credential takes a
/// moment to reach every edge. `what` names the test in debug logs. The output self-test
/// and the temporary credentials' share it.
pub(super) async fn signed_get_until_ok(
    bucket: &str,
    settings: &ProbeSettings,
    what: &'static str,
    sign: impl Fn(&str) -> Result<(reqwest::Url, SignedHeaders), String>,
) -> VerifyOutcome {
    let failed = |attempts, status, error| VerifyOutcome::Failed {
        bucket: bucket.into(),
        attempts,
        status,
        error,
    };
    // Idempotent: whoever installs the process-wide provider first wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => return failed(0, None, format!("cannot build an HTTP client: {e}")),
    };
    let mut pause = settings.first_pause;
    let mut last = (None, String::new());
    let attempts = settings.attempts.max(1);
    for attempt in 1..=attempts {
        let amz_date = sigv4::amz_date(time::OffsetDateTime::now_utc());
        let (url, headers) = match sign(&amz_date) {
            Ok(r) => r,
            Err(error) => return failed(attempt, None, error),
        };
        let mut req = client.get(url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        last = match req.send().await {
            Ok(resp) if resp.status().is_success() => {
                return VerifyOutcome::Passed {
                    bucket: bucket.into(),
                    attempts: attempt,
                };
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                let code = s3_error_code(&body)
                    .unwrap_or("unexpected answer")
                    .to_owned();
                tracing::debug!(bucket, attempt, status, code, "{what} not yet passing");
                (Some(status), code)
            }
            Err(e) => {
                // Without the URL: it is harmless, but the message stays short.
                let e = e.without_url();
                tracing::debug!(bucket, attempt, error = %e, "{what} request failed");
                (None, format!("request failed: {e}"))
            }
        };
        if attempt < attempts {
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
    }
    failed(attempts, last.0, last.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::TokenValue;
    use crate::secrets::derive::derive;

    #[test]
    fn the_probe_lists_the_first_named_bucket_only() {
        let cases = [
            (TokenScope::Buckets(vec!["a".into(), "b".into()]), Some("a")),
            (TokenScope::AllBuckets, None),
            (TokenScope::Account, None),
        ];
        for (scope, want) in cases {
            assert_eq!(probe_bucket(&scope), want, "{scope:?}");
        }
    }

    #[test]
    fn the_request_is_a_path_style_list_objects_v2_of_one_key() {
        let creds = derive(
            "f00dfacef00dfacef00dfacef00dface",
            &TokenValue::new("fake"),
            "http://127.0.0.1:9000".into(),
        );
        let (url, headers) = list_objects_request(&creds, "media", "20260301T120000Z").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9000/media?list-type=2&max-keys=1"
        );
        let auth = &headers
            .iter()
            .find(|(k, _)| *k == "authorization")
            .unwrap()
            .1;
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=f00dfacef00dfacef00dfacef00dface/20260301/auto/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
        ), "{auth}");
        assert!(!auth.contains(creds.secret_access_key.expose()));
    }

    #[test]
    fn s3_error_codes_are_read_from_the_xml_body() {
        let cases = [
            (
                "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
                Some("AccessDenied"),
            ),
            (
                "<Error><Code>NoSuchBucket</Code></Error>",
                Some("NoSuchBucket"),
            ),
            ("not xml", None),
        ];
        for (body, want) in cases {
            assert_eq!(s3_error_code(body), want);
        }
    }
}
