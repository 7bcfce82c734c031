//! The operator's policy as a property: for generated files and policies, validation under
//! a policy is never more permissive than without one (a file it passes passes without
//! it, and what it refuses beyond the rules is the policy's), and a file that passes plans,
//! against an empty account, only the access levels, recipients, bucket names and zones
//! the policy allows. The loader, the policy and the diff are the real ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;
use r2gitops::config::policy::{Enforced, Policy, glob};
use r2gitops::config::validate::Facts;
use r2gitops::config::{Access, Desired, Jurisdiction, Owner, TokenScope, ZoneRef};
use r2gitops::observed::custom_domain::{Zone, ZoneKind, ZoneLookup};
use r2gitops::observed::{Observed, PermissionGroupIds};
use r2gitops::plan::diff::Input;
use r2gitops::plan::{DomainWrite, Step};

const ACCT: &str = "0123456789abcdef0123456789abcdef";
const BUCKETS: [&str; 4] = [
    "team-a-media",
    "team-a-logs",
    "team-b-media",
    "shared-assets",
];
const GLOBS: [&str; 4] = ["team-a-*", "shared-*", "*", "team-?-media"];
const ZONES: [&str; 2] = ["example.com", "other.org"];
const ACCESS: [Access; 4] = [
    Access::ObjectRead,
    Access::ObjectReadWrite,
    Access::AdminRead,
    Access::AdminReadWrite,
];
// Real age recipients (the examples' and the unit tests'); private halves discarded.
const RECIPIENTS: [&str; 3] = [
    "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w",
    "age1ea6ha4cng0drxeunfdc2h0vrpzxcgdndq24a6v8c9ynurn2ym5rs96qllw",
    "age153n36pqq2qqrhn70mv5n3fskekmwvf7plkq6a05qvaa8uqsmw96qdg3kxw",
];

/// A token: its access, its buckets (indices; `None`: every bucket) and its own
/// recipients (`None`: the defaults).
type Token = (usize, Option<BTreeSet<usize>>, Option<BTreeSet<usize>>);

/// A generated file: buckets (index, public_dev_url, custom domain zone), tokens
/// (access, buckets by index or every bucket, own recipients), default recipients.
#[derive(Debug, Clone)]
struct File {
    buckets: BTreeMap<usize, (Option<bool>, Option<usize>)>,
    tokens: Vec<Token>,
    recipients: BTreeSet<usize>,
}

/// A generated policy: each key absent or a subset of the pool.
#[derive(Debug, Clone)]
struct Bounds {
    access: Option<BTreeSet<usize>>,
    names: Option<BTreeSet<usize>>,
    recipients: Option<BTreeSet<usize>>,
    zones: Option<BTreeSet<usize>>,
    no_public_dev_url: bool,
}

fn subset(n: usize, min: usize) -> impl Strategy<Value = BTreeSet<usize>> {
    prop::collection::btree_set(0..n, min..=n)
}

fn file() -> impl Strategy<Value = File> {
    (
        prop::collection::btree_map(
            0..BUCKETS.len(),
            (
                prop::option::of(any::<bool>()),
                prop::option::of(0..ZONES.len()),
            ),
            0..=BUCKETS.len(),
        ),
        prop::collection::vec(
            (
                0..ACCESS.len(),
                prop::option::of(subset(BUCKETS.len(), 1)),
                prop::option::of(subset(RECIPIENTS.len(), 1)),
            ),
            0..4,
        ),
        subset(RECIPIENTS.len(), 1),
    )
        .prop_map(|(buckets, tokens, recipients)| File {
            buckets,
            tokens,
            recipients,
        })
}

fn bounds() -> impl Strategy<Value = Bounds> {
    (
        prop::option::of(subset(ACCESS.len(), 0)),
        prop::option::of(subset(GLOBS.len(), 0)),
        prop::option::of(subset(RECIPIENTS.len(), 0)),
        prop::option::of(subset(ZONES.len(), 0)),
        any::<bool>(),
    )
        .prop_map(
            |(access, names, recipients, zones, no_public_dev_url)| Bounds {
                access,
                names,
                recipients,
                zones,
                no_public_dev_url,
            },
        )
}

fn quoted(pool: &[&str], set: &BTreeSet<usize>) -> String {
    let items: Vec<String> = set.iter().map(|i| format!("\"{}\"", pool[*i])).collect();
    format!("[{}]", items.join(", "))
}

