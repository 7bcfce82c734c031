//! A bucket's configuration sub-resources (CORS, lifecycle, lock, r2.dev) as plain,
//! canonical data: what Cloudflare holds, and what a PUT sends. Built by the client from
//! Cloudflare's JSON, and by `ConfigValue::declared` from the file; compared by
//! `ConfigValue::matches`, the one semantic comparison the diff and the read-back share.
//!
//! Canonical means what Cloudflare may change without changing meaning is gone: lists
//! that are sets are sets, header names are lower case, methods upper case, ages are
//! seconds, dates are instants, a missing prefix is "", absent and empty lists are alike.
//! Rules keep their order (a PUT sends the file's order) but compare as sets keyed by id.
//!
//! `ConfigKind` is the table of kinds: a new block adds a row, a variant of `ConfigValue`,
//! and its conversions; `import` reads every row. Custom domains and notifications (issue 15)
//! are rows too, read and cached like the others, but written item by item (one domain, one
//! queue) by steps of their own: their values live in `custom_domain` and `notification`.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::custom_domain::CustomDomain;
use super::notification::QueueRules;
use crate::config::{self, BucketConfig};

/// The sub-resources r2gitops manages, in the order a plan shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKind {
    Cors,
    Lifecycle,
    Lock,
    PublicDevUrl,
    CustomDomains,
    Notifications,
}

impl ConfigKind {
    pub const ALL: [ConfigKind; 6] = [
        ConfigKind::Cors,
        ConfigKind::Lifecycle,
        ConfigKind::Lock,
        ConfigKind::PublicDevUrl,
        ConfigKind::CustomDomains,
        ConfigKind::Notifications,
    ];

    /// The key in the file, in plans and in JSON.
    pub fn key(self) -> &'static str {
        match self {
            ConfigKind::Cors => "cors",
            ConfigKind::Lifecycle => "lifecycle",
            ConfigKind::Lock => "lock",
            ConfigKind::PublicDevUrl => "public_dev_url",
            ConfigKind::CustomDomains => "custom_domains",
            ConfigKind::Notifications => "notifications",
        }
    }

    /// The path below `/accounts/{id}/` of the bucket's sub-resource (notifications live
    /// under another prefix: `event_notifications/r2/{name}/configuration`).
    pub fn api_path(self, bucket: &str) -> String {
        let sub = match self {
            ConfigKind::Cors => "cors",
            ConfigKind::Lifecycle => "lifecycle",
            ConfigKind::Lock => "lock",
            ConfigKind::PublicDevUrl => "domains/managed",
            ConfigKind::CustomDomains => "domains/custom",
            ConfigKind::Notifications => {
                return format!("event_notifications/r2/{bucket}/configuration");
            }
        };
        format!("r2/buckets/{bucket}/{sub}")
    }

    /// How messages name it: "the CORS rules of bucket media".
    pub fn label(self) -> &'static str {
        match self {
            ConfigKind::Cors => "CORS rules",
            ConfigKind::Lifecycle => "lifecycle rules",
            ConfigKind::Lock => "lock rules",
            ConfigKind::PublicDevUrl => "r2.dev access",
            ConfigKind::CustomDomains => "custom domains",
            ConfigKind::Notifications => "event notification rules",
        }
    }

    /// What a bucket holds the moment it is created (R2-CONFIG-NOTES §1-4): no CORS
    /// policy, the default multipart-abort rule, no lock rule, r2.dev off.
    pub fn new_bucket(self) -> ConfigValue {
        match self {
            ConfigKind::Cors => ConfigValue::Cors(Vec::new()),
            ConfigKind::Lifecycle => {
                ConfigValue::Lifecycle(vec![LifecycleRule::cloudflare_default()])
            }
            ConfigKind::Lock => ConfigValue::Lock(Vec::new()),
            ConfigKind::PublicDevUrl => ConfigValue::PublicDevUrl(ManagedDomain {
                enabled: false,
                domain: None,
            }),
            ConfigKind::CustomDomains => ConfigValue::CustomDomains(Vec::new()),
            ConfigKind::Notifications => ConfigValue::Notifications(Vec::new()),
        }
    }

    /// What it holds once cleared: after its DELETE, or an empty PUT.
    pub fn cleared(self) -> ConfigValue {
        match self {
            ConfigKind::Cors => ConfigValue::Cors(Vec::new()),
            ConfigKind::Lifecycle => ConfigValue::Lifecycle(Vec::new()),
            ConfigKind::Lock => ConfigValue::Lock(Vec::new()),
            ConfigKind::PublicDevUrl => ConfigValue::PublicDevUrl(ManagedDomain {
                enabled: false,
                domain: None,
            }),
            ConfigKind::CustomDomains => ConfigValue::CustomDomains(Vec::new()),
            ConfigKind::Notifications => ConfigValue::Notifications(Vec::new()),
        }
    }
}

