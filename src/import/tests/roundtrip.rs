//! The import round trip, as a property: for generated account states (buckets
//! in several jurisdictions, with location hints and storage classes, one name sometimes in
//! two jurisdictions; managed and hand-made tokens of every access kind and owner, with and
//! without IP rules and validity windows; tokens no file can express; every configuration
//! block, Cloudflare's defaults and shapes no file can say), `import`, then filling
//! in the recipients, gives a file whose dry run with `--skip-outputs` plans nothing and
//! blocks nothing (what `--detailed-exitcode` exits 0 for). The real lister, renderer,
//! loader, observer and diff run against the in-memory Cloudflare.

use std::collections::{BTreeMap, BTreeSet};

use crate::cloudflare::TokenRequest;
use crate::config::validate::RECIPIENT_PLACEHOLDER;
use crate::config::{
    Access, IpRules, Jurisdiction, LocationHint, OutputFormat, OutputSpec, Owner, StorageClass,
    TokenScope, TokenSpec,
};
use crate::fake::Fake;
use crate::import::render::{Header, file};
use crate::inventory::Inventory;
use crate::observed::bucket_config::{
    Condition, ConfigKind, ConfigValue, CorsRule, LifecycleRule, LockRule, ManagedDomain, Retention,
};
use crate::observed::custom_domain::{CustomDomain, DomainStatus, Zone, ZoneKind};
use crate::observed::notification::{NotificationRule, Queue, QueueRules};
use crate::observed::{PermissionGroupIds, TokenStatus};
use crate::plan::diff::Input;
use crate::plan::policy::desired_policies;
use proptest::prelude::*;
use time::OffsetDateTime;

const ACCT: &str = "0123456789abcdef0123456789abcdef";
const ZONE_ID: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const QUEUE_ID: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const NAMES: [&str; 5] = ["media", "logs", "backups", "archive", "web"];
const PLACES: [Jurisdiction; 3] = [
    Jurisdiction::Default,
    Jurisdiction::Eu,
    Jurisdiction::Fedramp,
];
const ACCESS: [Access; 4] = [
    Access::ObjectRead,
    Access::ObjectReadWrite,
    Access::AdminRead,
    Access::AdminReadWrite,
];

#[derive(Debug, Clone)]
struct Bucket {
    name: usize,
    place: usize,
    location: Option<usize>,
    infrequent: bool,
    /// Which configuration the bucket holds (`configuration`), by index.
    config: Vec<usize>,
}

/// Configuration a bucket may hold, made in the dashboard or by another tool: each config
/// block, Cloudflare's defaults, and shapes the file cannot say (left unmanaged).
fn configuration(i: usize, bucket: &str) -> ConfigValue {
    let day = 86_400;
    match i {
        0 => ConfigValue::Cors(vec![CorsRule::new(
            Some("web".to_string()),
            ["https://app.example.com", "*"],
            ["GET", "HEAD"],
            ["X-Upload"],
            ["ETag"],
            Some(3_600),
        )]),
        1 => ConfigValue::Lifecycle(vec![
            LifecycleRule::cloudflare_default(),
            LifecycleRule {
                id: "expire-tmp".into(),
                enabled: true,
                prefix: "tmp/".into(),
                expire: Some(Condition::Age(30 * day)),
                transitions: [Condition::Age(7 * day)].into(),
                abort_multipart_secs: None,
            },
        ]),
        2 => ConfigValue::Lifecycle(Vec::new()),
        3 => ConfigValue::Lock(vec![
            LockRule {
                id: "keep".into(),
                enabled: true,
                prefix: "audit/".into(),
                retention: Retention::Age(90 * day),
            },
            LockRule {
                id: "legal".into(),
                enabled: false,
                prefix: String::new(),
                retention: Retention::Indefinite,
            },
        ]),
        4 => ConfigValue::PublicDevUrl(ManagedDomain {
            enabled: true,
            domain: Some("pub-0123.r2.dev".into()),
        }),
        5 => ConfigValue::CustomDomains(vec![CustomDomain {
            domain: format!("{bucket}.example.com"),
            zone_id: Some(ZONE_ID.into()),
            zone_name: Some("example.com".into()),
            enabled: true,
            min_tls: Some(crate::config::MinTls::V12),
            status: Some(DomainStatus {
                ownership: "active".into(),
                ssl: "pending".into(),
            }),
        }]),
        6 => ConfigValue::Notifications(vec![QueueRules {
            queue_id: Some(QUEUE_ID.into()),
            queue_name: Some("uploads".into()),
            rules: [
                NotificationRule {
                    actions: ["PutObject", "CopyObject", "CompleteMultipartUpload"]
                        .map(String::from)
                        .into(),
                    prefix: "images/".into(),
                    suffix: ".jpg".into(),
                    description: "thumbnails".into(),
                },
                NotificationRule {
                    actions: ["DeleteObject".to_string()].into(),
                    prefix: String::new(),
                    suffix: String::new(),
                    description: String::new(),
                },
            ]
            .into(),
        }]),
        // Two transitions: no file can say it.
        _ => ConfigValue::Lifecycle(vec![LifecycleRule {
            id: "two-steps".into(),
            enabled: true,
            prefix: String::new(),
            expire: None,
            transitions: [Condition::Age(day), Condition::Age(2 * day)].into(),
            abort_multipart_secs: None,
        }]),
    }
}

