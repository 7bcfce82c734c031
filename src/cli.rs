//! Command-line interface: clap types, logging set-up, and dispatch. Each command lives in
//! the module that owns its logic; this file only parses, runs, prints the error chain once
//! and maps the outcome to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "r2gitops",
    version,
    about = "Cloudflare R2 buckets and their S3 credentials, managed declaratively from git"
)]
pub struct Cli {
    /// Log line format (filter with RUST_LOG, default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the desired-state file offline (no network, no credentials).
    Validate(ValidateArgs),
    /// Print the JSON Schema of the desired-state file.
    Schema,
    /// Make Cloudflare match the file once (or show the plan with --dry-run).
    Reconcile(ReconcileArgs),
    /// Run as a daemon: reconcile on file changes and on a timer, serve health and metrics.
    Watch(WatchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct FileArg {
    /// The desired-state file.
    #[arg(short = 'f', long = "file", default_value = "r2gitops.yaml")]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateOutput {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub file: FileArg,
    #[arg(long, value_enum, default_value_t = ValidateOutput::Text)]
    pub output: ValidateOutput,
}

/// How to reach Cloudflare; shared by `reconcile` and `watch`.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Cloudflare API base URL.
    #[arg(
        long,
        env = "CLOUDFLARE_API_BASE_URL",
        default_value = "https://api.cloudflare.com/client/v4"
    )]
    pub api_url: String,
    /// Allow an `http://` --api-url to a host that is not loopback (the API token then
    /// travels in clear).
    #[arg(long)]
    pub insecure_http: bool,
    /// Read the API token from this file (its one non-empty line, trimmed) instead of
    /// CLOUDFLARE_API_TOKEN. `watch` re-reads it every pass.
    #[arg(long)]
    pub api_token_file: Option<PathBuf>,
    /// Which family the daemon's own token belongs to (decides the verify endpoint).
    #[arg(long, value_enum, default_value_t = TokenOwnerArg::Account)]
    pub api_token_owner: TokenOwnerArg,
    /// S3 endpoint override per jurisdiction, `JURISDICTION=URL` (repeatable; also
    /// R2GITOPS_S3_ENDPOINTS as comma-separated pairs).
    #[arg(long = "s3-endpoint", value_name = "JURISDICTION=URL")]
    pub s3_endpoints: Vec<String>,
    /// Client-side request budget, `REQUESTS/SECONDS` (Cloudflare allows 1200/300).
    #[arg(long, default_value = "1000/300")]
    pub request_budget: String,
    /// API calls in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Overrides `settings.output_dir` (and so the default state file), e.g. a volume
    /// mounted at a path the git checkout does not know.
    #[arg(long, env = "R2GITOPS_OUTPUT_DIR")]
    pub output_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenOwnerArg {
    Account,
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Show the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: exit 2 when there are pending changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan Cloudflare resources only; ignore output files (for CI machines without them).
    /// Only with --dry-run: an apply that cannot see outputs could not deliver new values.
    #[arg(long, requires = "dry_run")]
    pub skip_outputs: bool,
    #[arg(long, value_enum, default_value_t = PlanOutput::Text)]
    pub output: PlanOutput,
    #[command(flatten)]
    pub api: ApiArgs,
}

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
    pub api: ApiArgs,
}

/// Parse the command line, run, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    // Before any secret is read (issue 12, finding 9).
    if let Err(e) = crate::harden::forbid_core_dumps() {
        tracing::warn!(error = %e, "cannot turn core dumps off; a crash could write secrets to disk");
    }
    let outcome = match &cli.command {
        Command::Validate(args) => crate::config::cmd::validate(args),
        Command::Schema => crate::config::cmd::schema(),
        Command::Reconcile(args) => crate::reconcile::cmd(args),
        Command::Watch(args) => crate::daemon::cmd(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(1)
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
