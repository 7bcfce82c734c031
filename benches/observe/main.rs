//! Counts the Cloudflare API calls needed to observe a large account, 2,000 buckets (1,000
//! `default` + 1,000 `eu`) and 400 managed account tokens, and checks them against the
//! lower bound computed here independently: 1 verify + one list page per 1,000 buckets per
//! jurisdiction + one list page per 50 tokens (+1 permission-group list, once per process).
//! A second observation with the same client (the daemon's next pass) must cost the list
//! pages only. `r2gitops import` of the same account must cost one list per
//! jurisdiction and per token family, verify, the permission groups, and one read per
//! bucket and configuration block.
//!
//! Bucket configuration: 500 of the 2,000 buckets declare CORS and lifecycle. A
//! one-shot pass must read exactly those 1,000 sub-resources; the daemon (a pass every
//! `--interval` 10m, `settings.config_resync` 1h, on a simulated clock) must re-read each
//! once an hour, spread over the passes, and stay within 10% of Cloudflare's budget
//! (1,200 calls per 5 minutes) in steady state.
//!
//! Run: `cargo bench --bench observe`. Exits non-zero if a count differs from its bound or
//! the steady state exceeds the goal; the wall times are printed, not asserted.

#[path = "../common/table.rs"]
mod table;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use cf_emulator::{Emulator, EmulatorConfig, Stats};
use futures::{StreamExt, TryStreamExt};
use r2gitops::cloudflare::{Client, ClientConfig, WriteApi};
use r2gitops::config::{IpRules, Jurisdiction, Owner, StorageClass};
use r2gitops::inventory::Inventory;
use r2gitops::observed::bucket_config::{Condition, ConfigValue, CorsRule, LifecycleRule};
use r2gitops::observed::{Effect, Policy, ResourceValue, TokenRequest};
use r2gitops::plan::ConfigWrite;
use r2gitops::secret::TokenValue;

mod config;
mod import;

const BUCKETS_PER_JURISDICTION: usize = 1_000;
const JURISDICTIONS: [Jurisdiction; 2] = [Jurisdiction::Default, Jurisdiction::Eu];
const TOKENS: usize = 400;
/// Cloudflare's page sizes, as the client asks for them.
const BUCKET_PAGE: usize = 1_000;
const TOKEN_PAGE: usize = 50;
/// Bucket Item Read.
const OBJECT_READ_GROUP: &str = "6a018a9f2fc74eb6b293b0c548f38b39";

/// Buckets (the first of each jurisdiction's list) that declare CORS and lifecycle.
const CONFIGURED: usize = 500;
/// Cloudflare's account budget: 1,200 calls per 5 minutes.
const CF_BUDGET_PER_HOUR: u64 = 1_200 * 12;
/// The goal for the daemon's steady state, as a share of that budget.
const STEADY_GOAL: f64 = 0.10;
/// `watch --interval` and `settings.config_resync` defaults.
const INTERVAL: Duration = Duration::from_secs(600);
const GET_CORS: &str = "GET /accounts/:id/r2/buckets/:name/cors";
const GET_LIFECYCLE: &str = "GET /accounts/:id/r2/buckets/:name/lifecycle";

const VERIFY: &str = "GET /accounts/:id/tokens/verify";
const LIST_BUCKETS: &str = "GET /accounts/:id/r2/buckets";
const LIST_TOKENS: &str = "GET /accounts/:id/tokens";
const PERMISSION_GROUPS: &str = "GET /accounts/:id/tokens/permission_groups";
const LIST_USER_TOKENS: &str = "GET /user/tokens";

fn bucket_name(j: Jurisdiction, i: usize) -> String {
    format!("bench-{}-{i:04}", j.as_str())
}

/// Token `t` reads one bucket, alternating between the jurisdictions.
fn token_bucket(t: usize) -> (Jurisdiction, String) {
    let j = JURISDICTIONS[t % JURISDICTIONS.len()];
    (j, bucket_name(j, t / JURISDICTIONS.len()))
}

