//! The Cloudflare policies a declared token stands for (resource keys and permission groups as
//! https://developers.cloudflare.com/r2/api/tokens/ gives them), and the
//! reverse: a description of observed policies in the file's own terms (access, buckets), so
//! that a plan can say `buckets +logs` instead of dumping JSON, and what a change of
//! policies takes away (`lost`), in Cloudflare's words. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Access, Jurisdiction, TokenScope, TokenSpec};
use crate::observed::{Effect, PermissionGroupIds, Policy, ResourceValue};

const BUCKET_KEY: &str = "com.cloudflare.edge.r2.bucket.";
const ACCOUNT_KEY: &str = "com.cloudflare.api.account.";
const ALL_BUCKETS: &str = "com.cloudflare.edge.r2.bucket.*";

/// The permission group a declared access maps to.
pub fn group_id(access: Access, groups: &PermissionGroupIds) -> &str {
    match access {
        Access::ObjectRead => &groups.object_read,
        Access::ObjectReadWrite => &groups.object_write,
        Access::AdminRead => &groups.admin_read,
        Access::AdminReadWrite => &groups.admin_write,
    }
}

/// The resource key of one bucket: `com.cloudflare.edge.r2.bucket.<acct>_<j>_<name>`.
pub fn bucket_key(account_id: &str, jurisdiction: Jurisdiction, name: &str) -> String {
    format!("{BUCKET_KEY}{account_id}_{}_{name}", jurisdiction.as_str())
}

/// The one allow policy a declared token needs, in canonical form.
pub fn desired_policies(
    token: &TokenSpec,
    account_id: &str,
    groups: &PermissionGroupIds,
) -> Vec<Policy> {
    let account = format!("{ACCOUNT_KEY}{account_id}");
    let resources: BTreeMap<String, ResourceValue> = match &token.scope {
        TokenScope::Account => [(account, ResourceValue::Str("*".into()))].into(),
        TokenScope::AllBuckets => [(
            account,
            ResourceValue::Map([(ALL_BUCKETS.to_string(), "*".to_string())].into()),
        )]
        .into(),
        TokenScope::Buckets(names) => names
            .iter()
            .map(|n| {
                (
                    bucket_key(account_id, token.jurisdiction, n),
                    ResourceValue::Str("*".into()),
                )
            })
            .collect(),
    };
    vec![Policy {
        effect: Effect::Allow,
        permission_groups: BTreeSet::from([group_id(token.access, groups).to_ascii_lowercase()]),
        resources,
    }]
}

/// Observed policies read back in the file's terms. `None` fields mean "not expressible":
/// the policies were edited out of band into something the file cannot declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub access: Option<Access>,
    /// `Some(["*"])` for every bucket; bucket names for named buckets; empty for admin.
    pub buckets: Option<BTreeSet<String>>,
}

pub fn describe(policies: &[Policy], account_id: &str, groups: &PermissionGroupIds) -> Described {
    let by_id: BTreeMap<String, Access> = [
        Access::ObjectRead,
        Access::ObjectReadWrite,
        Access::AdminRead,
        Access::AdminReadWrite,
    ]
    .into_iter()
    .map(|a| (group_id(a, groups).to_ascii_lowercase(), a))
    .collect();
    let mut accesses = BTreeSet::new();
    let mut buckets = BTreeSet::new();
    let mut expressible = policies.len() == 1;
    let account = format!("{ACCOUNT_KEY}{account_id}");
    let bucket_prefix = format!("{BUCKET_KEY}{account_id}_");
    for p in policies {
        expressible &= p.effect == Effect::Allow;
        for g in &p.permission_groups {
            match by_id.get(g) {
                Some(a) => {
                    accesses.insert(*a);
                }
                None => expressible = false,
            }
        }
        for (key, value) in &p.resources {
            if let Some(rest) = key.strip_prefix(&bucket_prefix) {
                // `<jurisdiction>_<name>`: bucket names hold no `_`, jurisdictions neither.
                match rest.split_once('_') {
                    Some((_, name)) => {
                        buckets.insert(name.to_string());
                    }
                    None => expressible = false,
                }
            } else if key == &account {
                if let ResourceValue::Map(m) = value
                    && m.contains_key(ALL_BUCKETS)
                {
                    buckets.insert("*".to_string());
                }
            } else {
                expressible = false;
            }
        }
    }
    let access = (accesses.len() == 1).then(|| *accesses.iter().next().unwrap());
    Described {
        access,
        buckets: expressible.then_some(buckets),
    }
}

