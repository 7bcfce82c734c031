//! What Cloudflare holds, as plain data: the planner's input. Built by `observe` through the
//! client; built by hand in plan tests. No I/O, no client types.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::config::{IpRules, Jurisdiction, LocationHint, Owner, StorageClass};

pub mod bucket_config;
pub mod custom_domain;
pub mod notification;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    pub account_id: String,
    /// Buckets of every jurisdiction that was listed. A jurisdiction absent from
    /// `listed_jurisdictions` was not observed, so nothing may be concluded about it.
    pub buckets: Vec<ObservedBucket>,
    pub listed_jurisdictions: BTreeSet<Jurisdiction>,
    /// Managed tokens only: name starts with the prefix, or id recorded in the inventory.
    /// Never the token r2gitops calls Cloudflare with (`own_token_id`).
    pub tokens: Vec<ObservedToken>,
    /// The id `verify` gave for r2gitops' own API token, when it was verified: a plan never
    /// touches that token, whatever its name, and an `adopt:` of it is refused.
    pub own_token_id: Option<String>,
    /// The ids of account tokens named `config::STATE_PARENT_NAME`: r2gitops' own parent of
    /// the state's temporary credentials. Never in `tokens` (no plan updates, rolls or
    /// prunes one), and an `adopt:` of one is refused.
    pub state_parent_ids: BTreeSet<String>,
    /// Owner families whose tokens were listed.
    pub listed_owners: BTreeSet<Owner>,
    pub permission_groups: PermissionGroupIds,
    /// The configuration sub-resources read, per bucket: only kinds the file manages, and
    /// only for buckets that exist. A kind that is absent was not read: nothing may be
    /// concluded about it.
    pub bucket_configs: BTreeMap<
        (Jurisdiction, String),
        BTreeMap<bucket_config::ConfigKind, bucket_config::ConfigValue>,
    >,
    /// The zones declared custom domains name, as looked up; a zone absent here
    /// was not looked up.
    pub zones: BTreeMap<crate::config::ZoneRef, custom_domain::ZoneLookup>,
    /// The account's queues, when a declared notification rule needed them.
    pub queues: Option<Vec<notification::Queue>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedBucket {
    pub name: String,
    pub jurisdiction: Jurisdiction,
    /// `None` when Cloudflare reports no (or an unknown) location.
    pub location: Option<LocationHint>,
    pub storage_class: StorageClass,
    pub creation_date: Option<String>,
}

/// A token's status as Cloudflare reports it. Only `active` and `disabled` can be set; the
/// others are outcomes Cloudflare reports (`expired`, and `revoked` for an exposed secret, in
/// cloudflare-typescript's `accounts/tokens` status enum).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    Active,
    Disabled,
    Expired,
    /// `revoked (exposed)`: Cloudflare found the value leaked in public and revoked it. It
    /// cannot be re-enabled; Terraform v5 (2026-04) treats it as gone.
    RevokedExposed,
    /// A status r2gitops does not know, kept verbatim: never guessed at (an unknown status
    /// once read as `disabled` planned a re-enable on every pass).
    Other(String),
}

