//! The serde mirror of the rules in a bucket's configuration blocks (the blocks themselves
//! are fields of `RawBucket`). Shapes only, with positions; every rule (origins, unique ids,
//! one of each condition pair, ordering of ages, limits) lives in `validate`. No I/O.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{DURATION_PATTERN, Sp};

/// One CORS rule: which origins may use which methods, in Cloudflare's terms
/// (`allowed.origins`, `allowed.methods`, `allowed.headers`, `exposeHeaders`,
/// `maxAgeSeconds`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CorsRule")]
pub struct RawCorsRule {
    /// Optional label, unique in the bucket.
    #[schemars(length(min = 1))]
    pub id: Option<Sp<String>>,
    /// Origins as browsers send them: scheme://host[:port], no path; or "*" for any.
    pub allowed_origins: Sp<Vec<Sp<String>>>,
    /// HTTP methods the origins may use.
    pub allowed_methods: Sp<Vec<Sp<RawCorsMethod>>>,
    /// Request headers a browser may send (compared case-insensitively).
    pub allowed_headers: Option<Sp<Vec<Sp<String>>>>,
    /// Response headers scripts may read (compared case-insensitively).
    pub expose_headers: Option<Sp<Vec<Sp<String>>>>,
    /// How long a browser may cache the preflight answer: s, m, h, d units; at most 1d.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub max_age: Option<Sp<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(rename = "CorsMethod")]
pub enum RawCorsMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "HEAD")]
    Head,
}

/// One object lifecycle rule. Ages use s, m, h, d units (Cloudflare counts seconds); dates
/// are RFC 3339.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LifecycleRule")]
// For editors: one of each pair, and at least one action. Under `allOf`, which the shape
// walk does not descend into; `validate` words these rules itself.
#[schemars(extend("allOf" = [
    {"not": {"required": ["expire_after", "expire_on"]}},
    {"not": {"required": ["transition_to_infrequent_access_after", "transition_to_infrequent_access_on"]}},
    {"anyOf": [
        {"required": ["expire_after"]},
        {"required": ["expire_on"]},
        {"required": ["transition_to_infrequent_access_after"]},
        {"required": ["transition_to_infrequent_access_on"]},
        {"required": ["abort_multipart_after"]}
    ]}
]))]
pub struct RawLifecycleRule {
    /// Required, unique in the bucket.
    #[schemars(length(min = 1))]
    pub id: Sp<String>,
    /// Objects whose key starts with this; "" or absent: the whole bucket.
    pub prefix: Option<Sp<String>>,
    /// Whether the rule is in effect.
    #[schemars(extend("default" = true))]
    pub enabled: Option<Sp<bool>>,
    /// Delete objects this long after upload (or use expire_on).
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub expire_after: Option<Sp<String>>,
    /// Delete objects on this date, RFC 3339 (or use expire_after).
    #[schemars(extend("format" = "date-time"))]
    pub expire_on: Option<Sp<String>>,
    /// Move objects to Infrequent Access this long after upload; earlier than the expiry.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub transition_to_infrequent_access_after: Option<Sp<String>>,
    /// Move objects to Infrequent Access on this date, RFC 3339; earlier than the expiry.
    #[schemars(extend("format" = "date-time"))]
    pub transition_to_infrequent_access_on: Option<Sp<String>>,
    /// Abort multipart uploads left incomplete this long after they started.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub abort_multipart_after: Option<Sp<String>>,
}

/// One retention (bucket lock) rule: objects under `prefix` cannot be deleted or
/// overwritten while retained. Exactly one of retain_for, retain_until and retain.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LockRule")]
// For editors, as for lifecycle rules: exactly one way of saying how long.
#[schemars(extend("allOf" = [
    {"oneOf": [
        {"required": ["retain_for"]},
        {"required": ["retain_until"]},
        {"required": ["retain"]}
    ]}
]))]
pub struct RawLockRule {
    /// Required, unique in the bucket.
    #[schemars(length(min = 1))]
    pub id: Sp<String>,
    /// Objects whose key starts with this; "" or absent: the whole bucket.
    pub prefix: Option<Sp<String>>,
    /// Whether the rule is in effect (turning it off loosens retention).
    #[schemars(extend("default" = true))]
    pub enabled: Option<Sp<bool>>,
    /// Retain each object this long after upload: s, m, h, d units.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub retain_for: Option<Sp<String>>,
    /// Retain objects until this date, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub retain_until: Option<Sp<String>>,
    /// `indefinite`: retain for ever.
    pub retain: Option<Sp<RawRetain>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Retain")]
pub enum RawRetain {
    Indefinite,
}
