//! The serde mirror of the file format, version 1, and the JSON Schema derived from it.
//!
//! Holds shapes only: field names, types, enums, optionality, with the position of every
//! value that a later message may point at. No rule lives here except what a JSON Schema can
//! say (patterns, enums, `additionalProperties: false`), and those are re-checked in
//! `validate` with better messages. No I/O.

use std::sync::OnceLock;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use super::model;

mod bucket_config;
pub use bucket_config::*;
mod custom_domain;
pub use custom_domain::*;
mod notification;
pub use notification::*;
mod kubernetes;
pub use kubernetes::*;
pub mod temporary;

/// R2 bucket names: 3-63 chars of `a-z0-9-`, alphanumeric at both ends.
pub const BUCKET_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$";
pub const TOKEN_BUCKET_PATTERN: &str = r"^(\*|[a-z0-9][a-z0-9-]{1,61}[a-z0-9])$";
pub const ACCOUNT_ID_PATTERN: &str = "^[0-9a-f]{32}$";
pub const DURATION_PATTERN: &str = "^[0-9]+[smhd]$";
/// A duration that may be `0` without a unit (`rotation_overlap: 0`).
pub const OVERLAP_PATTERN: &str = "^([0-9]+[smhd]|0)$";
pub const RECIPIENT_PATTERN: &str = r"^\s*(age1[02-9ac-hj-np-z]+|ssh-(ed25519|rsa) \S+.*)$";

/// A value and the 1-based line and column it starts at.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub line: usize,
    pub column: usize,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<T>::deserialize(d)?;
        Ok(Sp {
            value: s.value,
            line: s.referenced.line() as usize,
            column: s.referenced.column() as usize,
        })
    }
}

/// The position is not part of the schema: `Sp<T>` is exactly `T` to a JSON Schema.
impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// r2gitops desired state: the R2 buckets and R2 API tokens that should exist, and where each
/// token's S3 credentials are written (age-encrypted).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "r2gitops desired state, version 1")]
pub struct RawDoc {
    /// Format version; this release reads version 1.
    #[schemars(extend("const" = 1))]
    pub version: Sp<u32>,
    /// Cloudflare account id (32 lowercase hex). Optional: else CLOUDFLARE_ACCOUNT_ID at run time.
    #[schemars(regex(pattern = ACCOUNT_ID_PATTERN))]
    pub account_id: Option<Sp<String>>,
    pub settings: Option<Sp<RawSettings>>,
    /// The R2 buckets that should exist.
    pub buckets: Option<Vec<Sp<RawBucket>>>,
    /// The R2 API tokens that should exist, each with its encrypted credentials file.
    pub tokens: Option<Vec<Sp<RawToken>>>,
    /// Short-lived, prefix-scoped S3 credentials issued under declared tokens and renewed
    /// before they expire, each with its encrypted credentials file.
    pub temporary_credentials: Option<Vec<Sp<temporary::RawTemporary>>>,
}

