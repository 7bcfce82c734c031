//! Typed errors of the Cloudflare client. `Display` is lowercase and names the object, e.g.
//! `failed to create bucket 'logs' (eu): bucket name is invalid (code 10005)`.
//! (Skeleton: the client issue completes it; the classification methods are the contract
//! that `apply` relies on.)

/// One `errors[]` item of the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfError {
    pub code: i64,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
#[error("failed to {operation}: {detail}")]
pub struct ApiError {
    /// e.g. `create bucket 'logs' (eu)`.
    pub operation: String,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    pub errors: Vec<CfError>,
    pub detail: String,
}

impl ApiError {
    fn has_code(&self, code: i64) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// The object does not exist (bucket 10006, token 404/7003).
    pub fn is_not_found(&self) -> bool {
        self.has_code(10006) || self.status == Some(404)
    }

    /// A create found the name taken (409, 10004, 10073).
    pub fn is_already_exists(&self) -> bool {
        (self.status == Some(409) || self.has_code(10004) || self.has_code(10073))
            && !self.is_not_empty()
    }

    /// A bucket delete refused because the bucket holds objects.
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
}
