//! Plan then apply, as a property: for generated desired states, starting
//! accounts and inventories, applying the plan to an in-memory Cloudflare leaves an account
//! whose next plan has nothing left to do (blocked items aside); no unmanaged or protected
//! resource is ever deleted; never more deletions than `max_deletions`, and a refused plan
//! changes nothing. The observer, the diff and the applier are the real ones; only the HTTP
//! client is replaced, by a stateful fake of the two API traits.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::apply::{Applier, Stop};
use crate::cloudflare::TokenRequest;
use crate::config::{
    Access, BucketConfig, BucketSpec, CorsMethod, CorsRule, Desired, IpRules, Jurisdiction,
    OutputFormat, OutputSpec, Owner, Settings, StorageClass, TokenScope, TokenSpec,
};
use crate::fake::Fake;
use crate::inventory::{BucketRecord, Inventory, TokenRecord};
use crate::plan::diff::Input;
use crate::secrets::{OutputWriter, S3Endpoints};
use proptest::prelude::*;
use time::OffsetDateTime;

const ACCT: &str = "0123456789abcdef0123456789abcdef";
const BUCKETS: [&str; 5] = ["alpha", "bravo", "charlie", "delta", "echo"];
const TOKENS: [&str; 4] = ["t0", "t1", "t2", "t3"];

/// A generated world: the file, the account, the inventory.
#[derive(Debug, Clone)]
struct World {
    /// (bucket index, protect, class)
    declared_buckets: Vec<(usize, bool, bool)>,
    /// (token index, access index, bucket indices among the declared ones)
    declared_tokens: Vec<(usize, usize, Vec<usize>)>,
    prune: bool,
    max_deletions: u32,
    /// Buckets existing in the account (index, infrequent access).
    existing_buckets: Vec<(usize, bool)>,
    /// Inventory records of buckets (index, protect).
    managed_buckets: Vec<(usize, bool)>,
    /// Tokens in the account: (name index, managed prefix?, recorded in the inventory?).
    existing_tokens: Vec<(usize, bool, bool)>,
    /// Two bits per bucket index: CORS unmanaged, cleared (`[]`) or one rule; r2.dev
    /// unmanaged or on (configuration blocks go through the same plan and apply).
    config_bits: u16,
}

/// The configuration blocks bucket `i` declares in world `w`.
fn config(w: &World, i: usize) -> BucketConfig {
    let bits = (w.config_bits >> (3 * i)) & 0b111;
    BucketConfig {
        cors: match bits & 0b11 {
            0 => None,
            1 => Some(Vec::new()),
            _ => Some(vec![CorsRule {
                id: Some("web".into()),
                allowed_origins: vec!["https://example.com".into()],
                allowed_methods: vec![CorsMethod::Get, CorsMethod::Head],
                allowed_headers: vec!["x-upload".into()],
                expose_headers: Vec::new(),
                max_age: None,
            }]),
        },
        public_dev_url: (bits & 0b100 != 0).then_some(true),
        ..BucketConfig::default()
    }
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::btree_map(0..5usize, (any::<bool>(), any::<bool>()), 0..5),
        prop::collection::btree_map(
            0..4usize,
            (0..4usize, prop::collection::vec(0..5usize, 1..3)),
            0..4,
        ),
        any::<bool>(),
        0..5u32,
        prop::collection::btree_map(0..5usize, any::<bool>(), 0..5),
        prop::collection::btree_map(0..5usize, any::<bool>(), 0..5),
        prop::collection::vec((0..6usize, any::<bool>(), any::<bool>()), 0..6),
        any::<u16>(),
    )
        .prop_map(|(db, dt, prune, max, eb, mb, et, config_bits)| World {
            declared_buckets: db.into_iter().map(|(i, (p, c))| (i, p, c)).collect(),
            declared_tokens: dt.into_iter().map(|(i, (a, b))| (i, a, b)).collect(),
            prune,
            max_deletions: max,
            existing_buckets: eb.into_iter().collect(),
            managed_buckets: mb.into_iter().collect(),
            existing_tokens: et,
            config_bits,
        })
}

const ACCESS: [Access; 4] = [
    Access::ObjectRead,
    Access::ObjectReadWrite,
    Access::AdminRead,
    Access::AdminReadWrite,
];

