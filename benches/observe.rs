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

#[path = "common/table.rs"]
mod table;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use cf_emulator::{Emulator, EmulatorConfig, Stats};
use futures::{StreamExt, TryStreamExt};
use r2gitops::cloudflare::{Client, ClientConfig, WriteApi};
use r2gitops::config::{IpRules, Jurisdiction, Owner, StorageClass};
use r2gitops::inventory::Inventory;
use r2gitops::observe::{ConfigCache, Reads};
use r2gitops::observed::bucket_config::ConfigKind;
use r2gitops::observed::bucket_config::{Condition, ConfigValue, CorsRule, LifecycleRule};
use r2gitops::observed::{Effect, Policy, ResourceValue, TokenRequest};
use r2gitops::plan::ConfigWrite;
use r2gitops::secret::TokenValue;

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
    problems.extend(config_case(&emu, dir.path(), &inventory, list_pages).await);
    println!();
    problems.extend(import_case(&emu, bucket_pages, token_pages).await);
    emu.shutdown().await;
    problems
}

/// `r2gitops import` of the whole account, its 500 configured buckets included:
/// every jurisdiction and both token families listed once, then one read per bucket and
/// configuration block (the only way to learn which buckets hold any).
async fn import_case(emu: &Emulator, bucket_pages: u64, token_pages: u64) -> Vec<String> {
    let total_buckets = (BUCKETS_PER_JURISDICTION * JURISDICTIONS.len()) as u64;
    let kinds = ConfigKind::ALL;
    emu.reset_stats();
    let start = Instant::now();
    // The budget is not what is measured here: the calls are counted.
    let client = Client::connect(client_config(emu, 100_000, 8))
        .await
        .expect("connect");
    let snapshot = r2gitops::import::snapshot(
        &client,
        client.account_id(),
        r2gitops::import::Scope {
            jurisdictions: &Jurisdiction::ALL,
            explicit: false,
            blocks: &kinds,
            prefix: "r2gitops:",
            recorded: None,
            concurrency: 8,
        },
    )
    .await
    .expect("import");
    let text = r2gitops::import::render::file(
        &snapshot,
        &r2gitops::import::render::Header {
            command: "r2gitops import".into(),
            generated_at: time::OffsetDateTime::now_utc(),
        },
    );
    let other_jurisdictions = (Jurisdiction::ALL.len() - JURISDICTIONS.len()) as u64;
    let mut bound = vec![
        (VERIFY, 1, "Client::connect".to_string()),
        (
            LIST_BUCKETS,
            bucket_pages + other_jurisdictions,
            format!(
                "the bucket pages + 1 empty page for each of {other_jurisdictions} other jurisdictions"
            ),
        ),
        (
            LIST_TOKENS,
            token_pages,
            format!("ceil({TOKENS}/{TOKEN_PAGE})"),
        ),
        (LIST_USER_TOKENS, 1, "one (empty) page".to_string()),
        (PERMISSION_GROUPS, 1, "once per process".to_string()),
    ];
    for kind in kinds {
        bound.push((
            // The emulator names routes by their pattern; the kind knows its path (leaked:
            // six short names for the life of the benchmark).
            format!("GET /accounts/:id/{}", kind.api_path(":name")).leak(),
            total_buckets,
            format!("one {} read per bucket", kind.key()),
        ));
    }
    let import = Check {
        title: format!(
            "import of {total_buckets} buckets and {TOKENS} tokens with every configuration block (fresh process)"
        ),
        elapsed: start.elapsed(),
        stats: emu.stats(),
        bound,
        bound_line: format!(
            "lower bound: 1 verify + the list pages + 1 permission-group list + {total_buckets} x {} block reads",
            kinds.len()
        ),
    };
    let mut problems = import.print();
    let declared = text.lines().filter(|l| l.starts_with("  - name:")).count();
    let cors = text.lines().filter(|l| *l == "    cors:").count();
    let lifecycle = text.lines().filter(|l| *l == "    lifecycle:").count();
    println!(
        "  wrote {} lines ({} KiB): {declared} entries, {cors} cors and {lifecycle} lifecycle blocks",
        text.lines().count(),
        text.len() / 1024
    );
    if declared != total_buckets as usize + TOKENS || cors != CONFIGURED || lifecycle != CONFIGURED
    {
        problems.push(format!(
            "import: {declared} entries, {cors} cors and {lifecycle} lifecycle blocks; expected {} entries and {CONFIGURED} of each block",
            total_buckets as usize + TOKENS
        ));
    }
    problems
}

