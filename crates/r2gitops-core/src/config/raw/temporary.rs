//! The serde mirror of `temporary_credentials:`, part of `raw`'s version-1 format.
//!
//! Shapes only, as in `raw`: field names, types, patterns, with the position of every value.
//! The rules (the parent exists and covers the bucket and the access, TTL bounds,
//! `refresh_before < ttl`) live in `validate::temporary`. No I/O.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{BUCKET_NAME_PATTERN, DURATION_PATTERN, RawAccess, RawOutput, Sp};

/// A key path a temporary credential is scoped to: not empty, no leading `/`.
pub const KEY_PATH_PATTERN: &str = "^[^/]";

/// Short-lived S3 credentials for one bucket (optionally some prefixes or objects), issued
/// by Cloudflare under a declared token and renewed by r2gitops before they expire.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TemporaryCredential")]
pub struct RawTemporary {
    /// Unique among temporary_credentials; also the profile / remote name in the output.
    #[schemars(length(min = 1, max = 120))]
    pub name: Sp<String>,
    /// A declared token: its id is the parent access key id, and the credential cannot
    /// exceed what it may do.
    #[schemars(length(min = 1))]
    pub parent: Sp<String>,
    /// The one bucket the credential reaches; the parent must cover it.
    #[schemars(regex(pattern = BUCKET_NAME_PATTERN))]
    pub bucket: Sp<String>,
    /// Key prefixes (no leading '/'); with `objects`, or neither for the whole bucket.
    pub prefixes: Option<Sp<Vec<Sp<KeyPath>>>>,
    /// Exact object keys (no leading '/').
    pub objects: Option<Sp<Vec<Sp<KeyPath>>>>,
    /// What the credential may do; at most what the parent may do.
    pub access: Sp<RawAccess>,
    /// Lifetime of each issued credential: a number and a unit (s, m, h, d), from 1m to 7d.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub ttl: Sp<String>,
    /// Renew this long before expiry (default ttl/3); less than ttl.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub refresh_before: Option<Sp<String>>,
    pub output: Sp<RawOutput>,
}

/// A key prefix or an exact object key.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct KeyPath(#[schemars(regex(pattern = KEY_PATH_PATTERN))] pub String);