fn desired(w: &World, out: &std::path::Path, recipient: &str) -> Desired {
    let buckets: Vec<BucketSpec> = w
        .declared_buckets
        .iter()
        .map(|(i, protect, ia)| BucketSpec {
            name: BUCKETS[*i].into(),
            jurisdiction: Jurisdiction::Default,
            location_hint: None,
            storage_class: if *ia {
                StorageClass::InfrequentAccess
            } else {
                StorageClass::Standard
            },
            protect: *protect,
            config: config(w, *i),
        })
        .collect();
    let names: Vec<String> = buckets.iter().map(|b| b.name.clone()).collect();
    let tokens = w
        .declared_tokens
        .iter()
        .filter_map(|(i, a, bs)| {
            let access = ACCESS[*a];
            let scope = if access.is_admin() {
                TokenScope::Account
            } else {
                // Only declared buckets may be named; a token naming none is not declared.
                let mut chosen: Vec<String> = bs
                    .iter()
                    .filter_map(|b| names.get(*b % names.len().max(1)).cloned())
                    .collect();
                chosen.sort();
                chosen.dedup();
                if chosen.is_empty() {
                    return None;
                }
                TokenScope::Buckets(chosen)
            };
            Some(TokenSpec {
                name: TOKENS[*i].into(),
                owner: Owner::Account,
                access,
                scope,
                jurisdiction: Jurisdiction::Default,
                not_before: None,
                expires_on: None,
                ip: IpRules::default(),
                rotate_every: None,
                // Rolled in place: the in-memory API has no S3 side to prove a new key against
                // (rotation is covered through the binary: tests/rotation.rs, crash_injection).
                rotation_overlap: std::time::Duration::ZERO,
                adopt: None,
                output: OutputSpec {
                    file: PathBuf::from(format!("{}.env.age", TOKENS[*i])),
                    format: OutputFormat::Env,
                    recipients: vec![recipient.to_string()],
                    armor: false,
                    include_api_token: false,
                    verify: false,
                    kubernetes: None,
                },
            })
        })
        .collect();
    Desired {
        source: PathBuf::from("r2gitops.yaml"),
        account_id: Some(ACCT.into()),
        settings: Settings {
            token_name_prefix: "r2gitops:".into(),
            prune: w.prune,
            max_deletions: w.max_deletions,
            output_dir: out.to_path_buf(),
            state_file: out.join(".r2gitops-state.json"),
            suspend: false,
            recipients_file: None,
            config_resync: std::time::Duration::from_secs(3600),
            publish: None,
            rotation_overlap: None,
            readiness_timeout: std::time::Duration::from_secs(60),
            token_watch: std::time::Duration::from_secs(60),
        },
        buckets,
        tokens,
        temporary_credentials: Vec::new(),
        warnings: Vec::new(),
        adopt_rolls: crate::config::AdoptRolls::Refused,
        rotate_now: Default::default(),
        policy: None,
    }
}

/// The account and the inventory a world starts from.
fn start(w: &World, d: &Desired) -> (Fake, Inventory) {
    let m = Fake::default();
    for (i, ia) in &w.existing_buckets {
        m.put_bucket(
            Jurisdiction::Default,
            BUCKETS[*i],
            if *ia {
                StorageClass::InfrequentAccess
            } else {
                StorageClass::Standard
            },
            None,
        );
    }
    let mut inv = Inventory::default();
    for (i, protect) in &w.managed_buckets {
        inv.buckets.insert(
            (Jurisdiction::Default, BUCKETS[*i].into()),
            BucketRecord::new(*protect),
        );
    }
    for (k, (i, managed, recorded)) in w.existing_tokens.iter().enumerate() {
        // Index 4 and 5 are names nobody declares.
        let base = TOKENS
            .get(*i)
            .copied()
            .unwrap_or(if *i == 4 { "ci" } else { "legacy" });
        let name = if *managed {
            format!("r2gitops:{base}")
        } else {
            base.to_string()
        };
        let id = m.id();
        let request = TokenRequest {
            name,
            policies: Vec::new(),
            not_before: None,
            expires_on: None,
            condition: IpRules::default(),
            status: None,
        };
        m.tokens
            .lock()
            .unwrap()
            .insert(id.clone(), m.token(id.clone(), &request, Owner::Account));
        if *recorded {
            inv.tokens.insert(
                format!("{base}-{k}"),
                TokenRecord {
                    id,
                    owner: Owner::Account,
                    created_at: OffsetDateTime::now_utc(),
                    rolled_at: None,
                    modified_on: None,
                    output: None,
                    unheld: false,
                },
            );
        }
    }
    let _ = d;
    (m, inv)
}

