//! Rotation with overlap against a roll, at Cloudflare's pace: 100 tokens whose
//! outputs are re-keyed (a recipient added), once with `rotation_overlap: 0` (each a roll and
//! its read-back) and once with the default overlap (each a create, its signed S3 probe,
//! and later its retirement), against the emulator with a server limit of 120/30 s and
//! 50 ms per call and the client's `--request-budget 120/30`. Prints the wall time of each
//! and the ratios; goal: at most 2.5x the API calls of a roll, no 429, no failed pass.
//!
//! Run: `cargo bench --bench rotation` (a few minutes: the rate limit is the point).
//! `R2GITOPS_BENCH_QUICK=1` uses 20 tokens. Rows are printed as `BENCH|...` lines.

#[path = "common/table.rs"]
mod table;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use cf_emulator::{Emulator, EmulatorConfig, Faults};

fn file(tokens: usize, recipients: &[String], overlap: &str) -> String {
    let list: Vec<String> = recipients.iter().map(|r| format!("\"{r}\"")).collect();
    let mut t = format!(
        "version: 1\nsettings: {{ recipients: [{}], rotation_overlap: {overlap} }}\nbuckets:\n  - {{ name: rot }}\ntokens:\n",
        list.join(", ")
    );
    for i in 0..tokens {
        t.push_str(&format!(
            "  - {{ name: t-{i:04}, access: object-read, buckets: [rot], output: {{ file: t-{i:04}.env.age, format: env }} }}\n"
        ));
    }
    t
}

fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// `reconcile` of `file` against `emu`, run to its end off the runtime: whether it passed.
async fn reconcile(emu: &Emulator, file: &Path) -> bool {
    let s3: Vec<String> = emu
        .s3_urls()
        .iter()
        .map(|(j, u)| format!("{j}={u}"))
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_r2gitops"));
    cmd.args([
        "reconcile",
        "--request-budget",
        "120/30",
        "--concurrency",
        "4",
    ])
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
    tokio::task::spawn_blocking(move || cmd.status().unwrap().success())
        .await
        .unwrap()
}

struct Run {
    wall: Duration,
    calls: usize,
    limited: usize,
    failed: usize,
}

/// Re-key `n` tokens' outputs with `overlap`; with an overlap, then retire the old keys (as
/// a later pass does once the overlap ends). Counts the API calls of both.
async fn rekey(n: usize, overlap: &str) -> Run {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r2gitops.yaml");
    let one = age::x25519::Identity::generate().to_public().to_string();
    let two = age::x25519::Identity::generate().to_public().to_string();
    write(&path, &file(n, std::slice::from_ref(&one), overlap));
    assert!(reconcile(&emu, &path).await);
    emu.set_faults(Faults {
        latency_ms: 50,
        rate_limit: Some((120, Duration::from_secs(30))),
        ..Faults::default()
    });
    emu.reset_stats();
    write(&path, &file(n, &[one, two], overlap));
    let mut failed = 0;
    let start = Instant::now();
    if !reconcile(&emu, &path).await {
        failed += 1;
    }
    let wall = start.elapsed();
    if overlap != "0" {
        // The overlap ends: the retirements are part of what a rotation costs.
        let state = dir.path().join("secrets/.r2gitops-state.json");
        let mut inv: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        for r in inv["retiring"].as_array_mut().unwrap() {
            r["retire_at"] = serde_json::json!("2020-01-01T00:00:00Z");
        }
        std::fs::write(&state, serde_json::to_string(&inv).unwrap()).unwrap();
        if !reconcile(&emu, &path).await {
            failed += 1;
        }
        assert_eq!(emu.tokens().len(), n, "one token per name after retirement");
    }
    let stats = emu.stats();
    let out = Run {
        wall,
        calls: stats.calls.len(),
        limited: stats.calls.iter().filter(|c| c.status == 429).count(),
        failed,
    };
    emu.shutdown().await;
    out
}

fn main() -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = if std::env::var_os("R2GITOPS_BENCH_QUICK").is_some() {
        20
    } else {
        100
    };
    let cmd = "cargo bench --bench rotation";
    let ok = rt.block_on(async {
        let roll = rekey(n, "0").await;
        let rotate = rekey(n, "1h").await;
        let wall = rotate.wall.as_secs_f64() / roll.wall.as_secs_f64().max(0.001);
        let calls = rotate.calls as f64 / roll.calls.max(1) as f64;
        println!(
            "{n} tokens re-keyed at 120/30 s, 50 ms per call: roll {:.1} s, {} calls; rotation {:.1} s, {} calls with the retirements; wall x{wall:.2}, calls x{calls:.2}; 429s {} / {}, failed passes {} / {}",
            roll.wall.as_secs_f64(),
            roll.calls,
            rotate.wall.as_secs_f64(),
            rotate.calls,
            roll.limited,
            rotate.limited,
            roll.failed,
            rotate.failed
        );
        let met = calls <= 2.5 && rotate.limited == 0 && rotate.failed == 0 && roll.failed == 0;
        table::row(
            &format!("rotating {n} tokens with overlap against rolling them (server and client 120/30 s, 50 ms per call)"),
            &format!(
                "wall x{wall:.2} ({:.0} s against {:.0} s), **calls x{calls:.2}** ({} against {}), {} x 429",
                rotate.wall.as_secs_f64(),
                roll.wall.as_secs_f64(),
                rotate.calls,
                roll.calls,
                rotate.limited
            ),
            "calls <= 2.5x a roll, no 429",
            Some(met),
            cmd,
        );
        met
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
