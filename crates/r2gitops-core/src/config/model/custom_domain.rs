//! A bucket's validated custom domains. `BucketConfig::custom_domains` is `None`
//! when the file does not manage them; `Some(list)` is the whole set. Domains and zone names
//! are lower case without a trailing dot.

/// Which zone a domain belongs to, as the file names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZoneRef {
    /// 32 lowercase hex.
    Id(String),
    /// Looked up by name in the account (`GET /zones?name=…&account.id=…`).
    Name(String),
}

impl ZoneRef {
    /// As the file wrote it (lower case).
    pub fn as_str(&self) -> &str {
        match self {
            ZoneRef::Id(s) | ZoneRef::Name(s) => s,
        }
    }
}

/// The lowest TLS version a custom domain accepts (`minTLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MinTls {
    V10,
    V11,
    V12,
    V13,
}

impl MinTls {
    pub const ALL: [MinTls; 4] = [MinTls::V10, MinTls::V11, MinTls::V12, MinTls::V13];

    pub fn as_str(self) -> &'static str {
        match self {
            MinTls::V10 => "1.0",
            MinTls::V11 => "1.1",
            MinTls::V12 => "1.2",
            MinTls::V13 => "1.3",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    pub domain: String,
    pub zone: ZoneRef,
    pub enabled: bool,
    /// `None`: not managed (a new domain gets Cloudflare's default).
    pub min_tls: Option<MinTls>,
}
