//! `cf-emulator`: serve the emulator until SIGTERM/SIGINT. Once every listener is bound it
//! prints exactly one JSON line on stdout (`api_url`, `s3_urls`, `account_id`,
//! `admin_token`), or with `--print-env` the `export` lines that point r2gitops at it.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use cf_emulator::{Behaviour, ConditionKey, Emulator, EmulatorConfig, Faults, ZoneSeed};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "cf-emulator",
    version,
    about = "Cloudflare API v4 (R2 buckets, API tokens) and R2 S3 emulator, for tests and trying r2gitops without an account",
    after_help = "Try r2gitops against it:\n  cf-emulator --listen 127.0.0.1:8787 --s3-port-base 8790 --print-env\n  (paste the four printed export lines into another shell, then)\n  r2gitops reconcile --dry-run -f r2gitops.yaml\n\nBehaviour switches and their sources: tests/emulator/README.md"
)]
struct Args {
    /// Address of the API listener (the S3 listeners bind the same IP).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// First port of the four S3 listeners (default, eu, fedramp, us, in that order);
    /// free ports when not given.
    #[arg(long, value_name = "PORT")]
    s3_port_base: Option<u16>,
    /// Print `export` lines for CLOUDFLARE_API_BASE_URL, CLOUDFLARE_API_TOKEN,
    /// CLOUDFLARE_ACCOUNT_ID and R2GITOPS_S3_ENDPOINTS instead of the JSON line.
    #[arg(long)]
    print_env: bool,
    /// The account id (32 lowercase hex); random when not given.
    #[arg(long)]
    account_id: Option<String>,
    /// The bearer token that may do everything; random when not given.
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
    /// `N/SECONDS`: a second, shorter window, shown as the "burst" item of `Ratelimit`.
    #[arg(long)]
    burst_limit: Option<String>,
    /// Seed of the fault dice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Which key of a token's IP condition is understood on writes: request_ip, request.ip,
    /// both (default) or none. A condition under another key is silently dropped.
    #[arg(long, default_value = "both", value_parser = ConditionKey::parse)]
    condition_key: ConditionKey,
    /// A token PUT that leaves out `condition`, `expires_on` or `not_before` keeps the
    /// stored value instead of clearing it.
    #[arg(long)]
    sticky_token_fields: bool,
    /// Answer the storage-class PATCH with this HTTP status and code 7001 (e.g. 405).
    #[arg(long, value_name = "STATUS")]
    storage_class_patch: Option<u16>,
    /// Bucket names are unique per account: a name taken in another jurisdiction answers
    /// 409 with code 10073.
    #[arg(long)]
    global_bucket_names: bool,
    /// Custom-domain GETs answer degraded, as when Cloudflare's certificate backend is
    /// unreachable: status unknown, no minTLS, zoneName or ciphers.
    #[arg(long)]
    degraded_domains: bool,
    /// For this long after a custom domain's removal, a POST of that hostname answers 409
    /// "Domain already in use".
    #[arg(long, value_name = "MS")]
    domain_release_ms: Option<u64>,
    /// For this long after a bucket's create, its configuration and custom-domain routes
    /// answer 404 / 10006 and its notification routes 404 / 10085.
    #[arg(long, value_name = "MS")]
    post_create_lag_ms: Option<u64>,
    /// The notification configuration GETs name queues by dashed UUIDs (the queue list and
    /// the PUT/DELETE paths keep 32 hex), as the live API does.
    #[arg(long)]
    dashed_queue_ids: bool,
    /// A notification rule PUT without a description is stored with a generated one, as
    /// the live API does.
    #[arg(long)]
    generated_descriptions: bool,
    /// A bucket without notification rules answers 404 / 11015 (a DELETE of a queue without
    /// rules 404 / 11011) instead of an empty list, as the live API does.
    #[arg(long)]
    no_rules_404: bool,
    /// Notification rules of one queue clash when their key ranges overlap, even with
    /// disjoint actions (the stricter rule alchemy reports).
    #[arg(long)]
    overlap_by_keys: bool,
    /// For this long after a token is created or rolled, the S3 side rejects its new
    /// credentials with 403 InvalidAccessKeyId, as R2 does while a token propagates
    /// (e.g. 3s, 500ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    propagation_delay: Option<Duration>,
    /// A zone custom domains may use (repeatable): `example.com` (a full zone of this
    /// account), `cname.example:partial` (a partial, CNAME setup), `theirs.example@<32 hex>`
    /// (another account's zone).
    #[arg(long = "zone", value_name = "NAME[:partial][@ACCOUNT]", value_parser = ZoneSeed::parse)]
    zones: Vec<ZoneSeed>,
    /// A queue notification rules may name (repeatable).
    #[arg(long = "queue", value_name = "NAME")]
    queues: Vec<String>,
}

/// `500ms`, `3s`, `2m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("'{s}': expected a duration such as 500ms, 3s or 2m");
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .ok_or_else(bad)?;
    let n: u64 = n.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(bad()),
    }
}

fn parse_rate(s: &str) -> Result<(u32, Duration), String> {
    let (n, secs) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}': expected N/SECONDS"))?;
    let n = n.parse().map_err(|_| format!("'{s}': bad count"))?;
    let secs: u64 = secs
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("'{s}': bad seconds"))?;
    Ok((n, Duration::from_secs(secs)))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let rate_limit = args
        .rate_limit
        .as_deref()
        .map(parse_rate)
        .transpose()
        .map_err(|e| format!("--rate-limit {e}"))?;
    let burst_limit = args
        .burst_limit
        .as_deref()
        .map(parse_rate)
        .transpose()
        .map_err(|e| format!("--burst-limit {e}"))?;
    let emu = Emulator::start(EmulatorConfig {
        listen: args.listen,
        s3_port_base: args.s3_port_base,
        account_id: args.account_id,
        admin_token: args.admin_token,
        faults: Faults {
            latency_ms: args.latency_ms,
            fail_rate: args.fail_rate,
            rate_limit,
            burst_limit,
            seed: args.seed,
        },
        behaviour: Behaviour {
            condition_key: args.condition_key,
            sticky_token_fields: args.sticky_token_fields,
            storage_class_patch: args.storage_class_patch,
            global_bucket_names: args.global_bucket_names,
            degraded_domains: args.degraded_domains,
            domain_release: args.domain_release_ms.map(Duration::from_millis),
            post_create_lag: args.post_create_lag_ms.map(Duration::from_millis),
            dashed_queue_ids: args.dashed_queue_ids,
            generated_descriptions: args.generated_descriptions,
            no_rules_404: args.no_rules_404,
            overlap_by_keys: args.overlap_by_keys,
            propagation_delay: args.propagation_delay,
        },
        zones: args.zones,
        queues: args.queues,
    })
    .await
    .map_err(|e| format!("cannot listen: {e}"))?;
    let mut out = std::io::stdout().lock();
    if args.print_env {
        write!(out, "{}", emu.env_block()).map_err(|e| e.to_string())?;
    } else {
        writeln!(out, "{}", emu.startup_line()).map_err(|e| e.to_string())?;
    }
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
