//! The serde mirror of the operator's policy file, version 1, and the JSON Schema derived
//! from it (`shape` walks a policy against it to report every unknown key at once).
//!
//! Shapes only, with the position of every value a message may point at: what each bound
//! must look like (globs, durations, keys, zones) is checked in `parse`. No I/O.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::raw::{DURATION_PATTERN, RawAccess, Sp};

/// An r2gitops policy: what desired-state files checked against it may declare. Every key
/// is optional and an absent key bounds nothing; an unknown key is an error, so that a typo
/// never silently loosens a policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "r2gitops policy, version 1")]
pub struct RawPolicy {
    /// Format version; this release reads version 1 (the default).
    #[schemars(extend("const" = 1))]
    pub version: Option<Sp<u32>>,
    pub tokens: Option<Sp<RawTokenBounds>>,
    pub recipients: Option<Sp<RawRecipientBounds>>,
    pub buckets: Option<Sp<RawBucketBounds>>,
    pub temporary_credentials: Option<Sp<RawTemporaryBounds>>,
    pub api: Option<Sp<RawApiBounds>>,
}

/// Bounds on `tokens:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TokenBounds")]
pub struct RawTokenBounds {
    /// The access levels a file may declare (tokens and temporary credentials).
    pub access: Option<Sp<Vec<Sp<RawAccess>>>>,
    /// Every token declares `expires_on`, at most this far ahead: s, m, h, d units.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub max_validity: Option<Sp<String>>,
    /// Every token declares `rotate_every`, at most this long.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub max_rotate_every: Option<Sp<String>>,
    /// Every token declares `ip.allow` (networks it may be used from).
    pub require_ip_rules: Option<Sp<bool>>,
    // Rotation with overlap (`rotation_overlap`, `token_watch`) gets its bounds here, beside
    // `max_rotate_every`, once a file can declare it.
}

/// Bounds on the recipients every output is encrypted to.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RecipientBounds")]
pub struct RawRecipientBounds {
    /// Outputs may be encrypted only to these age or SSH public keys (an SSH key's comment
    /// does not count).
    pub allow: Option<Sp<Vec<Sp<String>>>>,
}

/// Bounds on `buckets:` and on what tokens reach.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BucketBounds")]
pub struct RawBucketBounds {
    /// Globs (`*` any run, `?` one character) every declared bucket, token scope and
    /// temporary credential's bucket must match. `buckets: ["*"]` and admin-* tokens reach
    /// every bucket, so a file under `names` cannot declare them.
    pub names: Option<Sp<Vec<Sp<String>>>>,
    /// false: no bucket may declare `public_dev_url: true`.
    pub public_dev_url: Option<Sp<bool>>,
    /// The zones (names, or 32-hex ids as the file writes them) custom domains may be in.
    pub custom_domain_zones: Option<Sp<Vec<Sp<String>>>>,
    /// false: prune never deletes a bucket, and no bucket may declare `protect: false`.
    pub delete: Option<Sp<bool>>,
}

/// Bounds on `temporary_credentials:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TemporaryBounds")]
pub struct RawTemporaryBounds {
    /// At most this many temporary credentials.
    pub max: Option<Sp<u32>>,
    /// Every `ttl` at least this long.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub min_ttl: Option<Sp<String>>,
}

/// Bounds on what a file makes the daemon spend.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ApiBounds")]
pub struct RawApiBounds {
    /// The file's projected steady cost in API calls an hour (the `cost:` line of
    /// `validate`) at most this.
    pub max_calls_per_hour: Option<Sp<u64>>,
}

/// The JSON Schema of the policy file (draft 2020-12), built once.
pub fn json_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut value = schemars::schema_for!(RawPolicy).to_value();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("$id".into(), "urn:r2gitops:policy:v1".into());
        }
        value
    })
}
