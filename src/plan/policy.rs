//! The Cloudflare policies a declared token stands for (API-NOTES §3.4, §3.5), and the
//! reverse: a description of observed policies in the file's own terms (access, buckets), so
//! that a plan can say `buckets +logs` instead of dumping JSON. Pure.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{IpRules, OutputFormat, OutputSpec, Owner};

    const ACCT: &str = "0123456789abcdef0123456789abcdef";

    fn token(access: Access, scope: TokenScope, j: Jurisdiction) -> TokenSpec {
        TokenSpec {
            name: "t".into(),
            owner: Owner::Account,
            access,
            scope,
            jurisdiction: j,
            not_before: None,
            expires_on: None,
            ip: IpRules::default(),
            rotate_every: None,
            adopt: None,
            output: OutputSpec {
                file: "t.env.age".into(),
                format: OutputFormat::Env,
                recipients: vec!["age1x".into()],
                armor: false,
                include_api_token: false,
                verify: false,
            },
        }
    }

    #[test]
    fn each_scope_maps_to_its_resource_form_and_group() {
        let g = PermissionGroupIds::known();
        let cases = [
            (
                token(
                    Access::ObjectReadWrite,
                    TokenScope::Buckets(vec!["a".into(), "b".into()]),
                    Jurisdiction::Eu,
                ),
                vec![
                    format!("com.cloudflare.edge.r2.bucket.{ACCT}_eu_a"),
                    format!("com.cloudflare.edge.r2.bucket.{ACCT}_eu_b"),
                ],
                g.object_write.clone(),
            ),
            (
                token(
                    Access::ObjectRead,
                    TokenScope::AllBuckets,
                    Jurisdiction::Default,
                ),
                vec![format!("com.cloudflare.api.account.{ACCT}")],
                g.object_read.clone(),
            ),
            (
                token(Access::AdminRead, TokenScope::Account, Jurisdiction::Us),
                vec![format!("com.cloudflare.api.account.{ACCT}")],
                g.admin_read.clone(),
            ),
        ];
        for (t, keys, group) in cases {
            let p = desired_policies(&t, ACCT, &g);
            assert_eq!(p.len(), 1);
            assert_eq!(p[0].resources.keys().cloned().collect::<Vec<_>>(), keys);
            assert_eq!(p[0].permission_groups, BTreeSet::from([group]));
            let d = describe(&p, ACCT, &g);
            assert_eq!(d.access, Some(t.access), "{t:?}");
        }
    }

    #[test]
    fn description_reads_back_buckets_and_flags_foreign_policies() {
        let g = PermissionGroupIds::known();
        let t = token(
            Access::ObjectRead,
            TokenScope::Buckets(vec!["logs".into(), "media-1".into()]),
            Jurisdiction::Default,
        );
        let p = desired_policies(&t, ACCT, &g);
        assert_eq!(
            describe(&p, ACCT, &g).buckets,
            Some(BTreeSet::from(["logs".to_string(), "media-1".to_string()]))
        );
        let all = desired_policies(
            &token(
                Access::ObjectRead,
                TokenScope::AllBuckets,
                Jurisdiction::Default,
            ),
            ACCT,
            &g,
        );
        assert_eq!(
            describe(&all, ACCT, &g).buckets,
            Some(BTreeSet::from(["*".to_string()]))
        );
        let mut foreign = p.clone();
        foreign[0].resources.insert(
            "com.cloudflare.api.account.zone.x".into(),
            ResourceValue::Str("*".into()),
        );
        assert_eq!(describe(&foreign, ACCT, &g).buckets, None);
        let mut two = p.clone();
        two[0].permission_groups.insert(g.object_write.clone());
        assert_eq!(describe(&two, ACCT, &g).access, None);
    }
}
