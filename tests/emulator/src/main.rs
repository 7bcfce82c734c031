//! `cf-emulator`: serve the emulator until SIGTERM/SIGINT. Prints exactly one JSON line on
//! stdout (`api_url`, `s3_urls`, `account_id`, `admin_token`) once every listener is bound.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use cf_emulator::{Emulator, EmulatorConfig, Faults};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "cf-emulator",
    about = "Cloudflare API v4 (R2 buckets, API tokens) and R2 S3 emulator"
)]
struct Args {
    /// Address of the API listener (S3 listeners bind the same IP on free ports).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[arg(long)]
    account_id: Option<String>,
    #[arg(long)]
    admin_token: Option<String>,
    /// Added to every API call.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Probability that an API call answers 500 (code 10001).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// `N/SECONDS`: at most N API calls per window, then 429 (code 971) with Retry-After.
    #[arg(long)]
    rate_limit: Option<String>,
    /// Seed of the fault dice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn parse_rate(s: &str) -> Result<(u32, Duration), String> {
    let (n, secs) = s
        .split_once('/')
        .ok_or_else(|| format!("--rate-limit '{s}': expected N/SECONDS"))?;
    let n = n
        .parse()
        .map_err(|_| format!("--rate-limit '{s}': bad count"))?;
    let secs: u64 = secs
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("--rate-limit '{s}': bad seconds"))?;
    Ok((n, Duration::from_secs(secs)))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let rate_limit = args.rate_limit.as_deref().map(parse_rate).transpose()?;
    let emu = Emulator::start(EmulatorConfig {
        listen: args.listen,
        account_id: args.account_id,
        admin_token: args.admin_token,
        faults: Faults {
            latency_ms: args.latency_ms,
            fail_rate: args.fail_rate,
            rate_limit,
            seed: args.seed,
        },
    })
    .await
    .map_err(|e| format!("cannot listen: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", emu.startup_line()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emu.shutdown().await;
    Ok(())
}