/// One sub-resource's whole content.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Cors(Vec<CorsRule>),
    Lifecycle(Vec<LifecycleRule>),
    Lock(Vec<LockRule>),
    PublicDevUrl(ManagedDomain),
    CustomDomains(Vec<CustomDomain>),
    Notifications(Vec<QueueRules>),
}

impl ConfigValue {
    pub fn kind(&self) -> ConfigKind {
        match self {
            ConfigValue::Cors(_) => ConfigKind::Cors,
            ConfigValue::Lifecycle(_) => ConfigKind::Lifecycle,
            ConfigValue::Lock(_) => ConfigKind::Lock,
            ConfigValue::PublicDevUrl(_) => ConfigKind::PublicDevUrl,
            ConfigValue::CustomDomains(_) => ConfigKind::CustomDomains,
            ConfigValue::Notifications(_) => ConfigKind::Notifications,
        }
    }

    /// The semantic comparison: rules as sets (keyed by id where there is one), the r2.dev
    /// flag alone (its hostname is Cloudflare's, not the file's).
    pub fn matches(&self, other: &ConfigValue) -> bool {
        match (self, other) {
            (ConfigValue::Cors(a), ConfigValue::Cors(b)) => {
                a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
            }
            (ConfigValue::Lifecycle(a), ConfigValue::Lifecycle(b)) => by_id(a) == by_id(b),
            (ConfigValue::Lock(a), ConfigValue::Lock(b)) => by_id(a) == by_id(b),
            (ConfigValue::PublicDevUrl(a), ConfigValue::PublicDevUrl(b)) => a.enabled == b.enabled,
            (ConfigValue::CustomDomains(a), ConfigValue::CustomDomains(b)) => {
                super::custom_domain::same_set(a, b)
            }
            (ConfigValue::Notifications(a), ConfigValue::Notifications(b)) => {
                super::notification::same_set(a, b)
            }
            _ => false,
        }
    }

    /// Whether it holds nothing (no rule; r2.dev off).
    pub fn is_empty(&self) -> bool {
        match self {
            ConfigValue::Cors(r) => r.is_empty(),
            ConfigValue::Lifecycle(r) => r.is_empty(),
            ConfigValue::Lock(r) => r.is_empty(),
            ConfigValue::PublicDevUrl(d) => !d.enabled,
            ConfigValue::CustomDomains(d) => d.is_empty(),
            ConfigValue::Notifications(q) => q.iter().all(|q| q.rules.is_empty()),
        }
    }