/// Settings for the whole file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Settings")]
pub struct RawSettings {
    /// Ownership marker prefixed to every managed token name in Cloudflare.
    #[schemars(extend("default" = "r2gitops:"), length(min = 1))]
    pub token_name_prefix: Option<Sp<String>>,
    /// Delete managed buckets and tokens that are no longer declared.
    #[schemars(extend("default" = false))]
    pub prune: Option<Sp<bool>>,
    /// Refuse any plan that deletes more than this many things.
    #[schemars(extend("default" = 10))]
    pub max_deletions: Option<Sp<u32>>,
    /// Where credential files go, relative to this file's directory and inside it (no
    /// absolute path, no `..`, no symlink leading out); `--output-dir` replaces it.
    #[schemars(extend("default" = "secrets"), length(min = 1))]
    pub output_dir: Option<Sp<String>>,
    /// The non-secret inventory, relative to this file's directory and inside it
    /// (default `<output_dir>/.r2gitops-state.json`; not settable under `--output-dir`).
    #[schemars(length(min = 1))]
    pub state_file: Option<Sp<String>>,
    /// Default age recipients: `age1...` X25519 or `ssh-ed25519`/`ssh-rsa` public keys.
    pub recipients: Option<Vec<Sp<Recipient>>>,
    /// A file of recipients (age -R format: one a line, `#` comments), relative to this file
    /// and inside its directory (no absolute path, no `..`, no symlink leading out).
    #[schemars(length(min = 1))]
    pub recipients_file: Option<Sp<String>>,
    /// The daemon observes and reports but applies nothing.
    #[schemars(extend("default" = false))]
    pub suspend: Option<Sp<bool>>,
    /// Ignored, with a warning: only the operator can allow adopting a token by rolling it
    /// (`--allow-adopt-roll`). Kept so that files which set it still load.
    #[schemars(extend("deprecated" = true))]
    pub adopt_by_roll: Option<Sp<bool>>,
    /// How often the daemon re-reads declared bucket configuration (every block a bucket
    /// declares, and the zones and queues they name) that neither the file nor r2gitops
    /// changed: s, m, h, d units, at least 1m.
    #[schemars(extend("default" = "1h"), regex(pattern = DURATION_PATTERN))]
    pub config_resync: Option<Sp<String>>,
    /// Commit changed outputs (only ever encrypted files) to a git branch, for Flux.
    pub publish: Option<Sp<RawPublish>>,
    /// How long a rotated token's old key keeps working after its new output is written,
    /// before it is deleted: at most 30d; `0` rolls in place (same key id, the old secret
    /// dies at once). Default 1h (half of `rotate_every` where that is 1h).
    #[schemars(extend("default" = "1h"), regex(pattern = OVERLAP_PATTERN))]
    pub rotation_overlap: Option<Sp<String>>,
    /// How long a new token may take to pass its signed S3 probe before its rotation fails
    /// (the new token is deleted, the old one kept): 1s to 10m.
    #[schemars(extend("default" = "60s"), regex(pattern = DURATION_PATTERN))]
    pub readiness_timeout: Option<Sp<String>>,
    /// How often the daemon lists token status between full passes, so that a token revoked
    /// as exposed, expired or missing is replaced at once: at least 15s, and stretched so
    /// that the lists spend at most 5% of Cloudflare's budget.
    #[schemars(extend("default" = "1m"), regex(pattern = DURATION_PATTERN))]
    pub token_watch: Option<Sp<String>>,
}

/// One age recipient: an X25519 key (`age1...`) or an SSH public key (`ssh-ed25519`, `ssh-rsa`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Recipient(#[schemars(regex(pattern = RECIPIENT_PATTERN))] pub String);

/// An R2 bucket.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Bucket")]
// The configuration blocks are boxed: most buckets declare none, and a file of 10,000
// buckets is held as this struct while it is parsed (the daemon's peak memory).
pub struct RawBucket {
    /// R2 bucket name: 3-63 characters of a-z, 0-9 and '-', alphanumeric at both ends.
    #[schemars(regex(pattern = BUCKET_NAME_PATTERN))]
    pub name: Sp<String>,
    /// Data-residency jurisdiction (fixed at creation).
    #[schemars(extend("default" = "default"))]
    pub jurisdiction: Option<Sp<RawJurisdiction>>,
    /// Where Cloudflare should place the bucket; honoured only when it is created.
    pub location_hint: Option<Sp<RawLocationHint>>,
    /// Default storage class of new objects.
    #[schemars(extend("default" = "Standard"))]
    pub storage_class: Option<Sp<RawStorageClass>>,
    /// r2gitops never deletes a protected bucket, even with prune.
    #[schemars(extend("default" = true))]
    pub protect: Option<Sp<bool>>,
    /// CORS rules. Absent: not managed (never read, never changed); the list is the whole
    /// policy; [] removes every rule.
    pub cors: Option<Box<Sp<Vec<Sp<RawCorsRule>>>>>,
    /// Object lifecycle rules (at most 1,000). Absent: not managed; the list is the whole
    /// rule set, and replaces Cloudflare's default multipart-abort rule unless it is kept.
    pub lifecycle: Option<Box<Sp<Vec<Sp<RawLifecycleRule>>>>>,
    /// Retention rules (at most 1,000). Absent: not managed; the list is the whole set.
    /// Shortening or removing one needs settings.prune and counts toward max_deletions.
    pub lock: Option<Box<Sp<Vec<Sp<RawLockRule>>>>>,
    /// Public access through the bucket's r2.dev domain. Absent: not managed.
    pub public_dev_url: Option<Sp<bool>>,
    /// Hostnames on the account's zones that serve the bucket (at most 50). Absent: not
    /// managed; the list is the whole set. Removing one deletes its DNS record: it needs
    /// settings.prune and counts toward max_deletions.
    pub custom_domains: Option<Box<Sp<Vec<Sp<RawCustomDomain>>>>>,
    /// Event notification rules sending object events to Queues (at most 100). Absent: not
    /// managed; the list is the whole set, for every queue. Removing every rule of a queue
    /// needs settings.prune and counts toward max_deletions.
    pub notifications: Option<Box<Sp<Vec<Sp<RawNotification>>>>>,
}