/// What a declaration must say for `desired_policies` to give back exactly `policies`:
/// access, scope and (for named buckets) jurisdiction; `Err` says in words why no
/// declaration can (for `r2gitops import`). Exact by construction: the candidate is mapped
/// forward again and compared as the diff compares.
pub fn declaration(
    policies: &[Policy],
    account_id: &str,
    groups: &PermissionGroupIds,
) -> Result<(Access, TokenScope, Jurisdiction), String> {
    let [policy] = policies else {
        return Err(format!(
            "{} policies; r2gitops declares one",
            policies.len()
        ));
    };
    if policy.effect != Effect::Allow {
        return Err("a deny policy".into());
    }
    let d = describe(policies, account_id, groups);
    let Some(access) = d.access else {
        return Err(if policy.permission_groups.len() > 1 {
            "several permission groups in one policy".into()
        } else {
            "a permission group other than the four R2 ones (object read, object read-write, admin read, admin read-write)".into()
        });
    };
    let Some(buckets) = d.buckets else {
        return Err(
            "permission groups or resources other than R2's (another service, zone or account)"
                .into(),
        );
    };
    let bucket_prefix = format!("{BUCKET_KEY}{account_id}_");
    let jurisdictions: BTreeSet<Option<Jurisdiction>> = policy
        .resources
        .keys()
        .filter_map(|k| k.strip_prefix(&bucket_prefix))
        .map(|rest| {
            rest.split_once('_')
                .and_then(|(j, _)| Jurisdiction::parse(j))
        })
        .collect();
    let (scope, jurisdiction) = match (access, buckets.contains("*"), jurisdictions.len()) {
        (Access::AdminRead | Access::AdminReadWrite, _, _) => {
            (TokenScope::Account, Jurisdiction::Default)
        }
        (_, true, _) => (TokenScope::AllBuckets, Jurisdiction::Default),
        (_, false, 0) => return Err("object access without any bucket".into()),
        (_, false, 1) => match jurisdictions.into_iter().next().flatten() {
            Some(j) => (TokenScope::Buckets(buckets.into_iter().collect()), j),
            None => return Err("a bucket resource in an unknown jurisdiction".into()),
        },
        _ => return Err("buckets in more than one jurisdiction".into()),
    };
    let candidate = TokenSpec {
        name: String::new(),
        owner: crate::config::Owner::Account,
        access,
        scope: scope.clone(),
        jurisdiction,
        not_before: None,
        expires_on: None,
        ip: crate::config::IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        adopt: None,
        output: crate::config::OutputSpec {
            file: std::path::PathBuf::new(),
            format: crate::config::OutputFormat::Env,
            recipients: Vec::new(),
            armor: false,
            include_api_token: false,
            verify: false,
            kubernetes: None,
        },
    };
    let back = desired_policies(&candidate, account_id, groups);
    if back.iter().collect::<BTreeSet<_>>() != policies.iter().collect::<BTreeSet<_>>() {
        return Err(format!(
            "{} on resources in a form r2gitops does not write",
            access.as_str()
        ));
    }
    Ok((access, scope, jurisdiction))
}

/// What a token holding `have` would no longer be allowed once its policies are `want`,
/// in Cloudflare's words: one `loses <permission group> on <where>` per group, for a plan
/// line. A grant is kept when `want` holds it or one that includes it (Item Write includes
/// Item Read; Storage Write includes everything R2; Storage Read includes Item Read; the
/// account includes every bucket, every bucket includes each). Grants in any other form
/// are kept only by the same grant.
pub fn lost(
    have: &[Policy],
    want: &[Policy],
    account_id: &str,
    groups: &PermissionGroupIds,
) -> Vec<String> {
    let want = grants(want, account_id, groups);
    let mut by_group: BTreeMap<Level, Vec<String>> = BTreeMap::new();
    for h in grants(have, account_id, groups) {
        if !want.iter().any(|w| w.covers(&h)) {
            let places = by_group.entry(h.level.clone()).or_default();
            let place = h.scope.words();
            if !places.contains(&place) {
                places.push(place);
            }
        }
    }
    by_group
        .into_iter()
        .map(|(level, places)| format!("loses {} on {}", level.words(), places.join(", ")))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    AdminWrite,
    AdminRead,
    ItemWrite,
    ItemRead,
    Other(String),
}

