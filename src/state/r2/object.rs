//! The four S3 calls the shared state needs, on one bucket: GET (body and ETag), PUT with
//! `If-None-Match: *` or `If-Match: <etag>`, and DELETE with `If-Match`, signed with SigV4
//! (path style, region `auto`). A 412 is its own answer (`Precondition`), never retried into
//! an overwrite. Network I/O only; no error carries a secret.

use std::time::Duration;

use sha2::{Digest, Sha256};

use std::sync::Arc;

use super::credentials::StateCredentials;
use super::minted::Minter;
use crate::secrets::sigv4::{self, EMPTY_SHA256, Request, Signer};

/// The precondition of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond<'a> {
    /// Create only: `If-None-Match: *`.
    Absent,
    /// Replace only this version: `If-Match: <etag>`.
    Matches(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// 412 PreconditionFailed: someone else wrote (or removed) the object.
    #[error("the object changed since it was read (412 PreconditionFailed)")]
    Precondition,
    #[error("the S3 endpoint cannot be reached: {0}")]
    Unreachable(String),
    #[error("S3 answered HTTP {status} {code}")]
    Refused { status: u16, code: String },
    #[error("the object is larger than {0} bytes")]
    TooLarge(usize),
    /// No credentials to sign with (`--state-credentials temporary` could not mint them).
    #[error("{0}")]
    Credentials(String),
}

/// Where the signing credentials come from: given once (the environment or a file), or
/// minted and renewed by r2gitops (`minted`).
pub enum Creds {
    Given(Arc<StateCredentials>),
    Minted(Arc<Minter>),
}

impl From<StateCredentials> for Creds {
    fn from(c: StateCredentials) -> Creds {
        Creds::Given(Arc::new(c))
    }
}

impl Creds {
    async fn current(&self) -> Result<Arc<StateCredentials>, ObjectError> {
        match self {
            Creds::Given(c) => Ok(c.clone()),
            Creds::Minted(m) => m.current().await.map_err(ObjectError::Credentials),
        }
    }
}

pub struct Bucket {
    /// Scheme and host, no trailing slash.
    pub endpoint: String,
    pub name: String,
    creds: Creds,
    http: reqwest::Client,
}

const ATTEMPTS: u32 = 3;
const PAUSE: Duration = Duration::from_millis(300);

struct Answer {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Bucket {
    pub fn new(endpoint: String, name: String, creds: Creds) -> Result<Bucket, ObjectError> {
        // Idempotent: whoever installs the process-wide provider first wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ObjectError::Unreachable(format!("cannot build an HTTP client: {e}")))?;
        Ok(Bucket {
            endpoint,
            name,
            creds,
            http,
        })
    }

