//! Typed errors of the Cloudflare client. `Display` is lowercase and names the object, e.g.
//! `failed to create bucket 'logs' (eu): bucket name is invalid (code 10005)`, followed by a
//! hint line where one helps. No variant carries a secret: request bodies and token values
//! never reach an error.

/// One `errors[]` item of the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfError {
    pub code: i64,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
#[error("failed to {operation}: {detail}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
pub struct ApiError {
    /// e.g. `create bucket 'logs' (eu)`.
    pub operation: String,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    pub errors: Vec<CfError>,
    /// What went wrong, in words a person can act on, ending with the Cloudflare code.
    pub detail: String,
    pub hint: Option<String>,
    /// Seconds the server asked us to wait (429), for callers that back off.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An answer from Cloudflare that says no.
    pub fn from_answer(operation: &str, status: u16, errors: Vec<CfError>) -> Self {
        let detail = match errors.first() {
            Some(e) => format!("{} (code {})", describe(e), e.code),
            None => format!("HTTP {status} with no error detail"),
        };
        let hint = errors
            .iter()
            .find_map(|e| hint_for(e.code))
            .map(str::to_string);
        ApiError {
            operation: operation.to_string(),
            status: Some(status),
            errors,
            detail,
            hint,
            retry_after: None,
        }
    }

    /// No answer: timeout, refused connection, unreadable body.
    pub fn transport(operation: &str, detail: impl Into<String>) -> Self {
        ApiError {
            operation: operation.to_string(),
            status: None,
            errors: Vec::new(),
            detail: detail.into(),
            hint: None,
            retry_after: None,
        }
    }

    fn has_code(&self, code: i64) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// Whether Cloudflare answered with this error code.
    pub fn is_code(&self, code: i64) -> bool {
        self.has_code(code)
    }

    /// The object does not exist (bucket 10006, token 404/7003).
    pub fn is_not_found(&self) -> bool {
        self.has_code(10006) || self.status == Some(404)
    }

    /// Cloudflare does not know the bucket here: NoSuchBucket (10006) or BucketNotFound
    /// (10085, the notification routes'). Right after a create it can be the lag before
    /// the sub-resource endpoints know a new bucket (alchemy retries both), so neither
    /// ever reads as "no rules" or "not attached".
    pub fn is_bucket_missing(&self) -> bool {
        self.has_code(10006) || self.has_code(10085)
    }

    /// A create found the name taken (409, 10004, 10073).
    pub fn is_already_exists(&self) -> bool {
        (self.status == Some(409) || self.has_code(10004) || self.has_code(10073))
            && !self.is_not_empty()
    }

    /// A bucket delete refused because the bucket holds objects. The REST answer is a 409
    /// whose code may be absent (10008 is documented for the S3 and Workers APIs only,
    /// https://developers.cloudflare.com/r2/api/error-codes/): the message decides too.
    pub fn is_not_empty(&self) -> bool {
        self.has_code(10008)
            || (self.status == Some(409)
                && self
                    .errors
                    .iter()
                    .any(|e| e.message.to_ascii_lowercase().contains("not empty")))
    }

    /// Missing permission or bad credentials (1000, 9109, 10000 in `errors`, 401, 403).
    pub fn is_auth(&self) -> bool {
        self.has_code(1000)
            || self.has_code(9109)
            || self.has_code(10000)
            || matches!(self.status, Some(401) | Some(403))
    }

    pub fn is_rate_limited(&self) -> bool {
        self.status == Some(429) || self.has_code(971)
    }

    /// A refusal of a lookup the token has no permission for, reworded to name
    /// the permission group it needs and where to grant it; any other error as it was.
    pub fn lacking(mut self, group: &str, needed_for: &str) -> Self {
        if !self.is_auth() || self.is_code(1000) {
            return self;
        }
        let answer = match (self.status, self.errors.first()) {
            (Some(s), Some(e)) => format!("HTTP {s}, code {}", e.code),
            (Some(s), None) => format!("HTTP {s}"),
            _ => "refused".to_string(),
        };
        self.detail = format!(
            "the API token lacks the {group} permission group, which {needed_for} need ({answer})"
        );
        self.hint = Some(format!(
            "add {group} to the daemon's token (Cloudflare dashboard, API Tokens, edit the token, Permissions); see README \"Cloudflare permissions\""
        ));
        self
    }

    /// A permanent refusal (a 4xx other than 429 and not-found), in Cloudflare's words:
    /// `HTTP 405, code 7001: Method not allowed`. `None` for anything a retry may fix.
    pub fn refusal(&self) -> Option<String> {
        let status = self.status?;
        if !(400..500).contains(&status) || self.is_rate_limited() || self.is_not_found() {
            return None;
        }
        Some(match self.errors.first() {
            Some(e) => format!("HTTP {status}, code {}: {}", e.code, e.message.trim()),
            None => format!("HTTP {status}"),
        })
    }
}

/// Our words for the codes we rely on; otherwise Cloudflare's message, lower-cased.
fn describe(e: &CfError) -> String {
    let known = match e.code {
        1000 => "the Cloudflare API token is invalid",
        9109 => "the API token may not access this resource (disabled, expired, or IP-restricted)",
        10000 => "the API token lacks a permission this call needs",
        971 => "rate limited by Cloudflare",
        10001 => "Cloudflare had an internal error",
        10004 | 10073 => "bucket already exists",
        10005 => "bucket name is invalid",
        10006 | 10085 => "bucket does not exist",
        10008 => "bucket is not empty",
        10042 => "R2 is not enabled on this account",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let m = e.message.trim().trim_end_matches('.');
    let mut chars = m.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "no message".to_string(),
    }
}

fn hint_for(code: i64) -> Option<&'static str> {
    match code {
        1000 => Some(
            "check CLOUDFLARE_API_TOKEN or --api-token-file; an account-owned token is verified at the account endpoint, a user token needs --api-token-owner user",
        ),
        10000 => Some(
            "the daemon's token needs Account API Tokens Write and Workers R2 Storage Write (see README, \"Cloudflare permissions\")",
        ),
        10042 => Some("enable R2 for the account in the Cloudflare dashboard"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
