//! A no-op pass over a large account: 10,000 buckets over the 4 jurisdictions
//! and 500 managed tokens, all already as declared. Prints the API calls of one `reconcile`
//! against their lower bound (1 verify, one bucket page per 1,000 buckets per jurisdiction,
//! one token page per 50 tokens and 1 permission-group list), its wall time at 50 ms per
//! call, its peak RSS, and the daemon's RSS after 10 passes (goal < 30 MB). Then what a
//! user would otherwise run, on the same emulator: a `wrangler r2 bucket create` loop
//! (timed per bucket) and Terraform's refresh model (one GET per resource plus the lists),
//! as ratios.
//!
//! Run: `cargo bench --bench scale` (a few minutes). `R2GITOPS_BENCH_QUICK=1` shrinks it.

#[path = "common/table.rs"]
mod table;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use cf_emulator::{Emulator, EmulatorConfig, Faults};
use futures::{StreamExt, TryStreamExt};
use r2gitops::cloudflare::{Client, ClientConfig, WriteApi};
use r2gitops::config::{Jurisdiction, Owner, StorageClass};
use r2gitops::secret::TokenValue;

fn quick() -> bool {
    std::env::var_os("R2GITOPS_BENCH_QUICK").is_some()
}

fn bucket(j: Jurisdiction, i: usize) -> String {
    format!("s-{}-{i:05}", j.as_str())
}

fn file(per_j: usize, tokens: usize, recipient: &str) -> String {
    let mut t = format!("version: 1\nsettings: {{ recipients: [\"{recipient}\"] }}\nbuckets:\n");
    for j in Jurisdiction::ALL {
        for i in 0..per_j {
            t.push_str(&format!(
                "  - {{ name: {}, jurisdiction: {} }}\n",
                bucket(j, i),
                j.as_str()
            ));
        }
    }
    t.push_str("tokens:\n");
    for i in 0..tokens {
        t.push_str(&format!(
            "  - {{ name: t-{i:04}, access: object-read, buckets: [{}], output: {{ file: t-{i:04}.env.age, format: env }} }}\n",
            bucket(Jurisdiction::Default, i % per_j)
        ));
    }
    t
}