#[derive(Debug, Clone)]
enum Oddity {
    None,
    /// Two policies: no file can say that.
    TwoPolicies,
    Disabled,
    Expired,
}

#[derive(Debug, Clone)]
struct Token {
    managed: bool,
    user: bool,
    access: usize,
    /// Buckets by index among those of the chosen jurisdiction; empty = every bucket.
    buckets: Vec<usize>,
    place: usize,
    allow: Option<u8>,
    deny: Option<u8>,
    not_before: bool,
    expires: bool,
    oddity: Oddity,
}

fn bucket() -> impl Strategy<Value = Bucket> {
    (
        0..NAMES.len(),
        0..PLACES.len(),
        proptest::option::of(0..6usize),
        any::<bool>(),
        proptest::collection::vec(0..8usize, 0..3),
    )
        .prop_map(|(name, place, location, infrequent, config)| Bucket {
            name,
            place,
            location,
            infrequent,
            config,
        })
}

fn token() -> impl Strategy<Value = Token> {
    (
        (any::<bool>(), any::<bool>(), 0..4usize),
        (proptest::collection::vec(0..4usize, 0..3), 0..PLACES.len()),
        (
            proptest::option::of(0..255u8),
            proptest::option::of(0..255u8),
            any::<bool>(),
            any::<bool>(),
        ),
        prop_oneof![
            6 => Just(Oddity::None),
            1 => Just(Oddity::TwoPolicies),
            1 => Just(Oddity::Disabled),
            1 => Just(Oddity::Expired),
        ],
    )
        .prop_map(
            |(
                (managed, user, access),
                (buckets, place),
                (allow, deny, not_before, expires),
                oddity,
            )| {
                Token {
                    managed,
                    user,
                    access,
                    buckets,
                    place,
                    allow,
                    deny,
                    not_before,
                    expires,
                    oddity,
                }
            },
        )
}

fn spec(access: Access, scope: TokenScope, j: Jurisdiction) -> TokenSpec {
    TokenSpec {
        name: String::new(),
        owner: Owner::Account,
        access,
        scope,
        jurisdiction: j,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        adopt: None,
        output: OutputSpec {
            file: "x".into(),
            format: OutputFormat::Env,
            recipients: Vec::new(),
            armor: false,
            include_api_token: false,
            verify: false,
            kubernetes: None,
        },
    }
}

