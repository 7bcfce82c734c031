//! The write intents the planner hands the applier: one write of a bucket's configuration
//! sub-resource (`ConfigWrite`), of one custom domain (`DomainWrite`), of one queue's
//! notification rules (`QueueWrite`). Plain data: the plan decides them, the client sends
//! them, and each says what the read-back should find.

use crate::config::MinTls;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::CustomDomain;
use crate::observed::notification::{NotificationRule, QueueId};

/// One write of a sub-resource: a PUT of the whole content, or a DELETE (only CORS has
/// one: lifecycle and lock are cleared with an empty PUT, r2.dev with `enabled: false`).
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigWrite {
    Put(ConfigValue),
    Delete(ConfigKind),
}

impl ConfigWrite {
    pub fn kind(&self) -> ConfigKind {
        match self {
            ConfigWrite::Put(v) => v.kind(),
            ConfigWrite::Delete(k) => *k,
        }
    }

    /// What Cloudflare should hold afterwards, for the read-back.
    pub fn expected(&self) -> ConfigValue {
        match self {
            ConfigWrite::Put(v) => v.clone(),
            ConfigWrite::Delete(k) => k.cleared(),
        }
    }

    /// `PUT` or `DELETE`.
    pub fn method(&self) -> &'static str {
        match self {
            ConfigWrite::Put(_) => "PUT",
            ConfigWrite::Delete(_) => "DELETE",
        }
    }
}

/// One write of one custom domain; the caller reads it back with its GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainWrite {
    /// `POST …/domains/custom`: creates the proxied DNS record.
    Add {
        domain: String,
        zone_id: String,
        enabled: bool,
        min_tls: Option<MinTls>,
    },
    /// `PUT …/domains/custom/{domain}`: patches `enabled` and `minTLS` (absent keeps it).
    Update {
        domain: String,
        enabled: bool,
        min_tls: Option<MinTls>,
    },
    /// `DELETE …/domains/custom/{domain}`: the DNS record goes too.
    Remove { domain: String },
}

impl DomainWrite {
    pub fn domain(&self) -> &str {
        match self {
            DomainWrite::Add { domain, .. }
            | DomainWrite::Update { domain, .. }
            | DomainWrite::Remove { domain } => domain,
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            DomainWrite::Add { .. } => "POST",
            DomainWrite::Update { .. } => "PUT",
            DomainWrite::Remove { .. } => "DELETE",
        }
    }

    /// What the read-back should find: the domain as sent, or nothing after a removal.
    pub fn expected(&self) -> Option<CustomDomain> {
        match self {
            DomainWrite::Add {
                domain,
                zone_id,
                enabled,
                min_tls,
            } => Some(CustomDomain {
                domain: domain.clone(),
                zone_id: Some(zone_id.clone()),
                zone_name: None,
                enabled: *enabled,
                min_tls: *min_tls,
                status: None,
            }),
            DomainWrite::Update {
                domain,
                enabled,
                min_tls,
            } => Some(CustomDomain {
                domain: domain.clone(),
                zone_id: None,
                zone_name: None,
                enabled: *enabled,
                min_tls: *min_tls,
                status: None,
            }),
            DomainWrite::Remove { .. } => None,
        }
    }
}

/// One write of one queue's rules on a bucket: the queue's rules are deleted (Cloudflare's
/// PUT adds, and refuses a rule that overlaps one it holds), then the whole list is put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueWrite {
    pub queue_id: QueueId,
    /// For messages.
    pub queue_name: String,
    /// `DELETE …/queues/{id}` first (the queue holds rules now).
    pub clear_first: bool,
    /// `PUT …/queues/{id}` with these; empty: nothing is put (the queue's rules are removed).
    pub rules: Vec<NotificationRule>,
    /// What the queue held when the plan was made (descriptions as Cloudflare keeps them),
    /// put back at once should Cloudflare refuse `rules` after the DELETE.
    pub held: Vec<NotificationRule>,
}