impl File {
    fn yaml(&self) -> String {
        let mut y = format!(
            "version: 1\nsettings:\n  recipients: {}\n",
            quoted(&RECIPIENTS, &self.recipients)
        );
        y.push_str(if self.buckets.is_empty() {
            "buckets: []\n"
        } else {
            "buckets:\n"
        });
        for (i, (public, zone)) in &self.buckets {
            y.push_str(&format!("  - name: {}\n", BUCKETS[*i]));
            if let Some(p) = public {
                y.push_str(&format!("    public_dev_url: {p}\n"));
            }
            if let Some(z) = zone {
                y.push_str(&format!(
                    "    custom_domains:\n      - {{domain: {}.{}, zone: {}}}\n",
                    BUCKETS[*i], ZONES[*z], ZONES[*z]
                ));
            }
        }
        y.push_str(if self.tokens.is_empty() {
            "tokens: []\n"
        } else {
            "tokens:\n"
        });
        for (k, (access, buckets, recipients)) in self.tokens.iter().enumerate() {
            let access = ACCESS[*access];
            y.push_str(&format!(
                "  - name: t{k}\n    access: {}\n",
                access.as_str()
            ));
            if matches!(access, Access::ObjectRead | Access::ObjectReadWrite) {
                // Named buckets must be declared ones; otherwise every bucket.
                let declared: BTreeSet<usize> = buckets
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|b| self.buckets.contains_key(b))
                    .collect();
                if declared.is_empty() {
                    y.push_str("    buckets: [\"*\"]\n");
                } else {
                    y.push_str(&format!("    buckets: {}\n", quoted(&BUCKETS, &declared)));
                }
            }
            match recipients {
                Some(r) => y.push_str(&format!(
                    "    output: {{file: t{k}.env.age, format: env, recipients: {}}}\n",
                    quoted(&RECIPIENTS, r)
                )),
                None => y.push_str(&format!(
                    "    output: {{file: t{k}.env.age, format: env}}\n"
                )),
            }
        }
        y
    }
}

impl Bounds {
    fn yaml(&self) -> String {
        let mut y = String::from("version: 1\n");
        if let Some(a) = &self.access {
            let names: Vec<&str> = a.iter().map(|i| ACCESS[*i].as_str()).collect();
            y.push_str(&format!("tokens:\n  access: [{}]\n", names.join(", ")));
        }
        if let Some(r) = &self.recipients {
            y.push_str(&format!(
                "recipients:\n  allow: {}\n",
                quoted(&RECIPIENTS, r)
            ));
        }
        if self.names.is_some() || self.zones.is_some() || self.no_public_dev_url {
            y.push_str("buckets:\n");
            if let Some(n) = &self.names {
                y.push_str(&format!("  names: {}\n", quoted(&GLOBS, n)));
            }
            if let Some(z) = &self.zones {
                y.push_str(&format!("  custom_domain_zones: {}\n", quoted(&ZONES, z)));
            }
            if self.no_public_dev_url {
                y.push_str("  public_dev_url: false\n");
            }
        }
        y
    }
}

fn load(yaml: &str, policy: Option<&Policy>) -> Result<Desired, r2gitops::config::Diagnostics> {
    let enforced = policy.map(|p| Enforced {
        policy: std::sync::Arc::new(p.clone()),
        interval: std::time::Duration::from_secs(600),
    });
    r2gitops::config::load::load_bytes_under(
        yaml.as_bytes(),
        "r2gitops.yaml",
        Path::new("."),
        enforced.as_ref(),
        &|_| Facts::default(),
    )
}

/// An empty account, every zone of the pool found in it.
fn empty_account() -> Observed {
    Observed {
        account_id: ACCT.into(),
        buckets: Vec::new(),
        listed_jurisdictions: Jurisdiction::ALL.into_iter().collect(),
        tokens: Vec::new(),
        own_token_id: None,
        state_parent_ids: Default::default(),
        listed_owners: [Owner::Account, Owner::User].into_iter().collect(),
        permission_groups: PermissionGroupIds::known(),
        bucket_configs: BTreeMap::new(),
        zones: ZONES
            .iter()
            .enumerate()
            .map(|(i, z)| {
                (
                    ZoneRef::Name(z.to_string()),
                    ZoneLookup::Found(Zone {
                        id: format!("{i:032x}"),
                        name: z.to_string(),
                        account_id: ACCT.into(),
                        kind: ZoneKind::Full,
                    }),
                )
            })
            .collect(),
        queues: None,
    }
}