/// An R2 API token and its credentials file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Token")]
// admin-* tokens take no buckets; object-* tokens need them; a token for named buckets
// takes no jurisdiction (said here for editors; the shape walk leaves these to `validate`,
// which words them better).
#[schemars(extend("allOf" = [
    {
        "if": {"properties": {"access": {"enum": ["admin-read", "admin-read-write"]}}, "required": ["access"]},
        "then": {"not": {"required": ["buckets"]}}
    },
    {
        "if": {"properties": {"access": {"enum": ["object-read", "object-read-write"]}}, "required": ["access"]},
        "then": {"required": ["buckets"]}
    },
    {
        "if": {"properties": {"buckets": {"type": "array", "not": {"const": ["*"]}}}, "required": ["buckets"]},
        "then": {"not": {"required": ["jurisdiction"]}}
    }
]))]
pub struct RawToken {
    /// Unique name; Cloudflare's name is `token_name_prefix + name` (at most 120 characters).
    #[schemars(length(min = 1, max = 120))]
    pub name: Sp<String>,
    /// Which token family: account-owned (default) or user-owned.
    #[schemars(extend("default" = "account"))]
    pub owner: Option<Sp<RawOwner>>,
    /// What the token may do.
    pub access: Sp<RawAccess>,
    /// object-* only: declared buckets of one jurisdiction, or ["*"] for every bucket.
    pub buckets: Option<Sp<Vec<Sp<TokenBucket>>>>,
    /// admin-* and buckets: ["*"] only: which jurisdiction's S3 endpoint the output names.
    pub jurisdiction: Option<Sp<RawJurisdiction>>,
    /// RFC 3339 time before which the token does not work.
    #[schemars(extend("format" = "date-time"))]
    pub not_before: Option<Sp<String>>,
    /// RFC 3339 time at which the token stops working.
    #[schemars(extend("format" = "date-time"))]
    pub expires_on: Option<Sp<String>>,
    /// Client IP restrictions.
    pub ip: Option<Sp<RawIp>>,
    /// Roll the secret this often: a number and a unit (s, m, h, d), at least 1h.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub rotate_every: Option<Sp<String>>,
    /// This token's `settings.rotation_overlap`: how long its old key keeps working after
    /// a rotation (`0`: roll in place). Less than `rotate_every`.
    #[schemars(regex(pattern = OVERLAP_PATTERN))]
    pub rotation_overlap: Option<Sp<String>>,
    /// The id of an existing token, not managed yet, that this entry takes over (32 hex).
    #[schemars(regex(pattern = "^[0-9a-f]{32}$"))]
    pub adopt: Option<Sp<String>>,
    pub output: Sp<RawOutput>,
}

/// A bucket a token covers: a declared bucket's name, or "*" for all buckets.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct TokenBucket(#[schemars(regex(pattern = TOKEN_BUCKET_PATTERN))] pub String);

/// Client IP restrictions (CIDR, IPv4 or IPv6).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "IpRules")]
pub struct RawIp {
    /// Only these networks may use the token.
    pub allow: Option<Vec<Sp<String>>>,
    /// These networks may not use the token.
    pub deny: Option<Vec<Sp<String>>>,
}

/// The token's encrypted credentials file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Output")]
pub struct RawOutput {
    /// File name relative to settings.output_dir; must stay inside it.
    #[schemars(length(min = 1))]
    pub file: Sp<String>,
    /// What the decrypted file holds.
    pub format: Sp<RawFormat>,
    /// Replaces settings.recipients (and recipients_file) for this token.
    pub recipients: Option<Sp<Vec<Sp<Recipient>>>>,
    /// ASCII-armored age, for files kept in git.
    #[schemars(extend("default" = false))]
    pub armor: Option<Sp<bool>>,
    /// Also write the Cloudflare API token value itself (for wrangler users).
    #[schemars(extend("default" = false))]
    pub include_api_token: Option<Sp<bool>>,
    /// After writing, prove the credentials with one signed S3 request.
    #[schemars(extend("default" = false))]
    pub verify: Option<Sp<bool>>,
    /// The Secret of a `kubernetes` or `kubernetes-sops` output (required for those).
    pub kubernetes: Option<Sp<RawKubernetes>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Jurisdiction")]
pub enum RawJurisdiction {
    Default,
    Eu,
    Fedramp,
    Us,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "LocationHint")]