fn client_config(emu: &Emulator, budget: u32, concurrency: usize) -> ClientConfig {
    ClientConfig {
        api_url: emu.api_url().to_string(),
        api_token: TokenValue::new(emu.admin_token()),
        token_owner: Owner::Account,
        account_id: emu.account_id().to_string(),
        account_source: "the benchmark",
        budget: (budget, Duration::from_secs(300)),
        concurrency,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        max_retries: 3,
    }
}

/// Every bucket and token, created through the real client.
async fn fill(emu: &Emulator) -> Duration {
    let start = Instant::now();
    let writer = Client::connect(client_config(emu, 100_000, 16))
        .await
        .expect("connect the setup client")
        .into_writer();
    let buckets = JURISDICTIONS
        .iter()
        .flat_map(|j| (0..BUCKETS_PER_JURISDICTION).map(move |i| (*j, bucket_name(*j, i))));
    futures::stream::iter(buckets)
        .map(|(j, name)| {
            let writer = &writer;
            async move {
                writer
                    .create_bucket(j, &name, None, StorageClass::Standard)
                    .await
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("create the buckets");
    futures::stream::iter(configured())
        .map(|(j, name)| {
            let writer = &writer;
            async move {
                for write in config_writes() {
                    writer.write_config(j, &name, &write).await?;
                }
                Ok::<_, r2gitops::cloudflare::ApiError>(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("configure the buckets");
    let account = emu.account_id().to_string();
    futures::stream::iter(0..TOKENS)
        .map(|t| {
            let (j, bucket) = token_bucket(t);
            let request = TokenRequest {
                name: format!("r2gitops:reader-{t:03}"),
                policies: vec![Policy {
                    effect: Effect::Allow,
                    permission_groups: [OBJECT_READ_GROUP.to_string()].into(),
                    resources: [(
                        format!(
                            "com.cloudflare.edge.r2.bucket.{account}_{}_{bucket}",
                            j.as_str()
                        ),
                        ResourceValue::Str("*".into()),
                    )]
                    .into(),
                }],
                not_before: None,
                expires_on: None,
                condition: IpRules::default(),
                status: None,
            };
            let writer = &writer;
            async move { writer.create_token(Owner::Account, &request).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("create the tokens");
    start.elapsed()
}

/// The buckets that declare CORS and lifecycle: half from each jurisdiction.
fn configured() -> Vec<(Jurisdiction, String)> {
    JURISDICTIONS
        .iter()
        .flat_map(|j| (0..CONFIGURED / JURISDICTIONS.len()).map(move |i| (*j, bucket_name(*j, i))))
        .collect()
}

/// What those buckets hold, as the file below declares it.
fn config_writes() -> Vec<ConfigWrite> {
    vec![
        ConfigWrite::Put(ConfigValue::Cors(vec![CorsRule::new(
            Some("web".into()),
            ["https://app.example.com"],
            ["GET", "PUT"],
            ["content-type"],
            [],
            Some(3600),
        )])),
        ConfigWrite::Put(ConfigValue::Lifecycle(vec![
            LifecycleRule {
                id: "expire-tmp".into(),
                enabled: true,
                prefix: "tmp/".into(),
                expire: Some(Condition::Age(7 * 86_400)),
                transitions: Default::default(),
                abort_multipart_secs: None,
            },
            LifecycleRule::cloudflare_default(),
        ])),
    ]
}

const CONFIG_YAML: &str = "    cors:
      - {id: web, allowed_origins: [https://app.example.com], allowed_methods: [GET, PUT], allowed_headers: [content-type], max_age: 1h}
    lifecycle:
      - {id: expire-tmp, prefix: tmp/, expire_after: 7d}
      - {id: Default Multipart Abort Rule, abort_multipart_after: 7d}
";

/// The desired-state file that declares all of it (the configuration blocks only with
/// `with_config`).
fn desired_yaml_with(with_config: bool) -> String {
    let configured = configured();
    let mut s = desired_yaml();
    if with_config {
        for (j, name) in configured {
            let decl = format!("  - name: {name}\n    jurisdiction: {}\n", j.as_str());
            s = s.replacen(&decl, &format!("{decl}{CONFIG_YAML}"), 1);
        }
    }
    s
}

/// The desired-state file that declares all of it.
fn desired_yaml() -> String {
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let mut s = format!("version: 1\nsettings:\n  recipients: [\"{recipient}\"]\nbuckets:\n");
    for j in JURISDICTIONS {
        for i in 0..BUCKETS_PER_JURISDICTION {
            writeln!(
                s,
                "  - name: {}\n    jurisdiction: {}",
                bucket_name(j, i),
                j.as_str()
            )
            .unwrap();
        }
    }
    s.push_str("tokens:\n");
    for t in 0..TOKENS {
        writeln!(
            s,
            "  - name: reader-{t:03}\n    access: object-read\n    buckets: [{}]\n    output: {{ file: reader-{t:03}.env.age, format: env }}",
            token_bucket(t).1
        )
        .unwrap();
    }
    s
}

/// One observation's figures against its bound, route by route.
struct Check {
    title: String,
    elapsed: Duration,
    stats: Stats,
    /// (route, lower bound, why), in the order a pass makes the calls.
    bound: Vec<(&'static str, u64, String)>,
    bound_line: String,
}

impl Check {
    fn print(&self) -> Vec<String> {
        let ms = self.elapsed.as_secs_f64() * 1000.0;
        println!("{}: {ms:.1} ms wall", self.title);
        println!("  {:<44} {:>6} {:>6}", "route", "calls", "bound");
        let mut problems = Vec::new();
        // Every route with a bound, then any other route the observation called.
        let rows = self
            .bound
            .iter()
            .map(|(r, b, w)| (*r, *b, w.as_str()))
            .chain(
                self.stats
                    .by_route
                    .keys()
                    .filter(|r| !self.bound.iter().any(|(b, _, _)| b == r))
                    .map(|r| (r.as_str(), 0, "not needed")),
            );
        for (route, bound, why) in rows {
            let calls = self.stats.by_route.get(route).copied().unwrap_or(0);
            let mark = if calls == bound { "" } else { "  <-- MISMATCH" };
            println!("  {route:<44} {calls:>6} {bound:>6}   {why}{mark}");
            if calls != bound {
                problems.push(format!(
                    "{}: {route}: {calls} calls, lower bound {bound} ({why})",
                    self.title
                ));
            }
        }
        let bound_total: u64 = self.bound.iter().map(|(_, b, _)| b).sum();
        println!(
            "  {:<44} {:>6} {:>6}   {}",
            "total", self.stats.total, bound_total, self.bound_line
        );
        println!("  {:<44} {:>6} {:>6}", "mutating", self.stats.mutating, 0);
        table::row(
            &self.title,
            &format!("{} calls ({ms:.0} ms)", self.stats.total),
            &format!("{bound_total}: {}", self.bound_line),
            Some(self.stats.total == bound_total && self.stats.mutating == 0),
            "cargo bench --bench observe",
        );
        if self.stats.total != bound_total {
            problems.push(format!(
                "{}: {} calls in total, lower bound {bound_total}",
                self.title, self.stats.total
            ));
        }
        if self.stats.mutating != 0 {
            problems.push(format!(
                "{}: {} mutating calls during an observation",
                self.title, self.stats.mutating
            ));
        }
        // A bucket without a CORS policy answers its GET with 404 (code 10059): that is the
        // answer "no rules", not a failure.
        let failed = self
            .stats
            .calls
            .iter()
            .filter(|c| c.status >= 300 && !(c.status == 404 && c.route == GET_CORS))
            .count();
        if failed != 0 {
            problems.push(format!("{}: {failed} calls did not succeed", self.title));
        }
        problems
    }
}

fn ceil_div(a: usize, b: usize) -> u64 {
    a.div_ceil(b) as u64
}

async fn run() -> Vec<String> {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("start the emulator");
    let setup = fill(&emu).await;
    let total_buckets = BUCKETS_PER_JURISDICTION * JURISDICTIONS.len();
    println!(
        "observe: {total_buckets} buckets ({}), {TOKENS} account tokens named r2gitops:*; setup through the client in {:.1} s",
        JURISDICTIONS
            .iter()
            .map(|j| format!("{BUCKETS_PER_JURISDICTION} {}", j.as_str()))
            .collect::<Vec<_>>()
            .join(" + "),
        setup.as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("r2gitops.yaml");
    std::fs::write(&path, desired_yaml()).unwrap();
    let desired =
        r2gitops::reconcile::load_desired(&path, None, r2gitops::config::AdoptRolls::Refused)
            .unwrap_or_else(|e| panic!("generated file is invalid:\n{e}"));
    assert_eq!(
        (desired.buckets.len(), desired.tokens.len()),
        (total_buckets, TOKENS)
    );
    let inventory = Inventory::default();

    // The lower bound, from the sizes alone.
    let bucket_pages: u64 = JURISDICTIONS
        .iter()
        .map(|_| ceil_div(BUCKETS_PER_JURISDICTION, BUCKET_PAGE))
        .sum();
    let token_pages = ceil_div(TOKENS, TOKEN_PAGE);
    let list_pages = bucket_pages + token_pages;
    let bucket_why = format!(
        "ceil({BUCKETS_PER_JURISDICTION}/{BUCKET_PAGE}) x {} jurisdictions",
        JURISDICTIONS.len()
    );
    let token_why = format!("ceil({TOKENS}/{TOKEN_PAGE})");

    // 1. A fresh process: connect (verify) and observe.
    emu.reset_stats();
    let start = Instant::now();
    let client = Client::connect(client_config(&emu, 1_000, 4))
        .await
        .expect("connect");
    let observed = r2gitops::observe::observe(&client, client.account_id(), &desired, &inventory)
        .await
        .expect("first observation");
    let first = Check {
        title: "first observation (fresh process: connect + observe)".into(),
        elapsed: start.elapsed(),
        stats: emu.stats(),
        bound: vec![
            (VERIFY, 1, "Client::connect".to_string()),
            (LIST_BUCKETS, bucket_pages, bucket_why.clone()),
            (LIST_TOKENS, token_pages, token_why.clone()),
            (PERMISSION_GROUPS, 1, "once per process".to_string()),
        ],
        bound_line: format!(
            "lower bound: 1 verify + {list_pages} list pages (+1 permission-group list, once per process)"
        ),
    };
    assert_eq!(
        (observed.buckets.len(), observed.tokens.len()),
        (total_buckets, TOKENS),
        "the first observation must see every bucket and every managed token"
    );

    // 2. Steady state: the daemon's next pass with the same client.
    emu.reset_stats();
    let start = Instant::now();
    let observed = r2gitops::observe::observe(&client, client.account_id(), &desired, &inventory)
        .await
        .expect("second observation");
    let second = Check {
        title: "steady state (same client: observe only)".into(),
        elapsed: start.elapsed(),
        stats: emu.stats(),
        bound: vec![
            (LIST_BUCKETS, bucket_pages, bucket_why.clone()),
            (LIST_TOKENS, token_pages, token_why),
        ],
        bound_line: format!("lower bound: {list_pages} list pages"),
    };
    assert_eq!(
        (observed.buckets.len(), observed.tokens.len()),
        (total_buckets, TOKENS),
        "the second observation must see every bucket and every managed token"
    );

    let mut problems = first.print();
    println!();
    problems.extend(second.print());
    println!();
    problems.extend(config::config_case(&emu, dir.path(), &inventory, list_pages).await);
    println!();
    problems.extend(import::import_case(&emu, bucket_pages, token_pages).await);
    emu.shutdown().await;
    problems
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let problems = runtime.block_on(run());
    if problems.is_empty() {
        println!("\nobserve: every count equals its lower bound");
    } else {
        println!("\nobserve: {} discrepancies:", problems.len());
        for p in &problems {
            println!("  {p}");
        }
        panic!(
            "the API calls to observe the account exceed the lower bound:\n{}",
            problems.join("\n")
        );
    }
}
