//! How fast r2gitops converges when Cloudflare's rate limit is the bottleneck, and how fast
//! the daemon follows an edit, against the emulator, with the real binary:
//! 1. 300 buckets and 300 tokens from empty, server limit 120/30 s and 50 ms per call, the
//!    client's `--request-budget 120/30`: wall time, achieved request rate as a fraction of
//!    the budget (goal >= 0.9), 429s (goal 0), failed passes (goal 0);
//! 2. the same with the server's limit below the client's (100/30 against 120/30: another
//!    tool shares the account): the client follows `Ratelimit`/`Retry-After`; goal: it
//!    completes with at most a handful of 429s and no failed pass;
//! 3. edit -> converged in the daemon, median over 20 edits, at 0 and 50 ms per call.
//!
//! Run: `cargo bench --bench converge` (several minutes: the rate limit is the point).
//! `R2GITOPS_BENCH_QUICK=1` shrinks every size for a smoke run. Rows for the table of docs/performance.md
//! are printed as `BENCH|...` lines (`scripts/bench.sh` gathers them).

#[path = "common/table.rs"]
mod table;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use cf_emulator::{Emulator, EmulatorConfig, Faults};

fn quick() -> bool {
    std::env::var_os("R2GITOPS_BENCH_QUICK").is_some()
}

fn recipient() -> String {
    age::x25519::Identity::generate().to_public().to_string()
}

fn file(buckets: usize, tokens: usize, recipient: &str, widened: &[usize]) -> String {
    let mut t = format!("version: 1\nsettings: {{ recipients: [\"{recipient}\"] }}\nbuckets:\n");
    for b in 0..buckets {
        t.push_str(&format!("  - {{ name: cv-{b:04} }}\n"));
    }
    t.push_str("tokens:\n");
    for i in 0..tokens {
        let b = i % buckets;
        let extra = if widened.contains(&i) {
            format!(", cv-{:04}", (b + 1) % buckets)
        } else {
            String::new()
        };
        t.push_str(&format!(
            "  - {{ name: t-{i:04}, access: object-read, buckets: [cv-{b:04}{extra}], output: {{ file: t-{i:04}.env.age, format: env }} }}\n"
        ));
    }
    t
}

fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
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

struct Converged {
    wall: Duration,
    calls: u64,
    limited: u64,
    passes: usize,
    failed: usize,
    converged: bool,
}

/// Passes of `reconcile` until a dry run finds nothing to do (at most 6).
async fn converge(server: (u32, u64), client: &str, size: usize) -> Converged {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r2gitops.yaml");
    write(&path, &file(size, size, &recipient(), &[]));
    emu.set_faults(Faults {
        latency_ms: 50,
        rate_limit: Some((server.0, Duration::from_secs(server.1))),
        ..Faults::default()
    });
    emu.reset_stats();
    let (mut passes, mut failed, mut wall) = (0, 0, Duration::ZERO);
    let (mut calls, mut limited) = (0u64, 0u64);
    let mut converged = false;
    for _ in 0..6 {
        let before = emu.stats().calls.len();
        let start = Instant::now();
        let cmd = r2gitops(
            &emu,
            &path,
            &[
                "reconcile",
                "--request-budget",
                client,
                "--concurrency",
                "4",
            ],
        );
        let status = tokio::task::spawn_blocking(move || {
            let mut cmd = cmd;
            cmd.status().unwrap()
        })
        .await
        .unwrap();
        wall += start.elapsed();
        passes += 1;
        if !status.success() {
            failed += 1;
        }
        // The pass's own calls (not the check's below).
        let pass_calls = emu.stats().calls[before..].to_vec();
        calls += pass_calls.len() as u64;
        limited += pass_calls.iter().filter(|c| c.status == 429).count() as u64;
        let check = r2gitops(
            &emu,
            &path,
            &[
                "reconcile",
                "--dry-run",
                "--detailed-exitcode",
                "--request-budget",
                client,
            ],
        );
        let code = tokio::task::spawn_blocking(move || {
            let mut check = check;
            check.status().unwrap().code()
        })
        .await
        .unwrap();
        if code == Some(0) {
            converged = true;
            break;
        }
    }
    let out = Converged {
        wall,
        calls,
        limited,
        passes,
        failed,
        converged,
    };
    emu.shutdown().await;
    out
}