pub enum RawLocationHint {
    Apac,
    Eeur,
    Enam,
    Weur,
    Wnam,
    Oc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(rename = "StorageClass")]
pub enum RawStorageClass {
    Standard,
    InfrequentAccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Owner")]
pub enum RawOwner {
    Account,
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "Access")]
pub enum RawAccess {
    ObjectRead,
    ObjectReadWrite,
    AdminRead,
    AdminReadWrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Format")]
pub enum RawFormat {
    Env,
    Json,
    Rclone,
    Aws,
    // A plain Kubernetes Secret manifest, age-encrypted like the other formats.
    Kubernetes,
    // A Kubernetes Secret whose values are SOPS-encrypted to the recipients (plaintext YAML
    // otherwise, safe to commit; Flux's kustomize-controller decrypts it). (Plain comments:
    // a doc comment would turn the schema's `enum` into a `oneOf`.)
    #[serde(rename = "kubernetes-sops")]
    KubernetesSops,
}

impl From<RawJurisdiction> for model::Jurisdiction {
    fn from(j: RawJurisdiction) -> Self {
        match j {
            RawJurisdiction::Default => model::Jurisdiction::Default,
            RawJurisdiction::Eu => model::Jurisdiction::Eu,
            RawJurisdiction::Fedramp => model::Jurisdiction::Fedramp,
            RawJurisdiction::Us => model::Jurisdiction::Us,
        }
    }
}

impl From<RawLocationHint> for model::LocationHint {
    fn from(l: RawLocationHint) -> Self {
        match l {
            RawLocationHint::Apac => model::LocationHint::Apac,
            RawLocationHint::Eeur => model::LocationHint::Eeur,
            RawLocationHint::Enam => model::LocationHint::Enam,
            RawLocationHint::Weur => model::LocationHint::Weur,
            RawLocationHint::Wnam => model::LocationHint::Wnam,
            RawLocationHint::Oc => model::LocationHint::Oc,
        }
    }
}

impl From<RawStorageClass> for model::StorageClass {
    fn from(c: RawStorageClass) -> Self {
        match c {
            RawStorageClass::Standard => model::StorageClass::Standard,
            RawStorageClass::InfrequentAccess => model::StorageClass::InfrequentAccess,
        }
    }
}

impl From<RawOwner> for model::Owner {
    fn from(o: RawOwner) -> Self {
        match o {
            RawOwner::Account => model::Owner::Account,
            RawOwner::User => model::Owner::User,
        }
    }
}

impl From<RawAccess> for model::Access {
    fn from(a: RawAccess) -> Self {
        match a {
            RawAccess::ObjectRead => model::Access::ObjectRead,
            RawAccess::ObjectReadWrite => model::Access::ObjectReadWrite,
            RawAccess::AdminRead => model::Access::AdminRead,
            RawAccess::AdminReadWrite => model::Access::AdminReadWrite,
        }
    }
}

impl From<RawFormat> for model::OutputFormat {
    fn from(f: RawFormat) -> Self {
        match f {
            RawFormat::Env => model::OutputFormat::Env,
            RawFormat::Json => model::OutputFormat::Json,
            RawFormat::Rclone => model::OutputFormat::Rclone,
            RawFormat::Aws => model::OutputFormat::Aws,
            RawFormat::Kubernetes => model::OutputFormat::Kubernetes,
            RawFormat::KubernetesSops => model::OutputFormat::KubernetesSops,
        }
    }
}

/// The JSON Schema of the file (draft 2020-12), built once. `shape` walks documents against
/// it, so the schema editors see and the checks `validate` runs first cannot drift apart.
pub fn json_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut value = schemars::schema_for!(RawDoc).to_value();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("$id".into(), "urn:r2gitops:desired-state:v1".into());
        }
        value
    })
}

#[cfg(test)]
mod tests;