impl Level {
    fn includes(&self, other: &Level) -> bool {
        use Level::*;
        match (self, other) {
            (AdminWrite, AdminWrite | AdminRead | ItemWrite | ItemRead) => true,
            (AdminRead, AdminRead | ItemRead) | (ItemWrite, ItemWrite | ItemRead) => true,
            (a, b) => a == b,
        }
    }

    fn words(&self) -> String {
        match self {
            Level::AdminWrite => crate::observed::GROUP_ADMIN_WRITE.into(),
            Level::AdminRead => crate::observed::GROUP_ADMIN_READ.into(),
            Level::ItemWrite => crate::observed::GROUP_OBJECT_WRITE.into(),
            Level::ItemRead => crate::observed::GROUP_OBJECT_READ.into(),
            Level::Other(id) => format!("permission group {id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    Account,
    EveryBucket,
    Bucket(String),
    /// A resource in a form r2gitops does not write: the key and its value, as JSON.
    Other(String, String),
}

impl Scope {
    fn includes(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Account, Scope::Account | Scope::EveryBucket | Scope::Bucket(_)) => true,
            (Scope::EveryBucket, Scope::EveryBucket | Scope::Bucket(_)) => true,
            (a, b) => a == b,
        }
    }

    fn words(&self) -> String {
        match self {
            Scope::Account => "the account".into(),
            Scope::EveryBucket => "every bucket".into(),
            Scope::Bucket(b) => format!("bucket {b}"),
            Scope::Other(key, _) => key.clone(),
        }
    }
}

#[derive(Debug)]
struct Grant {
    level: Level,
    scope: Scope,
}

impl Grant {
    fn covers(&self, h: &Grant) -> bool {
        let exotic =
            |g: &Grant| matches!(g.level, Level::Other(_)) || matches!(g.scope, Scope::Other(..));
        if exotic(h) || exotic(self) {
            return self.level == h.level && self.scope == h.scope;
        }
        self.level.includes(&h.level) && self.scope.includes(&h.scope)
    }
}

/// Every (group, resource) an allow policy grants; deny policies grant nothing.
fn grants(policies: &[Policy], account_id: &str, groups: &PermissionGroupIds) -> Vec<Grant> {
    let levels: BTreeMap<String, Level> = [
        (&groups.admin_write, Level::AdminWrite),
        (&groups.admin_read, Level::AdminRead),
        (&groups.object_write, Level::ItemWrite),
        (&groups.object_read, Level::ItemRead),
    ]
    .into_iter()
    .map(|(id, l)| (id.to_ascii_lowercase(), l))
    .collect();
    let account = format!("{ACCOUNT_KEY}{account_id}");
    let bucket_prefix = format!("{BUCKET_KEY}{account_id}_");
    let scope = |key: &String, value: &ResourceValue| {
        let star = matches!(value, ResourceValue::Str(v) if v == "*");
        if key == &account && star {
            return Scope::Account;
        }
        if let ResourceValue::Map(m) = value
            && key == &account
            && m.len() == 1
            && m.get(ALL_BUCKETS).is_some_and(|v| v == "*")
        {
            return Scope::EveryBucket;
        }
        match key
            .strip_prefix(&bucket_prefix)
            .and_then(|r| r.split_once('_'))
        {
            Some((j, name)) if star => Scope::Bucket(match j {
                "default" => name.to_string(),
                _ => format!("{name} ({j})"),
            }),
            _ => Scope::Other(
                key.clone(),
                match value {
                    ResourceValue::Str(v) => serde_json::json!(v),
                    ResourceValue::Map(m) => serde_json::json!(m),
                }
                .to_string(),
            ),
        }
    };
    let mut out = Vec::new();
    for p in policies.iter().filter(|p| p.effect == Effect::Allow) {
        for g in &p.permission_groups {
            let level = levels
                .get(&g.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| Level::Other(g.clone()));
            for (key, value) in &p.resources {
                out.push(Grant {
                    level: level.clone(),
                    scope: scope(key, value),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