/// Edit -> the emulator holds the change, for `edits` edits of one token each: median.
async fn edit_to_converged(latency_ms: u64, edits: usize) -> Duration {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r2gitops.yaml");
    let who = recipient();
    let tokens = edits.max(2);
    write(&path, &file(tokens, tokens, &who, &[]));
    let mut cmd = r2gitops(
        &emu,
        &path,
        &[
            "watch",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "10m",
            "--debounce",
            "100ms",
        ],
    );
    let mut child = cmd.spawn().unwrap();
    // The first pass creates everything.
    let deadline = Instant::now() + Duration::from_secs(120);
    while emu.tokens().len() < tokens {
        assert!(
            Instant::now() < deadline,
            "the daemon's first pass never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    emu.set_faults(Faults {
        latency_ms,
        ..Faults::default()
    });
    let mut times = Vec::new();
    let mut widened = Vec::new();
    for i in 0..edits {
        widened.push(i);
        let name = format!("r2gitops:t-{i:04}");
        let start = Instant::now();
        write(&path, &file(tokens, tokens, &who, &widened));
        loop {
            let done = emu
                .tokens()
                .iter()
                .any(|t| t.name == name && t.policies.iter().any(|p| p.2.len() == 2));
            if done {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "edit {i} never converged"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(start.elapsed());
        // Let the pass finish before the next edit (its outputs, its inventory save).
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    emu.shutdown().await;
    times.sort();
    times[times.len() / 2]
}

fn rate(c: &Converged, budget: (u32, u64)) -> f64 {
    (c.calls as f64 / c.wall.as_secs_f64()) / (budget.0 as f64 / budget.1 as f64)
}

fn main() -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let size = if quick() { 30 } else { 300 };
    let edits = if quick() { 5 } else { 20 };
    let cmd = "cargo bench --bench converge";
    let mut ok = true;
    rt.block_on(async {
        let budget = (120, 30);
        let c = converge(budget, "120/30", size).await;
        let r = rate(&c, budget);
        println!(
            "rate-bound convergence, {size} buckets + {size} tokens, server 120/30, client 120/30, 50 ms/call: {:.0} s, {} calls, {:.2} of the budget, {} x 429, {} passes ({} failed), converged: {}",
            c.wall.as_secs_f64(),
            c.calls,
            r,
            c.limited,
            c.passes,
            c.failed,
            c.converged
        );
        let met = r >= 0.9 && c.limited == 0 && c.failed == 0 && c.converged;
        ok &= met;
        table::row(
            &format!("first convergence of {size} buckets + {size} tokens at Cloudflare's pace (server and client 120/30 s, 50 ms per call)"),
            &format!(
                "{:.0} s, {:.2} of the budget, **{} x 429**, {} failed passes",
                c.wall.as_secs_f64(),
                r,
                c.limited,
                c.failed
            ),
            ">= 0.9 of the budget, 0 x 429, 0 failed passes",
            Some(met),
            cmd,
        );

        let c = converge((100, 30), "120/30", size).await;
        println!(
            "rate-bound convergence, server 100/30 below client 120/30: {:.0} s, {} calls, {} x 429, {} passes ({} failed), converged: {}",
            c.wall.as_secs_f64(),
            c.calls,
            c.limited,
            c.passes,
            c.failed,
            c.converged
        );
        let met = c.limited <= 5 && c.failed == 0 && c.converged;
        ok &= met;
        table::row(
            "the same with the server's limit below the client's budget (100/30 against 120/30: another tool shares the account)",
            &format!(
                "{:.0} s, **{} x 429**, {} failed passes",
                c.wall.as_secs_f64(),
                c.limited,
                c.failed
            ),
            "completes; a handful of 429s at most; 0 failed passes",
            Some(met),
            cmd,
        );

        for latency in [0, 50] {
            let median = edit_to_converged(latency, edits).await;
            println!(
                "edit -> converged, daemon, {latency} ms per call: median {} ms over {edits} edits",
                median.as_millis()
            );
            table::row(
                &format!("daemon: file edit -> Cloudflare changed, {latency} ms per call"),
                &format!("median {} ms over {edits} edits", median.as_millis()),
                "-",
                None,
                cmd,
            );
        }
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
