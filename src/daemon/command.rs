//! `r2gitops watch`: its flags, and the start-up that checks them, binds the listeners
//! and runs the daemon.

use super::*;

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Resync period for drift correction (jittered by +/-10%).
    #[arg(long, default_value = "10m")]
    pub interval: String,
    /// Quiet time after a file change before a pass starts.
    #[arg(long, default_value = "500ms")]
    pub debounce: String,
    /// Address of the health, metrics and status server. `/status` is served here only
    /// when it is a loopback address, or with --status-token-file.
    #[arg(long, default_value = "127.0.0.1:9477")]
    pub listen: String,
    /// A second address, loopback unless --status-token-file is given, that serves
    /// `/status` (and the probes) when --listen faces the network.
    #[arg(long, value_name = "HOST:PORT")]
    pub status_listen: Option<String>,
    /// Require `Authorization: Bearer <token>` for `/status` on every listener; the file
    /// holds the token alone, on one line.
    #[arg(long, value_name = "PATH")]
    pub status_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub state: crate::args::StateArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How errors and warnings name `--status-token-file`.
const STATUS_TOKEN_FILE: &str = "the status token file";

fn parse_listen(flag: &str, value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("--{flag} '{value}': expected HOST:PORT, e.g. 127.0.0.1:9477"))
}

/// Threads for blocking file work (reads, hashes, age files); see `cmd`.
const BLOCKING_THREADS: usize = 1;

pub fn cmd(args: &WatchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let bad = |flag: &str, v: &str| {
        format!("--{flag} '{v}': expected a duration such as 500ms, 30s, 10m or 1h")
    };
    let interval = parse_flag_duration(&args.interval)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| bad("interval", &args.interval))?;
    let debounce =
        parse_flag_duration(&args.debounce).ok_or_else(|| bad("debounce", &args.debounce))?;
    let listen = parse_listen("listen", &args.listen)?;
    let status_listen = args
        .status_listen
        .as_deref()
        .map(|a| parse_listen("status-listen", a))
        .transpose()?;
    let status_token: Option<Arc<[u8; 32]>> = match &args.status_token_file {
        Some(path) => {
            let token = crate::secret::read_token_file(STATUS_TOKEN_FILE, path)?;
            crate::secret::warn_if_exposed(STATUS_TOKEN_FILE, path);
            Some(Arc::new(Sha256::digest(token.expose().as_bytes()).into()))
        }
        None => None,
    };
    if let Some(addr) = status_listen.filter(|a| !a.ip().is_loopback() && status_token.is_none()) {
        return Err(format!(
            "--status-listen {addr}: /status shows token names and ids, bucket names and paths\n  hint: bind it to a loopback address (127.0.0.1:PORT), or require a bearer token with --status-token-file"
        )
        .into());
    }
    let endpoints = S3Endpoints::from_args(
        &args.api.s3_endpoints,
        std::env::var("R2GITOPS_S3_ENDPOINTS").ok().as_deref(),
    )?;
    args.api.preflight()?;
    let state = match args.state.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(_) => {
            // The account for the state's S3 endpoint: the file's, else the flag's.
            let desired = reconcile::load_desired(
                &args.file.file,
                args.api.output_dir.as_deref(),
                crate::config::AdoptRolls::Refused,
            )
            .ok();
            let from_file = desired.and_then(|d| d.account_id);
            let state_api = args
                .state
                .needs_api()
                .then(|| args.api.client_config(from_file.as_deref()))
                .transpose()?;
            let account = from_file
                .or(args.api.connect.account_id.clone())
                .ok_or("--state r2://… needs the account for its S3 endpoint: account_id in the file, --account-id or CLOUDFLARE_ACCOUNT_ID")?;
            args.state.open(&account, &endpoints, state_api, true)?
        }
    };
    // A policy that does not load stops the daemon at start: it never runs unguarded.
    let policy = args.api.policy.load(&args.file.file)?;
    let reload_policy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opts = Options {
        file: args.file.file.clone(),
        interval,
        debounce,
        api: args.api.clone(),
        endpoints,
        state,
        policy,
        reload_policy: reload_policy.clone(),
    };
    // One thread runs the passes and the status server, and one more does the blocking
    // reads and writes: the daemon waits on the network almost all the time, and every
    // thread that allocates costs a malloc arena that keeps what it freed (`cargo bench
    // --bench scale`: peak RSS at 10,000 buckets).
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()?
        .block_on(async {
            let bind = |flag: &'static str, addr: SocketAddr| async move {
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("--{flag}: cannot listen on {addr}: {e}"))
            };
            let mut listeners = Vec::new();
            for (flag, addr) in [("listen", Some(listen)), ("status-listen", status_listen)] {
                let Some(addr) = addr else { continue };
                let socket = bind(flag, addr).await?;
                let status = http::StatusAccess::for_listener(&addr, status_token.as_ref());
                listeners.push(Listener { socket, status });
            }
            let main = &listeners[0];
            let status_on = |l: &Listener| {
                format!(
                    "{} ({})",
                    l.socket
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    l.status.as_str()
                )
            };
            match listeners.get(1) {
                None => tracing::info!(
                    file = %opts.file.display(),
                    listen = %main.socket.local_addr()?,
                    interval = %args.interval,
                    status = %status_on(main),
                    "watching"
                ),
                Some(second) => tracing::info!(
                    file = %opts.file.display(),
                    listen = %main.socket.local_addr()?,
                    status_listen = %second.socket.local_addr()?,
                    interval = %args.interval,
                    status = %format!("{}, {}", status_on(main), status_on(second)),
                    "watching"
                ),
            }
            let shutdown = Shutdown::default();
            let triggers = Arc::new(Triggers::default());
            let (s, t) = (shutdown.clone(), triggers.clone());
            crate::signals::spawn(
                Box::new(move || s.request()),
                Some(Box::new(move || {
                    reload_policy.store(true, std::sync::atomic::Ordering::SeqCst);
                    t.fire("signal")
                })),
            )?;
            run(opts, listeners, shutdown, triggers).await?;
            Ok(ExitCode::SUCCESS)
        })
}
