//! The serde mirror of `buckets[].custom_domains`. Shapes only, with positions;
//! what a domain or a zone must look like, uniqueness and the 50-domain limit live in
//! `validate::custom_domain`. No I/O.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Sp;

/// A hostname: labels of a-z 0-9 and '-', separated by dots (any case; compared in lower case).
pub const HOSTNAME_PATTERN: &str = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\.?$";

/// A zone: its name (looked up in the account) or its 32-hex id.
pub const ZONE_PATTERN: &str = r"^([0-9a-f]{32}|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\.?)$";

/// A hostname on one of the account's zones that serves the bucket publicly (with the
/// zone's cache, WAF, Access and minimum TLS). Adding it creates a proxied DNS record in the
/// zone; removing it deletes that record.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CustomDomain")]
pub struct RawCustomDomain {
    /// The hostname, unique in the file (a domain serves one bucket).
    #[schemars(regex(pattern = HOSTNAME_PATTERN))]
    pub domain: Sp<String>,
    /// The zone it belongs to: a zone name (looked up in the account) or a 32-hex zone id.
    /// Create-only: a change removes the domain and adds it again.
    #[schemars(regex(pattern = ZONE_PATTERN))]
    pub zone: Sp<String>,
    /// Whether the domain serves the bucket (false keeps it attached, without public access).
    #[schemars(extend("default" = true))]
    pub enabled: Option<Sp<bool>>,
    /// The lowest TLS version the domain accepts. Absent: not managed (Cloudflare's default,
    /// 1.0, on a new domain). Quote it: "1.2".
    pub min_tls: Option<Sp<RawMinTls>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(rename = "MinTls")]
pub enum RawMinTls {
    #[serde(rename = "1.0")]
    V10,
    #[serde(rename = "1.1")]
    V11,
    #[serde(rename = "1.2")]
    V12,
    #[serde(rename = "1.3")]
    V13,
}