    /// The object's body and ETag; `None` when the key does not exist (the bucket must).
    pub async fn get(
        &self,
        key: &str,
        max: usize,
    ) -> Result<Option<(Vec<u8>, String)>, ObjectError> {
        let mut last = None;
        for attempt in 1..=ATTEMPTS {
            match self.send("GET", key, None, &[], max).await {
                Ok(a) if a.status == 200 => {
                    let etag = a.etag.ok_or_else(|| ObjectError::Refused {
                        status: 200,
                        code: "no ETag in the answer".into(),
                    })?;
                    return Ok(Some((a.body, etag)));
                }
                Ok(a) if a.status == 404 && error_code(&a.body) == "NoSuchKey" => return Ok(None),
                Ok(a) => {
                    let e = refused(&a);
                    if a.status < 500 {
                        return Err(e);
                    }
                    last = Some(e);
                }
                Err(e @ (ObjectError::TooLarge(_) | ObjectError::Credentials(_))) => {
                    return Err(e);
                }
                Err(e) => last = Some(e),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(PAUSE * attempt).await;
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Write `body` under `cond`; the new ETag. A 412 after a retried attempt (the first may
    /// have landed unseen) is resolved by reading back: our own bytes there mean success.
    pub async fn put(&self, key: &str, body: &[u8], cond: Cond<'_>) -> Result<String, ObjectError> {
        let header = match cond {
            Cond::Absent => ("if-none-match", "*".to_string()),
            Cond::Matches(etag) => ("if-match", etag.to_string()),
        };
        let mut last = None;
        for attempt in 1..=ATTEMPTS {
            match self
                .send("PUT", key, Some(body), &[(header.0, &header.1)], 0)
                .await
            {
                Ok(a) if (200..300).contains(&a.status) => {
                    return a.etag.ok_or_else(|| ObjectError::Refused {
                        status: a.status,
                        code: "no ETag in the answer".into(),
                    });
                }
                Ok(a) if a.status == 412 => {
                    if attempt > 1
                        && let Ok(Some((stored, etag))) = self.get(key, body.len() + 1).await
                        && stored == body
                    {
                        return Ok(etag);
                    }
                    return Err(ObjectError::Precondition);
                }
                Ok(a) => {
                    let e = refused(&a);
                    if a.status < 500 {
                        return Err(e);
                    }
                    last = Some(e);
                }
                Err(e @ ObjectError::Credentials(_)) => return Err(e),
                Err(e) => last = Some(e),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(PAUSE * attempt).await;
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Delete the object if it is still the version `etag`; an absent key is success.
    pub async fn delete(&self, key: &str, etag: &str) -> Result<(), ObjectError> {
        let a = self
            .send("DELETE", key, None, &[("if-match", etag)], 0)
            .await?;
        match a.status {
            200..=299 => Ok(()),
            404 => Ok(()),
            412 => Err(ObjectError::Precondition),
            _ => Err(refused(&a)),
        }
    }

    async fn send(
        &self,
        method: &'static str,
        key: &str,
        body: Option<&[u8]>,
        extra: &[(&str, &str)],
        max: usize,
    ) -> Result<Answer, ObjectError> {
        let path = format!(
            "/{}/{}",
            sigv4::uri_encode(&self.name, false),
            sigv4::uri_encode(key, true)
        );
        let base = reqwest::Url::parse(&self.endpoint)
            .map_err(|e| ObjectError::Unreachable(format!("bad endpoint: {e}")))?;
        let host = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(ObjectError::Unreachable("the endpoint has no host".into())),
        };
        let creds = self.creds.current().await?;
        let payload = match body {
            Some(b) => hex::encode(Sha256::digest(b)),
            None => EMPTY_SHA256.to_string(),
        };
        let amz_date = sigv4::amz_date(time::OffsetDateTime::now_utc());
        let mut signed: Vec<(&str, &str)> = vec![
            ("host", &host),
            ("x-amz-content-sha256", &payload),
            ("x-amz-date", &amz_date),
        ];
        if let Some(t) = &creds.session_token {
            signed.push(("x-amz-security-token", t.expose()));
        }
        let signer = Signer {
            access_key_id: &creds.access_key_id,
            secret_access_key: creds.secret_access_key.expose(),
            region: crate::secrets::derive::REGION,
            service: "s3",
        };
        let authorization = signer.authorization(
            &amz_date,
            &Request {
                method,
                path: &path,
                query: &[],
                headers: &signed,
                payload_sha256: &payload,
            },
        );
        let mut url = base;
        url.set_path(&path);
        let mut req = self
            .http
            .request(method.parse().expect("a valid method"), url)
            .header("authorization", authorization);
        for (k, v) in signed.iter().filter(|(k, _)| *k != "host") {
            req = req.header(*k, *v);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b.to_vec());
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| ObjectError::Unreachable(crate::error::error_chain(&e.without_url())))?;
        let status = resp.status().as_u16();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Error bodies are small; a success body is bounded by `max`.
        let cap = if status == 200 && max > 0 {
            max
        } else {
            64 * 1024
        };
        let mut out = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ObjectError::Unreachable(crate::error::error_chain(&e.without_url())))?
        {
            if out.len() + chunk.len() > cap {
                if status == 200 && max > 0 {
                    return Err(ObjectError::TooLarge(max));
                }
                break;
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            etag,
            body: out,
        })
    }
}

fn refused(a: &Answer) -> ObjectError {
    ObjectError::Refused {
        status: a.status,
        code: error_code(&a.body).to_string(),
    }
}

/// The `<Code>` of an S3 XML error body (only the code: the message may echo input).
fn error_code(body: &[u8]) -> &str {
    let text = std::str::from_utf8(body).unwrap_or("");
    let code = text
        .find("<Code>")
        .map(|s| s + "<Code>".len())
        .and_then(|s| text[s..].find("</Code>").map(|l| &text[s..s + l]))
        .unwrap_or("");
    // Codes are identifiers; anything else is not repeated.
    if !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        code
    } else {
        "(no S3 error code)"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_identifier_codes_are_repeated() {
        let cases: [(&[u8], &str); 4] = [
            (b"<Error><Code>NoSuchBucket</Code></Error>", "NoSuchBucket"),
            (
                b"<Error><Code>A B<script></Code></Error>",
                "(no S3 error code)",
            ),
            (b"", "(no S3 error code)"),
            (b"\xff", "(no S3 error code)"),
        ];
        for (body, want) in cases {
            assert_eq!(super::error_code(body), want);
        }
    }
}