    /// What the file declares for `kind`, canonical; `None` when it does not manage it.
    pub fn declared(config: &BucketConfig, kind: ConfigKind) -> Option<ConfigValue> {
        match kind {
            ConfigKind::Cors => config
                .cors
                .as_ref()
                .map(|rules| ConfigValue::Cors(rules.iter().map(CorsRule::declared).collect())),
            ConfigKind::Lifecycle => config.lifecycle.as_ref().map(|rules| {
                ConfigValue::Lifecycle(rules.iter().map(LifecycleRule::declared).collect())
            }),
            ConfigKind::Lock => config
                .lock
                .as_ref()
                .map(|rules| ConfigValue::Lock(rules.iter().map(LockRule::declared).collect())),
            ConfigKind::PublicDevUrl => config.public_dev_url.map(|enabled| {
                ConfigValue::PublicDevUrl(ManagedDomain {
                    enabled,
                    domain: None,
                })
            }),
            ConfigKind::CustomDomains => config.custom_domains.as_ref().map(|list| {
                ConfigValue::CustomDomains(list.iter().map(CustomDomain::declared).collect())
            }),
            ConfigKind::Notifications => config
                .notifications
                .as_ref()
                .map(|list| ConfigValue::Notifications(QueueRules::declared(list))),
        }
    }
}

/// Rules with an id, keyed by it. Ids are unique in a declaration; should Cloudflare ever
/// answer with a repeated id, the last one stands (a set cannot hold both).
pub fn by_id<R: Keyed>(rules: &[R]) -> BTreeMap<&str, &R> {
    rules.iter().map(|r| (r.key(), r)).collect()
}

pub trait Keyed {
    fn key(&self) -> &str;
}

/// A CORS rule, canonical: origins as written, methods upper case, header names lower
/// case, every list a set, `maxAgeSeconds` as whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CorsRule {
    pub id: Option<String>,
    pub origins: BTreeSet<String>,
    pub methods: BTreeSet<String>,
    pub headers: BTreeSet<String>,
    pub expose_headers: BTreeSet<String>,
    pub max_age_secs: Option<u64>,
}

impl CorsRule {
    /// Normalise whatever shape the lists came in.
    pub fn new<S: AsRef<str>>(
        id: Option<String>,
        origins: impl IntoIterator<Item = S>,
        methods: impl IntoIterator<Item = S>,
        headers: impl IntoIterator<Item = S>,
        expose_headers: impl IntoIterator<Item = S>,
        max_age_secs: Option<u64>,
    ) -> Self {
        let trimmed = |s: S| s.as_ref().trim().to_string();
        CorsRule {
            // An empty label is no label.
            id: id.filter(|i| !i.is_empty()),
            origins: origins.into_iter().map(trimmed).collect(),
            methods: methods
                .into_iter()
                .map(|m| m.as_ref().trim().to_ascii_uppercase())
                .collect(),
            headers: headers
                .into_iter()
                .map(|h| h.as_ref().trim().to_ascii_lowercase())
                .collect(),
            expose_headers: expose_headers
                .into_iter()
                .map(|h| h.as_ref().trim().to_ascii_lowercase())
                .collect(),
            max_age_secs,
        }
    }

    fn declared(r: &config::CorsRule) -> Self {
        CorsRule::new(
            r.id.clone(),
            r.allowed_origins.clone(),
            r.allowed_methods
                .iter()
                .map(|m| m.as_str().to_string())
                .collect::<Vec<_>>(),
            r.allowed_headers.clone(),
            r.expose_headers.clone(),
            r.max_age.map(|a| a.secs),
        )
    }

    /// How a plan names it: its id, else its origins.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => quote(id),
            None => format!(
                "[{}]",
                self.origins.iter().cloned().collect::<Vec<_>>().join(" ")
            ),
        }
    }
}

/// An id as a plan shows it: quoted when it holds a space.
pub fn quote(id: &str) -> String {
    if id.chars().any(char::is_whitespace) || id.is_empty() {
        format!("{id:?}")
    } else {
        id.to_string()
    }
}

/// When a lifecycle transition or a lock applies: an age in seconds, an instant (Unix
/// seconds), or a shape r2gitops does not know (kept verbatim: never equal to a declared one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Condition {
    Age(u64),
    Date(i64),
    Other(String),
}