/// 500 buckets declare CORS and lifecycle.
async fn config_case(
    emu: &Emulator,
    dir: &std::path::Path,
    inventory: &Inventory,
    list_pages: u64,
) -> Vec<String> {
    let mut problems = Vec::new();
    let path = dir.join("configured.yaml");
    std::fs::write(&path, desired_yaml_with(true)).unwrap();
    let desired =
        r2gitops::reconcile::load_desired(&path, None, r2gitops::config::AdoptRolls::Refused)
            .unwrap_or_else(|e| panic!("generated file is invalid:\n{e}"));
    let declared = desired
        .buckets
        .iter()
        .filter(|b| b.config.manages_any())
        .count();
    assert_eq!(declared, CONFIGURED);
    let reads = 2 * CONFIGURED as u64;
    println!(
        "bucket configuration: {CONFIGURED} of the {} buckets declare cors and lifecycle",
        desired.buckets.len()
    );

    // One-shot reconcile: a fresh process reads everything it manages.
    emu.reset_stats();
    let start = Instant::now();
    // The budget is not what is measured here: the calls are counted.
    let client = Client::connect(client_config(emu, 100_000, 4))
        .await
        .expect("connect");
    let observed = r2gitops::observe::observe(&client, client.account_id(), &desired, inventory)
        .await
        .expect("one-shot observation");
    let stats = emu.stats();
    let one_shot = stats.total;
    println!(
        "  one-shot pass: {one_shot} calls in {:.1} s = 1 verify + {list_pages} list pages + 1 permission-group list + {} cors + {} lifecycle",
        start.elapsed().as_secs_f64(),
        stats.by_route.get(GET_CORS).copied().unwrap_or(0),
        stats.by_route.get(GET_LIFECYCLE).copied().unwrap_or(0),
    );
    let want = 1 + list_pages + 1 + reads;
    if one_shot != want || observed.bucket_configs.len() != CONFIGURED {
        problems.push(format!(
            "one-shot: {one_shot} calls for {} buckets read; expected {want} for {CONFIGURED}",
            observed.bucket_configs.len()
        ));
    }
    let undeclared = stats
        .by_route
        .iter()
        .filter(|(r, _)| r.contains("/:name/") && *r != GET_CORS && *r != GET_LIFECYCLE)
        .count();
    if undeclared > 0 {
        problems.push("one-shot: read a sub-resource the file does not declare".into());
    }
    // The converged plan: what the daemon then sees needs nothing.
    let plan = r2gitops::plan::diff(&r2gitops::plan::diff::Input {
        desired: &desired,
        observed: &observed,
        inventory,
        outputs: &Default::default(),
        details: &Default::default(),
        now: time::OffsetDateTime::now_utc(),
        skip_outputs: true,
        temporary: &Default::default(),
    });
    let config_steps = plan
        .steps
        .iter()
        .filter(|s| matches!(s, r2gitops::plan::Step::ConfigureBucket { .. }))
        .count();
    if config_steps != 0 {
        problems.push(format!(
            "false drift: {config_steps} configuration steps on a converged account"
        ));
    }

    // The daemon: its first pass at t0 reads everything (as above), then a pass every
    // 10 minutes on a simulated clock. Hour 2 is its steady state.
    let t0 = std::time::Instant::now();
    let mut cache = ConfigCache::new(desired.settings.config_resync);
    let mut per_pass = Vec::new();
    for k in 0..=12u32 {
        emu.reset_stats();
        let now = t0 + INTERVAL * k;
        r2gitops::observe::observe_with(
            &client,
            client.account_id(),
            &desired,
            inventory,
            Reads::Cached {
                cache: &mut cache,
                now,
            },
        )
        .await
        .expect("daemon pass");
        let s = emu.stats();
        per_pass.push((
            s.total,
            s.by_route.get(GET_CORS).copied().unwrap_or(0)
                + s.by_route.get(GET_LIFECYCLE).copied().unwrap_or(0),
        ));
    }
    let hour2 = &per_pass[7..=12];
    let steady: u64 = hour2.iter().map(|(t, _)| t).sum();
    let config: u64 = hour2.iter().map(|(_, c)| c).sum();
    let share = steady as f64 / CF_BUDGET_PER_HOUR as f64;
    println!(
        "  daemon, first pass: {} calls ({} configuration reads)",
        per_pass[0].0, per_pass[0].1
    );
    println!(
        "  daemon, configuration reads per 10-minute pass: {:?}",
        per_pass[1..].iter().map(|(_, c)| c).collect::<Vec<_>>()
    );
    println!(
        "  daemon, steady state: {steady} calls per hour ({} list pages + {config} configuration reads) of Cloudflare's {CF_BUDGET_PER_HOUR} = {:.1}% (goal <= {:.0}%)",
        steady - config,
        share * 100.0,
        STEADY_GOAL * 100.0
    );
    if config != reads {
        problems.push(format!(
            "daemon: {config} configuration reads in an hour; each of the {reads} once is expected"
        ));
    }
    if per_pass[1..6].iter().any(|(_, c)| *c != 0) {
        problems.push("daemon: re-read within config_resync of the first read".into());
    }
    let (lo, hi) = hour2
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), (_, c)| (lo.min(*c), hi.max(*c)));
    if hi > lo + 4 {
        problems.push(format!(
            "daemon: re-reads not spread evenly ({lo}..{hi} per pass)"
        ));
    }
    if share > STEADY_GOAL {
        problems.push(format!(
            "daemon: {:.1}% of Cloudflare's budget in steady state, over the {:.0}% goal",
            share * 100.0,
            STEADY_GOAL * 100.0
        ));
    }
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