fn r2gitops(emu: &Emulator, file: &Path, args: &[&str]) -> Command {
    let s3: Vec<String> = emu
        .s3_urls()
        .iter()
        .map(|(j, u)| format!("{j}={u}"))
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_r2gitops"));
    cmd.args(args)
        .arg("-f")
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CLOUDFLARE_API_BASE_URL", emu.api_url())
        .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
        .env("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .env("R2GITOPS_S3_ENDPOINTS", s3.join(","))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

async fn fill(emu: &Emulator, per_j: usize) {
    let mut config = ClientConfig::new(
        emu.api_url(),
        TokenValue::new(emu.admin_token()),
        Owner::Account,
        emu.account_id(),
    );
    config.budget = (1_000_000, Duration::from_secs(300));
    config.concurrency = 32;
    let writer = Client::connect(config).await.unwrap().into_writer();
    let all = Jurisdiction::ALL
        .into_iter()
        .flat_map(|j| (0..per_j).map(move |i| (j, bucket(j, i))));
    futures::stream::iter(all)
        .map(|(j, name)| {
            let writer = &writer;
            async move {
                writer
                    .create_bucket(j, &name, None, StorageClass::Standard)
                    .await
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
}

fn wrangler(emu: &Emulator, args: &[&str]) -> bool {
    let bin =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node_modules/.bin/wrangler");
    Command::new(bin)
        .args(args)
        .env("CLOUDFLARE_API_BASE_URL", emu.api_url())
        .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
        .env("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn main() -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (per_j, tokens) = if quick() { (250, 50) } else { (2_500, 500) };
    let buckets = per_j * 4;
    let cmd = "cargo bench --bench scale";
    let mut ok = true;
    rt.block_on(async {
        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r2gitops.yaml");
        let who = age::x25519::Identity::generate().to_public().to_string();
        std::fs::write(&path, file(per_j, tokens, &who)).unwrap();
        fill(&emu, per_j).await;
        // The first reconcile adopts the buckets and creates the tokens and their files.
        let first = r2gitops(&emu, &path, &["reconcile", "--request-budget", "1000000/300"]);
        let status = tokio::task::spawn_blocking(move || {
            let mut first = first;
            first.status().unwrap()
        })
        .await
        .unwrap();
        assert!(status.success(), "the setup reconcile failed");

        // The no-op pass, at 50 ms per call.
        emu.set_faults(Faults {
            latency_ms: 50,
            ..Faults::default()
        });
        emu.reset_stats();
        let noop = r2gitops(&emu, &path, &["reconcile"]);
        let (status, peak, wall) = tokio::task::spawn_blocking(move || table::run_sampled(noop))
            .await
            .unwrap();
        assert!(status.success());
        let stats = emu.stats();
        let bound = 1 + 4 * per_j.div_ceil(1_000) + tokens.div_ceil(50) + 1;
        let met = stats.total as usize == bound && stats.mutating == 0;
        ok &= met;
        println!(
            "no-op pass over {buckets} buckets (4 jurisdictions) and {tokens} tokens: {} calls (bound {bound}), {} mutating, {:.2} s at 50 ms/call, peak RSS {}",
            stats.total,
            stats.mutating,
            wall.as_secs_f64(),
            table::mb(peak)
        );
        table::row(
            &format!("no-op `reconcile` over {buckets} buckets (4 jurisdictions) and {tokens} tokens, 50 ms per call"),
            &format!(
                "{} calls, {:.1} s, peak RSS {}",
                stats.total,
                wall.as_secs_f64(),
                table::mb(peak)
            ),
            &format!("{bound} calls (the lower bound), 0 mutating"),
            Some(met),
            cmd,
        );

        // The daemon after 10 passes (no latency: the passes are the point, not the wait).
        emu.set_faults(Faults::default());
        let mut watch = r2gitops(
            &emu,
            &path,
            &["watch", "--listen", "127.0.0.1:0", "--interval", "1s"],
        )
        .spawn()
        .unwrap();
        let start = Instant::now();
        let passes_calls = (1 + 4 * per_j.div_ceil(1_000) + tokens.div_ceil(50)) as u64;
        emu.reset_stats();
        while emu.stats().total < 10 * passes_calls {
            assert!(start.elapsed() < Duration::from_secs(300), "the daemon stalls");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let rss = table::vm_hwm_kb(watch.id()).unwrap_or(0);
        let _ = watch.kill();
        let _ = watch.wait();
        let met = rss < 30 * 1024;
        ok &= met;
        println!("daemon after 10 passes: peak RSS {}", table::mb(rss));
        table::row(
            &format!("daemon managing {buckets} buckets and {tokens} tokens, after 10 passes"),
            &format!("peak RSS {}", table::mb(rss)),
            "< 30 MB",
            Some(met),
            cmd,
        );

        // Terraform's refresh model: one GET per resource, plus one list per kind and
        // jurisdiction to find them (a generous lower bound for it).
        let terraform = buckets + tokens + 4 + 1;
        let ours = 1 + 4 * per_j.div_ceil(1_000) + tokens.div_ceil(50) + 1;
        println!("terraform refresh model: {terraform} calls against {ours}");
        table::row(
            &format!("calls to refresh {buckets} buckets and {tokens} tokens: Terraform's model (a GET per resource) against r2gitops"),
            &format!("{terraform} against {ours}: {:.0}x fewer", terraform as f64 / ours as f64),
            "-",
            None,
            cmd,
        );

        // A wrangler loop, per bucket created (node starts for every call).
        let n = if quick() { 3 } else { 10 };
        let start = Instant::now();
        let mut made = 0;
        for i in 0..n {
            if tokio::task::block_in_place(|| {
                wrangler(&emu, &["r2", "bucket", "create", &format!("wr-{i:03}")])
            }) {
                made += 1;
            }
        }
        let per = start.elapsed().as_secs_f64() / n as f64;
        if made == n {
            // r2gitops' own per-bucket cost, measured the same way: one pass creating n.
            let dir2 = tempfile::tempdir().unwrap();
            let path2 = dir2.path().join("r2gitops.yaml");
            let mut y = format!("version: 1\nsettings: {{ recipients: [\"{who}\"] }}\nbuckets:\n");
            for i in 0..100 {
                y.push_str(&format!("  - {{ name: rg-{i:03} }}\n"));
            }
            std::fs::write(&path2, y).unwrap();
            let c = r2gitops(&emu, &path2, &["reconcile"]);
            let start = Instant::now();
            tokio::task::spawn_blocking(move || {
                let mut c = c;
                c.status().unwrap()
            })
            .await
            .unwrap();
            let ours = start.elapsed().as_secs_f64() / 100.0;
            println!(
                "wrangler: {per:.2} s per bucket; r2gitops: {:.3} s per bucket (100 in one pass)",
                ours
            );
            table::row(
                "creating buckets: a `wrangler r2 bucket create` loop against one r2gitops pass (emulator, no latency)",
                &format!(
                    "{per:.2} s against {:.3} s per bucket: {:.0}x faster",
                    ours,
                    per / ours
                ),
                "-",
                None,
                cmd,
            );
        } else {
            println!("wrangler is not installed (bash scripts/setup-test-tools.sh): skipped");
        }
        emu.shutdown().await;
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