impl Condition {
    fn declared(w: &config::When) -> Self {
        match w {
            config::When::After(a) => Condition::Age(a.secs),
            config::When::On(t) => Condition::Date(t.unix_timestamp()),
        }
    }

    /// As a plan shows it; ages in `unit` where it divides.
    pub fn show(&self, unit: char) -> String {
        match self {
            Condition::Age(s) => config::Age::show(*s, unit),
            Condition::Date(t) => show_date(*t),
            Condition::Other(s) => s.clone(),
        }
    }
}

/// An instant as RFC 3339.
pub fn show_date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// A lifecycle rule, canonical: whole-bucket prefix "", transitions to Infrequent Access
/// as a set, empty transitions gone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    pub prefix: String,
    pub expire: Option<Condition>,
    pub transitions: BTreeSet<Condition>,
    pub abort_multipart_secs: Option<u64>,
}

impl Keyed for LifecycleRule {
    fn key(&self) -> &str {
        &self.id
    }
}

impl LifecycleRule {
    /// "Default Multipart Abort Rule": every new bucket's, abort after 7 days.
    pub fn cloudflare_default() -> Self {
        LifecycleRule {
            id: config::DEFAULT_LIFECYCLE_RULE_ID.to_string(),
            enabled: true,
            prefix: String::new(),
            expire: None,
            transitions: BTreeSet::new(),
            abort_multipart_secs: Some(config::DEFAULT_LIFECYCLE_RULE_ABORT_SECS),
        }
    }

    pub fn is_cloudflare_default(&self) -> bool {
        self.id == config::DEFAULT_LIFECYCLE_RULE_ID
    }

    fn declared(r: &config::LifecycleRule) -> Self {
        LifecycleRule {
            id: r.id.clone(),
            enabled: r.enabled,
            prefix: r.prefix.clone(),
            expire: r.expire.as_ref().map(Condition::declared),
            transitions: r
                .transition_to_infrequent_access
                .as_ref()
                .map(Condition::declared)
                .into_iter()
                .collect(),
            abort_multipart_secs: r.abort_multipart_after.map(|a| a.secs),
        }
    }
}

/// How long a lock rule retains.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Retention {
    Age(u64),
    Date(i64),
    Indefinite,
    /// A condition type r2gitops does not know, verbatim.
    Other(String),
}

impl Retention {
    pub fn show(&self, unit: char) -> String {
        match self {
            Retention::Age(s) => config::Age::show(*s, unit),
            Retention::Date(t) => show_date(*t),
            Retention::Indefinite => "indefinite".into(),
            Retention::Other(s) => s.clone(),
        }
    }

    /// Whether `self` retains every object at least as long as `before` did. Different
    /// kinds (an age against a date) cannot be compared for every object: not "at least".
    pub fn at_least(&self, before: &Retention) -> bool {
        match (self, before) {
            (Retention::Indefinite, _) => true,
            (Retention::Age(a), Retention::Age(b)) => a >= b,
            (Retention::Date(a), Retention::Date(b)) => a >= b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockRule {
    pub id: String,
    pub enabled: bool,
    pub prefix: String,
    pub retention: Retention,
}

impl Keyed for LockRule {
    fn key(&self) -> &str {
        &self.id
    }
}

impl LockRule {
    fn declared(r: &config::LockRule) -> Self {
        LockRule {
            id: r.id.clone(),
            enabled: r.enabled,
            prefix: r.prefix.clone(),
            retention: match r.retention {
                config::Retention::For(a) => Retention::Age(a.secs),
                config::Retention::Until(t) => Retention::Date(t.unix_timestamp()),
                config::Retention::Indefinite => Retention::Indefinite,
            },
        }
    }
}

/// The bucket's r2.dev domain: whether it serves the bucket publicly, and its hostname
/// (Cloudflare's; `None` in a declaration or before the bucket exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedDomain {
    pub enabled: bool,
    pub domain: Option<String>,
}
