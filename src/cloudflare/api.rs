//! The two capabilities the rest of the program uses to talk to Cloudflare. `ReadApi` is all
//! a dry run holds; only `apply` receives a `WriteApi`. Both are traits so that plan/apply
//! unit tests can use an in-memory fake.

use std::future::Future;

use time::OffsetDateTime;

use crate::cloudflare::error::ApiError;
use crate::config::ZoneRef;
use crate::config::{Jurisdiction, LocationHint, Owner, StorageClass};
pub use crate::observed::TokenRequest;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::{CustomDomain, ZoneLookup};
use crate::observed::notification::Queue;
use crate::observed::{ObservedBucket, ObservedToken, PermissionGroupIds, TokenStatus};
use crate::plan::ConfigWrite;
use crate::plan::DomainWrite;
use crate::plan::QueueWrite;
use crate::secret::{S3Secret, SessionToken, TokenValue};

/// What `GET .../tokens/verify` says about the daemon's own token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    pub id: String,
    pub status: TokenStatus,
    pub expires_on: Option<OffsetDateTime>,
}

/// A freshly created token. `value` is shown by Cloudflare exactly once: hand it to the
/// secrets writer before anything else. `token` is what Cloudflare says it stored: the
/// caller compares it with what was sent before trusting it (`plan::readback`).
pub struct CreatedToken {
    pub token: ObservedToken,
    pub value: TokenValue,
    /// The key(s) the IP condition was sent under, for messages (`request_ip`, or
    /// `request_ip and request.ip` when the first was dropped and the second tried).
    pub condition_sent_as: &'static str,
}

/// What Cloudflare says it stored after a token update.
pub struct UpdatedToken {
    pub token: ObservedToken,
    pub condition_sent_as: &'static str,
}

/// The request body (`r2_temp_access_creds_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryRequest {
    pub bucket: String,
    /// The parent token's id (its S3 access key id).
    pub parent_access_key_id: String,
    /// `object-read-only`, `object-read-write`, `admin-read-only` or `admin-read-write`.
    pub permission: &'static str,
    pub ttl_seconds: u64,
    pub prefixes: Vec<String>,
    pub objects: Vec<String>,
}

/// A freshly issued credential: write it before anything else, it cannot be fetched again.
/// Deliberately no `Debug`.
pub struct IssuedTemporary {
    pub access_key_id: String,
    pub secret_access_key: S3Secret,
    pub session_token: SessionToken,
}

pub trait ReadApi: Send + Sync {
    /// Verify the bearer token at the endpoint of its owner family.
    fn verify(&self) -> impl Future<Output = Result<VerifiedToken, ApiError>> + Send;
    /// The id the last successful `verify` gave for the bearer token (`None` before one):
    /// r2gitops' own token, which no plan may touch.
    fn own_token_id(&self) -> Option<String>;
    /// Every bucket of one jurisdiction (cursor paging to the end).
    fn list_buckets(
        &self,
        jurisdiction: Jurisdiction,
    ) -> impl Future<Output = Result<Vec<ObservedBucket>, ApiError>> + Send;
    /// One bucket, or `None` when it does not exist in that jurisdiction (10006).
    fn get_bucket(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
    ) -> impl Future<Output = Result<Option<ObservedBucket>, ApiError>> + Send;
    /// One token, or `None` when it does not exist.
    fn get_token(
        &self,
        owner: Owner,
        id: &str,
    ) -> impl Future<Output = Result<Option<ObservedToken>, ApiError>> + Send;
    /// Every token of one owner family (page paging to the end), expired ones included.
    fn list_tokens(
        &self,
        owner: Owner,
    ) -> impl Future<Output = Result<Vec<ObservedToken>, ApiError>> + Send;
    /// The four R2 group ids for one owner family, resolved by exact name and scope (cached
    /// for the process; falls back to `PermissionGroupIds::known()` with a warning when
    /// listing is forbidden).
    fn permission_groups(
        &self,
        owner: Owner,
    ) -> impl Future<Output = Result<PermissionGroupIds, ApiError>> + Send;
    /// One configuration sub-resource of a bucket, canonical (a bucket without a CORS
    /// policy reads as no rules); `None` when the bucket is not known there (10006, or
    /// 10085 on the notification routes), never "no rules".
    fn read_config(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> impl Future<Output = Result<Option<ConfigValue>, ApiError>> + Send;
    /// A zone a custom domain names: in the account by name, else anywhere the token sees it
    /// (the diff blocks a zone of another account); by id. A refusal names Zone Read.
    fn lookup_zone(
        &self,
        zone: &ZoneRef,
    ) -> impl Future<Output = Result<ZoneLookup, ApiError>> + Send;
    /// Every queue of the account (paged to the end). A refusal names Queues Read.
    fn list_queues(&self) -> impl Future<Output = Result<Vec<Queue>, ApiError>> + Send;
    /// One custom domain of a bucket, with its status; `None` when it is not attached to
    /// this bucket (an error when the bucket does not exist).
    fn get_custom_domain(
        &self,
        jurisdiction: Jurisdiction,
        bucket: &str,
        domain: &str,
    ) -> impl Future<Output = Result<Option<CustomDomain>, ApiError>> + Send;
}

/// The write capability. Its reads (a write's read-back) go through its own read half,
/// delegated once (`reader`), not method by method.
pub trait WriteApi: Send + Sync {
    type Reader: ReadApi;
    /// The read half of the same client.
    fn reader(&self) -> &Self::Reader;
    fn create_bucket(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        location_hint: Option<LocationHint>,
        storage_class: StorageClass,
    ) -> impl Future<Output = Result<ObservedBucket, ApiError>> + Send;
    fn set_storage_class(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        storage_class: StorageClass,
    ) -> impl Future<Output = Result<ObservedBucket, ApiError>> + Send;
    fn delete_bucket(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn create_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
    ) -> impl Future<Output = Result<CreatedToken, ApiError>> + Send;
    fn update_token(
        &self,
        owner: Owner,
        id: &str,
        request: &TokenRequest,
    ) -> impl Future<Output = Result<UpdatedToken, ApiError>> + Send;
    fn delete_token(
        &self,
        owner: Owner,
        id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Replace one configuration sub-resource (PUT), or delete the CORS policy. The caller
    /// reads it back with `read_config`.
    fn write_config(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Add, update or remove one custom domain. The caller reads it back with
    /// `get_custom_domain`; a 409 on an add is left to the caller (it may be ours).
    fn write_custom_domain(
        &self,
        jurisdiction: Jurisdiction,
        bucket: &str,
        write: &DomainWrite,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Replace one queue's notification rules on a bucket (DELETE, then PUT the list). The
    /// caller reads it back with `read_config`.
    fn write_notifications(
        &self,
        jurisdiction: Jurisdiction,
        bucket: &str,
        write: &QueueWrite,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Same id, new value; the old value is dead at once.
    fn roll_token(
        &self,
        owner: Owner,
        id: &str,
    ) -> impl Future<Output = Result<TokenValue, ApiError>> + Send;
    /// Mint a temporary credential under a parent token. Cloudflare keeps no
    /// record of it: it cannot be listed or read back.
    fn issue_temporary(
        &self,
        request: &TemporaryRequest,
    ) -> impl Future<Output = Result<IssuedTemporary, ApiError>> + Send;
}