fn check(f: File, b: Bounds) -> Result<(), TestCaseError> {
    let yaml = f.yaml();
    let policy = r2gitops::config::policy::parse(b.yaml().as_bytes(), "policy.yaml")
        .unwrap_or_else(|d| panic!("{d}\n{}", b.yaml()));
    let without = load(&yaml, None);
    let under = load(&yaml, Some(&policy));
    match (&without, &under) {
        (Err(_), Ok(_)) => {
            return Err(TestCaseError::fail(format!(
                "passes only under the policy:\n{yaml}"
            )));
        }
        (Ok(_), Err(d)) => prop_assert!(d.is_policy(), "{d}"),
        (Err(a), Err(d)) => prop_assert_eq!(a, d, "the rules' problems come first"),
        (Ok(_), Ok(_)) => {}
    }
    let Ok(d) = under else { return Ok(()) };

    let observed = empty_account();
    let plan = r2gitops::plan::diff(&Input {
        desired: &d,
        observed: &observed,
        inventory: &Default::default(),
        outputs: &Default::default(),
        details: &Default::default(),
        now: time::OffsetDateTime::now_utc(),
        skip_outputs: true,
        temporary: &Default::default(),
    });
    let name_ok = |name: &str| {
        b.names
            .as_ref()
            .is_none_or(|n| n.iter().any(|g| glob::matches(GLOBS[*g], name)))
    };
    let allowed_recipients: Option<BTreeSet<&str>> = b
        .recipients
        .as_ref()
        .map(|r| r.iter().map(|i| RECIPIENTS[*i]).collect());
    for step in &plan.steps {
        match step {
            Step::CreateBucket { bucket, .. } => {
                prop_assert!(name_ok(&bucket.name), "bucket {} in\n{yaml}", bucket.name)
            }
            Step::CreateToken {
                token,
                access,
                request,
                ..
            } => {
                if let Some(a) = &b.access {
                    prop_assert!(
                        a.iter().any(|i| ACCESS[*i] == *access),
                        "{token}: {access:?}"
                    );
                }
                let (held, scope, _) = r2gitops::plan::policy::declaration(
                    &request.policies,
                    ACCT,
                    &observed.permission_groups,
                )
                .unwrap();
                prop_assert_eq!(held, *access);
                if b.names.is_some() {
                    let TokenScope::Buckets(names) = &scope else {
                        return Err(TestCaseError::fail(format!(
                            "{token} reaches every bucket under names:\n{yaml}"
                        )));
                    };
                    for n in names {
                        prop_assert!(name_ok(n), "{token} reaches {n}");
                    }
                }
                let spec = d.tokens.iter().find(|t| t.name == *token).unwrap();
                if let Some(allowed) = &allowed_recipients {
                    for r in &spec.output.recipients {
                        prop_assert!(allowed.contains(r.as_str()), "{token} encrypts to {r}");
                    }
                }
            }
            Step::ConfigureDomain { writes, .. } => {
                for w in writes {
                    if let (DomainWrite::Add { zone_id, .. }, Some(z)) = (w, &b.zones) {
                        let i = usize::from_str_radix(zone_id, 16).unwrap();
                        prop_assert!(z.contains(&i), "zone {}", ZONES[i]);
                    }
                }
            }
            Step::ConfigureBucket { public_url, .. } if b.no_public_dev_url => {
                prop_assert!(public_url.is_none(), "r2.dev turned on\n{yaml}");
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_policy_never_loosens_validation_and_a_passing_file_plans_only_what_it_allows(
        f in file(),
        b in bounds(),
    ) {
        check(f, b)?;
    }
}

#[test]
fn the_generators_reach_both_verdicts() {
    // A file the strictest policy refuses, and the permissive one passes.
    let f = File {
        buckets: BTreeMap::from([(2, (Some(true), Some(1)))]),
        tokens: vec![(3, None, None)],
        recipients: BTreeSet::from([1]),
    };
    let strict = Bounds {
        access: Some(BTreeSet::from([0])),
        names: Some(BTreeSet::from([0])),
        recipients: Some(BTreeSet::from([0])),
        zones: Some(BTreeSet::from([0])),
        no_public_dev_url: true,
    };
    let policy = r2gitops::config::policy::parse(strict.yaml().as_bytes(), "policy.yaml").unwrap();
    let refused = load(&f.yaml(), Some(&policy)).unwrap_err();
    // Name, r2.dev, zone, access (twice: the level and the whole account), recipient.
    assert_eq!(refused.len(), 6, "{refused}");
    let permissive = Bounds {
        access: None,
        names: None,
        recipients: None,
        zones: None,
        no_public_dev_url: false,
    };
    let policy =
        r2gitops::config::policy::parse(permissive.yaml().as_bytes(), "policy.yaml").unwrap();
    assert!(load(&f.yaml(), Some(&policy)).is_ok());
    check(f, strict).unwrap();
}
