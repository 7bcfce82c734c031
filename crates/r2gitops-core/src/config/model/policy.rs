//! The operator's policy as data: each bound and where the policy file sets it. Plain
//! data, for the plan to carry (`Desired::policy`); the rules that apply it are the methods
//! of `config::policy`, and parsing is `config::policy::parse`.

use std::time::Duration;

use super::Access;

/// A bound and where the policy file sets it (1-based, the value's position).
#[derive(Debug, Clone, PartialEq)]
pub struct Set<T> {
    pub value: T,
    pub line: usize,
    pub column: usize,
}

/// A validated policy. A `None` bound imposes nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    /// The policy file as the operator named it (messages cite it).
    pub file: String,
    /// SHA-256 of its bytes, lowercase hex: how `/status` shows it (never its content).
    pub sha256: String,
    /// `tokens.access`: the levels a file may declare.
    pub access: Option<Set<Vec<Access>>>,
    /// `tokens.max_validity`: `expires_on` required, at most this far ahead.
    pub max_validity: Option<Set<Duration>>,
    /// `tokens.max_rotate_every`: `rotate_every` required, at most this.
    pub max_rotate_every: Option<Set<Duration>>,
    /// `tokens.require_ip_rules: true`: `ip.allow` required (`false` is stored as `None`).
    pub require_ip_rules: Option<Set<()>>,
    // Rotation with overlap (`rotation_overlap`, `token_watch`) gets its bounds here once a
    // file can declare it.
    /// `recipients.allow`, each as written (trimmed).
    pub recipients: Option<Set<Vec<String>>>,
    /// `buckets.names`: globs.
    pub bucket_names: Option<Set<Vec<String>>>,
    /// `buckets.public_dev_url: false` (`true` is stored as `None`).
    pub no_public_dev_url: Option<Set<()>>,
    /// `buckets.custom_domain_zones`: zone names (lower case, no trailing dot) or ids.
    pub custom_domain_zones: Option<Set<Vec<String>>>,
    /// `buckets.delete: false` (`true` is stored as `None`).
    pub no_bucket_deletes: Option<Set<()>>,
    /// `temporary_credentials.max`.
    pub temporary_max: Option<Set<u32>>,
    /// `temporary_credentials.min_ttl`.
    pub temporary_min_ttl: Option<Set<Duration>>,
    /// `api.max_calls_per_hour`.
    pub max_calls_per_hour: Option<Set<u64>>,
}