/// The account a generated state describes, and how many of its tokens a file can declare
/// as managed entries (managed, active, one policy, every bucket declared: of one name in
/// several jurisdictions, the file declares the first).
fn account(buckets: &[Bucket], tokens: &[Token], now: OffsetDateTime) -> (Fake, usize) {
    let m = Fake::default();
    m.zones.lock().unwrap().push(Zone {
        id: ZONE_ID.into(),
        name: "example.com".into(),
        account_id: ACCT.into(),
        kind: ZoneKind::Full,
    });
    m.queues.lock().unwrap().push(Queue {
        id: QUEUE_ID.into(),
        name: "uploads".into(),
    });
    let mut importable = 0;
    let shadowed = |place: usize, name: &str| {
        buckets
            .iter()
            .any(|b| NAMES[b.name] == name && b.place < place)
    };
    for b in buckets {
        m.put_bucket(
            PLACES[b.place],
            NAMES[b.name],
            if b.infrequent {
                StorageClass::InfrequentAccess
            } else {
                StorageClass::Standard
            },
            b.location.map(|i| LocationHint::ALL[i]),
        );
        for c in &b.config {
            let value = configuration(*c, NAMES[b.name]);
            m.configs.lock().unwrap().insert(
                (PLACES[b.place], NAMES[b.name].to_string(), value.kind()),
                value,
            );
        }
    }
    for (i, t) in tokens.iter().enumerate() {
        let access = ACCESS[t.access];
        let j = PLACES[t.place];
        let here: Vec<String> = buckets
            .iter()
            .filter(|b| b.place == t.place)
            .map(|b| NAMES[b.name].to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let scope = match access {
            Access::AdminRead | Access::AdminReadWrite => TokenScope::Account,
            _ if t.buckets.is_empty() || here.is_empty() => TokenScope::AllBuckets,
            _ => TokenScope::Buckets(
                t.buckets
                    .iter()
                    .map(|k| here[k % here.len()].clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            ),
        };
        if t.managed
            && matches!(t.oddity, Oddity::None)
            && match &scope {
                TokenScope::Buckets(names) => names.iter().all(|n| !shadowed(t.place, n)),
                _ => true,
            }
        {
            importable += 1;
        }
        let mut policies =
            desired_policies(&spec(access, scope, j), ACCT, &PermissionGroupIds::known());
        if matches!(t.oddity, Oddity::TwoPolicies) {
            policies.push(policies[0].clone());
            policies[1].permission_groups = [PermissionGroupIds::known().admin_read.clone()].into();
        }
        let day = time::Duration::days(1);
        let request = TokenRequest {
            name: if t.managed {
                format!("r2gitops:token {i}")
            } else {
                format!("Hand made #{i}")
            },
            policies,
            not_before: t.not_before.then_some(now - day),
            expires_on: match t.oddity {
                Oddity::Expired => Some(now - day),
                _ => t.expires.then_some(now + 30 * day),
            },
            condition: IpRules {
                allow: t
                    .allow
                    .map(|n| vec![format!("10.{n}.0.0/16").parse().unwrap()])
                    .unwrap_or_default(),
                deny: t
                    .deny
                    .map(|n| vec![format!("10.{n}.7.0/24").parse().unwrap()])
                    .unwrap_or_default(),
            },
            status: match t.oddity {
                Oddity::Disabled => Some(TokenStatus::Disabled),
                _ => None,
            },
        };
        let id = m.id();
        let owner = if t.user { Owner::User } else { Owner::Account };
        m.tokens
            .lock()
            .unwrap()
            .insert(id.clone(), m.token(id, &request, owner));
    }
    (m, importable)
}

fn check(buckets: Vec<Bucket>, tokens: Vec<Token>) -> Result<(), TestCaseError> {
    let now = OffsetDateTime::now_utc();
    let (m, importable) = account(&buckets, &tokens, now);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let snap = crate::import::snapshot(
            &m,
            ACCT,
            crate::import::Scope {
                jurisdictions: &Jurisdiction::ALL,
                explicit: false,
                blocks: &ConfigKind::ALL,
                prefix: "r2gitops:",
                recorded: None,
                concurrency: 4,
            },
        )
        .await
        .unwrap();
        let text = file(
            &snap,
            &Header {
                command: "r2gitops import".into(),
                generated_at: now,
            },
        );
        let key = age::x25519::Identity::generate().to_public().to_string();
        let path = dir.path().join("r2gitops.yaml");
        std::fs::write(&path, text.replace(RECIPIENT_PLACEHOLDER, &key)).unwrap();
        let desired = crate::config::load::load(&path)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;

        prop_assert_eq!(desired.tokens.len(), importable, "{}", text);
        let names: BTreeSet<&str> = buckets.iter().map(|b| NAMES[b.name]).collect();
        prop_assert_eq!(desired.buckets.len(), names.len());
        // Every block the file can say is declared exactly; the rest stay unmanaged.
        for ((j, name, kind), value) in m.configs.lock().unwrap().iter() {
            let Some(b) = desired
                .buckets
                .iter()
                .find(|b| b.name == *name && b.jurisdiction == *j)
            else {
                continue;
            };
            let unsayable =
                matches!(value, ConfigValue::Lifecycle(r) if r.iter().any(|r| r.id == "two-steps"));
            let declared = ConfigValue::declared(&b.config, *kind);
            if unsayable || value.matches(&kind.new_bucket()) {
                prop_assert!(declared.is_none(), "{name} {kind:?}\n{text}");
            } else {
                prop_assert!(
                    declared.as_ref().is_some_and(|d| d.matches(value)),
                    "{name} {kind:?}: {declared:?}\n{text}"
                );
            }
        }

        let inventory = Inventory::default();
        let observed = crate::observe::observe(&m, ACCT, &desired, &inventory)
            .await
            .unwrap();
        let plan = crate::plan::diff(&Input {
            desired: &desired,
            observed: &observed,
            inventory: &inventory,
            outputs: &BTreeMap::new(),
            details: &BTreeMap::new(),
            now,
            skip_outputs: true,
            temporary: &Default::default(),
        });
        prop_assert!(
            !plan.differs() && plan.refused.is_none(),
            "the imported file plans\n{}\nfrom\n{}",
            crate::plan::render::text(&plan, "imported"),
            text
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn an_imported_account_plans_nothing(
        buckets in proptest::collection::vec(bucket(), 0..8),
        tokens in proptest::collection::vec(token(), 0..8),
    ) {
        check(buckets, tokens)?;
    }
}