async fn plan(m: &Fake, d: &Desired, inv: &Inventory) -> crate::plan::Plan {
    let observed = crate::observe::observe(m, ACCT, d, inv).await.unwrap();
    let outputs = crate::reconcile::output_facts(d);
    let writer = OutputWriter::new(&d.settings.output_dir, ACCT, S3Endpoints::default());
    let details = d
        .tokens
        .iter()
        .map(|t| (t.name.clone(), writer.details(t)))
        .collect();
    crate::plan::diff(&Input {
        desired: d,
        observed: &observed,
        inventory: inv,
        outputs: &outputs,
        details: &details,
        now: OffsetDateTime::now_utc(),
        skip_outputs: false,
        temporary: &Default::default(),
    })
}

fn check(w: World) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("secrets");
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let d = desired(&w, &out, &recipient);
    let (m, inv) = start(&w, &d);
    // What r2gitops may ever delete: buckets the inventory manages without protect, and
    // tokens carrying the prefix or an id the inventory records.
    let deletable_buckets: BTreeSet<String> = inv
        .buckets
        .iter()
        .filter(|(_, r)| !r.protect)
        .map(|((_, n), _)| n.clone())
        .collect();
    let recorded_ids: BTreeSet<String> = inv.tokens.values().map(|t| t.id.clone()).collect();
    let before_buckets = m.buckets.lock().unwrap().clone();
    let before_tokens = m.tokens.lock().unwrap().clone();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let first = plan(&m, &d, &inv).await;
        let writer = OutputWriter::new(&out, ACCT, S3Endpoints::default());
        let (report, inv2) = Applier {
            api: &m,
            desired: &d,
            writer: &writer,
            concurrency: 2,
            stop: &Stop::new(),
            progress: None,
        }
        .apply(&first, inv.clone())
        .await;

        let deleted_b = m.deleted_buckets.lock().unwrap().clone();
        let deleted_t = m.deleted_tokens.lock().unwrap().clone();
        prop_assert!(
            deleted_b.len() + deleted_t.len() <= w.max_deletions as usize,
            "{} deletions > max {}",
            deleted_b.len() + deleted_t.len(),
            w.max_deletions
        );
        for b in &deleted_b {
            prop_assert!(
                deletable_buckets.contains(b),
                "deleted {b}, not ours to delete"
            );
            prop_assert!(
                !d.buckets.iter().any(|x| &x.name == b),
                "deleted the declared bucket {b}"
            );
        }
        for t in &deleted_t {
            prop_assert!(
                t.name.starts_with("r2gitops:") || recorded_ids.contains(&t.id),
                "deleted the unmanaged token {}",
                t.name
            );
        }
        if let Some(reason) = &first.refused {
            prop_assert_eq!(&*m.buckets.lock().unwrap(), &before_buckets, "{}", reason);
            prop_assert_eq!(&*m.tokens.lock().unwrap(), &before_tokens);
            return Ok(());
        }
        prop_assert!(!report.has_errors(), "{}", report.text());

        let next = plan(&m, &d, &inv2).await;
        let lines: Vec<String> = next
            .steps
            .iter()
            .map(crate::plan::render::step_line)
            .collect();
        prop_assert!(
            next.steps.is_empty(),
            "after applying\n{:?}\nthe next plan still has\n{lines:?}",
            first
                .steps
                .iter()
                .map(crate::plan::render::step_line)
                .collect::<Vec<_>>()
        );

        // An edit after convergence (IP rules on every token) is an update in place, and
        // then nothing again: our own write is never taken for a change made elsewhere.
        let mut edited = d.clone();
        for t in &mut edited.tokens {
            t.ip.allow = vec!["192.0.2.0/24".parse().unwrap()];
        }
        let update = plan(&m, &edited, &inv2).await;
        let (report, inv3) = Applier {
            api: &m,
            desired: &edited,
            writer: &writer,
            concurrency: 2,
            stop: &Stop::new(),
            progress: None,
        }
        .apply(&update, inv2.clone())
        .await;
        prop_assert!(!report.has_errors(), "{}", report.text());
        let after = plan(&m, &edited, &inv3).await;
        prop_assert!(
            after.steps.is_empty(),
            "after the edit the next plan still has {:?}",
            after
                .steps
                .iter()
                .map(crate::plan::render::step_line)
                .collect::<Vec<_>>()
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn applying_a_plan_leaves_nothing_to_do_and_deletes_only_what_is_ours(w in world()) {
        check(w)?;
    }
}