impl TokenStatus {
    pub fn as_str(&self) -> &str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Disabled => "disabled",
            TokenStatus::Expired => "expired",
            TokenStatus::RevokedExposed => "revoked (exposed)",
            TokenStatus::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "active" => TokenStatus::Active,
            "disabled" => TokenStatus::Disabled,
            "expired" => TokenStatus::Expired,
            "revoked (exposed)" => TokenStatus::RevokedExposed,
            other => TokenStatus::Other(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedToken {
    /// 32 lowercase hex; also the S3 access key id.
    pub id: String,
    /// Full Cloudflare name, prefix included.
    pub name: String,
    pub owner: Owner,
    pub status: TokenStatus,
    pub issued_on: Option<OffsetDateTime>,
    pub modified_on: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
    pub expires_on: Option<OffsetDateTime>,
    pub policies: Vec<Policy>,
    /// From `condition.request_ip` (or the older `request.ip`): normalised, sorted,
    /// deduplicated.
    pub condition: IpRules,
}

/// A field of a token, as the read-back and the planner name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenField {
    Name,
    Policies,
    IpRules,
    NotBefore,
    ExpiresOn,
    Status,
}

impl TokenField {
    /// A stable name, for JSON and the inventory.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenField::Name => "name",
            TokenField::Policies => "policies",
            TokenField::IpRules => "ip_rules",
            TokenField::NotBefore => "not_before",
            TokenField::ExpiresOn => "expires_on",
            TokenField::Status => "status",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            TokenField::Name,
            TokenField::Policies,
            TokenField::IpRules,
            TokenField::NotBefore,
            TokenField::ExpiresOn,
            TokenField::Status,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }

    /// How a message names it: "the IP condition of token reader".
    pub fn label(self) -> &'static str {
        match self {
            TokenField::Name => "name",
            TokenField::Policies => "policies",
            TokenField::IpRules => "IP condition",
            TokenField::NotBefore => "not_before",
            TokenField::ExpiresOn => "expires_on",
            TokenField::Status => "status",
        }
    }
}

/// The body of a token create or full update (`PUT` replaces the token). Plain data: the
/// planner builds it, the client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequest {
    /// Full Cloudflare name, prefix included.
    pub name: String,
    pub policies: Vec<Policy>,
    pub not_before: Option<OffsetDateTime>,
    pub expires_on: Option<OffsetDateTime>,
    /// Empty: no `condition` is sent.
    pub condition: IpRules,
    /// `None` on create; on update, the status to set (`Active` re-enables a disabled token).
    pub status: Option<TokenStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// One token policy in a canonical, order-free form: comparing two `Policy` values with `==`
/// is the semantic comparison (Cloudflare's reordering of groups or resources is not drift).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Policy {
    pub effect: Effect,
    /// Permission group ids, lowercase.
    pub permission_groups: BTreeSet<String>,
    pub resources: BTreeMap<String, ResourceValue>,
}

/// A value in a policy's `resources` map: `"*"` or a nested map (account -> bucket wildcard).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceValue {
    Str(String),
    Map(BTreeMap<String, String>),
}

/// The ids of the four R2 permission groups, resolved by exact name and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionGroupIds {
    /// Workers R2 Storage Write (account scope): admin-read-write.
    pub admin_write: String,
    /// Workers R2 Storage Read (account scope): admin-read.
    pub admin_read: String,
    /// Workers R2 Storage Bucket Item Write (bucket scope): object-read-write.
    pub object_write: String,
    /// Workers R2 Storage Bucket Item Read (bucket scope): object-read.
    pub object_read: String,
}

impl PermissionGroupIds {
    /// The ids Cloudflare has used for years; only a fallback when listing is forbidden.
    pub fn known() -> Self {
        PermissionGroupIds {
            admin_write: "bf7481a1826f439697cb59a20b22293e".into(),
            admin_read: "b4992e1108244f5d8bfbd5744320c2e1".into(),
            object_write: "2efd5506f9c8494dacb1fa10a3e7d5b6".into(),
            object_read: "6a018a9f2fc74eb6b293b0c548f38b39".into(),
        }
    }
}

impl Default for PermissionGroupIds {
    fn default() -> Self {
        Self::known()
    }
}

/// Exact permission-group names, as Cloudflare lists them.
pub const GROUP_ADMIN_WRITE: &str = "Workers R2 Storage Write";
pub const GROUP_ADMIN_READ: &str = "Workers R2 Storage Read";
pub const GROUP_OBJECT_WRITE: &str = "Workers R2 Storage Bucket Item Write";
pub const GROUP_OBJECT_READ: &str = "Workers R2 Storage Bucket Item Read";
