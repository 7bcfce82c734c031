//! Live-API behaviours that are possible but unconfirmed, each a switch, so that tests can
//! prove r2gitops right in every world rather than in the one our notes guess at. The source
//! of each is in this crate's README. The default is the most
//! likely live behaviour: `request_ip` understood, `request.ip` still accepted, removed
//! token fields cleared, storage class patchable, bucket names per jurisdiction. Three
//! behaviours the live API shows only some of the time (a degraded domain answer, a hostname
//! still in use after its removal, a new bucket its sub-resource endpoints do not know yet)
//! are off unless a test turns them on.

use std::time::Duration;

/// Which key of a token's `condition` the server understands. A condition under any other
/// key is silently dropped, as a server ignores a field it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionKey {
    /// Only `request_ip` (the 2025-2026 SDKs, Terraform v5).
    RequestIp,
    /// Only `request.ip` (the 2024 OpenAPI, one docs page).
    RequestDotIp,
    /// Both.
    #[default]
    Both,
    /// Neither: every IP condition is dropped. Not a claim about Cloudflare: the worst
    /// case, which proves that a token less restricted than declared never survives.
    None,
}

impl ConditionKey {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "request_ip" => Ok(ConditionKey::RequestIp),
            "request.ip" => Ok(ConditionKey::RequestDotIp),
            "both" => Ok(ConditionKey::Both),
            "none" => Ok(ConditionKey::None),
            other => Err(format!(
                "--condition-key '{other}': expected request_ip, request.ip, both or none"
            )),
        }
    }

    /// The keys accepted on a write, in the order they are looked up.
    pub fn accepted(self) -> &'static [&'static str] {
        match self {
            ConditionKey::RequestIp => &["request_ip"],
            ConditionKey::RequestDotIp => &["request.ip"],
            ConditionKey::Both => &["request_ip", "request.ip"],
            ConditionKey::None => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Behaviour {
    pub condition_key: ConditionKey,
    /// A token `PUT` that leaves out `condition`, `expires_on` or `not_before` keeps the
    /// stored value (Terraform PR #902: IP restrictions could not be removed).
    pub sticky_token_fields: bool,
    /// When set, `PATCH /r2/buckets/{name}` answers this status with code 7001 (a
    /// third-party live test got 405 / 7001 in 2026-08).
    pub storage_class_patch: Option<u16>,
    /// Bucket names are unique per account across jurisdictions: a name taken in another
    /// jurisdiction answers 409 with code 10073 (the docs of 10073).
    pub global_bucket_names: bool,
    /// Custom-domain GETs answer as when Cloudflare's certificate backend is unreachable:
    /// status `unknown` / `unknown`, no `minTLS`, `zoneName` or `ciphers` (Terraform PR
    /// #7046, `preserveStateOnDegradedResponse`).
    pub degraded_domains: bool,
    /// For this long after a custom domain's removal, a POST of that hostname answers 409
    /// "Domain already in use" (alchemy `Bucket.ts` retries it 2 s × 8).
    pub domain_release: Option<Duration>,
    /// For this long after a bucket's create, its configuration and custom-domain routes
    /// answer 404 / 10006 (NoSuchBucket) and its notification routes 404 / 10085
    /// (BucketNotFound) (alchemy `r2BucketEndpointConsistencySchedule`,
    /// `r2EventNotificationConsistencySchedule`).
    pub post_create_lag: Option<Duration>,
    /// The notification configuration GETs name a queue by a dashed UUID
    /// (`9af92711-53ee-4b1c-…`), while the queue list and the PUT/DELETE paths use 32 hex
    /// (alchemy `BucketEventNotification.ts`, with live tests).
    pub dashed_queue_ids: bool,
    /// A rule PUT without `description` is stored with one the server makes up (alchemy:
    /// "Cloudflare auto-generates one when omitted"; the text is not published).
    pub generated_descriptions: bool,
    /// A bucket without rules answers the configuration GET 404 / 11015 rather than 200
    /// with an empty list, and a DELETE of a queue without rules 404 / 11011 (distilled's
    /// `NoEventNotificationConfig`, `EventNotificationConfigNotFound`).
    pub no_rules_404: bool,
    /// Rules of one queue clash when their key ranges overlap, whatever their actions
    /// (alchemy's docs and live test comment), not only when they share an action
    /// (Cloudflare staff, cloudflare-docs PR #19130).
    pub overlap_by_keys: bool,
    /// For this long after a token is created or rolled, the S3 side rejects its new
    /// credentials as an unknown key (403 `InvalidAccessKeyId`): a new R2 token takes
    /// seconds to propagate (wrangler sleeps 3 s after minting one, workers-sdk PR #6629).
    pub propagation_delay: Option<Duration>,
}

impl Behaviour {
    /// The notification behaviours seen live: dashed queue ids, generated descriptions,
    /// 404s for no rules. The overlap rule stays as given (the sources disagree).
    pub fn live_notifications(self) -> Self {
        Behaviour {
            dashed_queue_ids: true,
            generated_descriptions: true,
            no_rules_404: true,
            ..self
        }
    }
}
