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
    /// Log line format (on stderr; RUST_LOG filters the lines, info and above when unset).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Colour plans and diagnostics. `auto`: on a terminal, or anywhere with
    /// CLICOLOR_FORCE=1, and never with NO_COLOR set; files, pipes and CI logs stay plain.
    #[arg(long, global = true, value_enum, default_value_t = crate::paint::ColorWhen::Auto)]
    pub color: crate::paint::ColorWhen,
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
    /// Write a desired-state file from a live account (reads only; changes nothing in
    /// Cloudflare): buckets protected, managed tokens as entries, adoptable ones commented.
    Import(ImportArgs),
    /// Take over an existing token with its current value (no downtime): verify the value
    /// belongs to the entry's token (`adopt:`, or its name), write its output, record it.
    Adopt(AdoptArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions(CompletionsArgs),
    /// Print a man page (roff) on stdout: `r2gitops man > r2gitops.1`, and one per command
    /// with `r2gitops man reconcile > r2gitops-reconcile.1`.
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// The command whose page to print; the tool's own page when left out.
    #[arg(value_parser = MAN_PAGES.map(|(name, _)| name))]
    pub command: Option<String>,
}

/// Each command with a man page of its own, and the page's title (`r2gitops man NAME`).
pub const MAN_PAGES: [(&str, &str); 8] = [
    ("validate", "r2gitops-validate"),
    ("schema", "r2gitops-schema"),
    ("reconcile", "r2gitops-reconcile"),
    ("watch", "r2gitops-watch"),
    ("import", "r2gitops-import"),
    ("adopt", "r2gitops-adopt"),
    ("completions", "r2gitops-completions"),
    ("man", "r2gitops-man"),
];

/// Usage errors exit 64 (EX_USAGE, sysexits.h), so that a CI step that accepts 2 ("changes
/// pending" with --detailed-exitcode) never passes a mistyped flag.
pub const EXIT_USAGE: u8 = 64;

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
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
    /// `text`: "ok: ..." on stdout with the file's API cost an hour ("cost: ..."), or the
    /// problems on stderr; `json`: one document on stdout (format_version 1).
    #[arg(long, value_enum, default_value_t = ValidateOutput::Text)]
    pub output: ValidateOutput,
    /// The daemon's `watch --interval`, for the cost line (passes an hour).
    #[arg(long, default_value = "10m", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// The operator's policy: what the desired-state file may declare, in a file the file
/// cannot name or change. Never resolved from the desired-state file.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// The operator's policy (YAML, `version: 1`): every declaration outside it is a
    /// located error, and a file that violates it is refused whole. Kept outside the
    /// repository it judges.
    #[arg(long = "policy", env = "R2GITOPS_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Accept a --policy inside the desired-state file's repository (its committers could
    /// then change it; only for a repository whose own review guards the policy).
    #[arg(long, requires = "policy")]
    pub policy_in_repo: bool,
}

impl PolicyArgs {
    /// Read the policy, if one is given, for the desired-state file `file`.
    pub fn load(
        &self,
        file: &std::path::Path,
    ) -> Result<
        Option<std::sync::Arc<crate::config::policy::Policy>>,
        crate::config::policy::load::PolicyError,
    > {
        let Some(path) = &self.policy else {
            return Ok(None);
        };
        crate::config::policy::load::load(path, Some(file), self.policy_in_repo)
            .map(|p| Some(std::sync::Arc::new(p)))
    }
}

/// Bounds on what a committed file may make the daemon spend: the operator's, on the
/// command line, never the file's. `validate` takes them too, so that CI checks a file
/// against the daemon's own bounds.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// The shortest `ttl` a temporary credential may declare (at least 1m); renewals of
    /// one credential are at least a third of it apart (`ttl - refresh_before`).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_min_temporary_ttl)]
    pub min_temporary_ttl: crate::config::cost::OperatorLimits,
}

impl LimitArgs {
    pub fn operator(&self) -> crate::config::cost::OperatorLimits {
        self.min_temporary_ttl
    }
}

fn parse_min_temporary_ttl(s: &str) -> Result<crate::config::cost::OperatorLimits, String> {
    crate::config::cost::OperatorLimits::parse_min_temporary_ttl(s)
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    crate::config::validate::parse_duration(s.trim())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("'{s}': expected a duration such as 30s, 10m or 1h"))
}

/// How to reach Cloudflare: every command that calls the API (`import` needs only this).
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
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
    /// The Cloudflare account, when the file has no `account_id` (the file's wins).
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID", value_name = "ID")]
    pub account_id: Option<String>,
    /// Which family the API token r2gitops uses belongs to (decides the verify endpoint).
    #[arg(long, value_enum, default_value_t = TokenOwnerArg::Account)]
    pub api_token_owner: TokenOwnerArg,
    /// Client-side request budget, `REQUESTS/SECONDS` (Cloudflare allows 1200/300).
    #[arg(long, default_value = "1000/300")]
    pub request_budget: String,
    /// API calls in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

/// How to reach Cloudflare, and where outputs go; shared by `reconcile`, `watch` and
/// `adopt`. Its connection fields are read through `Deref` (`args.api.api_url`).
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// S3 endpoint override per jurisdiction, `JURISDICTION=URL` (repeatable; also
    /// R2GITOPS_S3_ENDPOINTS as comma-separated pairs).
    #[arg(long = "s3-endpoint", value_name = "JURISDICTION=URL")]
    pub s3_endpoints: Vec<String>,
    /// Overrides `settings.output_dir` (and so the default state file), e.g. a volume
    /// mounted at a path the git checkout does not know.
    #[arg(long, env = "R2GITOPS_OUTPUT_DIR")]
    pub output_dir: Option<PathBuf>,
    /// Adopt tokens named by `adopt:` without their value by rolling them: their existing
    /// S3 keys stop working. Only the operator can allow this (the file cannot).
    #[arg(long)]
    pub allow_adopt_roll: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// With --allow-adopt-roll: the most adopted tokens one pass may roll; a plan that
    /// would roll more is refused.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "allow_adopt_roll"
    )]
    pub max_adopt_rolls: u32,
    #[command(flatten)]
    pub publish: crate::publish::PublishArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl ApiArgs {
    /// What the operator allowed for `adopt:` without a value.
    pub fn adopt_rolls(&self) -> crate::config::AdoptRolls {
        if self.allow_adopt_roll {
            crate::config::AdoptRolls::Allowed {
                max: self.max_adopt_rolls,
            }
        } else {
            crate::config::AdoptRolls::Refused
        }
    }
}

impl std::ops::Deref for ApiArgs {
    type Target = ConnectArgs;
    fn deref(&self) -> &ConnectArgs {
        &self.connect
    }
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
    /// With --dry-run: exit 2 when the file and Cloudflare differ (changes pending, or
    /// something blocked), 0 when they match.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan Cloudflare resources only; ignore output files (for CI machines without them).
    /// Only with --dry-run: an apply that cannot see outputs could not deliver new values.
    #[arg(long)]
    pub skip_outputs: bool,
    /// `text` (terraform-like), `json` (one document, format_version 1) or `markdown` (for
    /// CI job summaries).
    #[arg(long, value_enum, default_value_t = PlanOutput::Text)]
    pub output: PlanOutput,
    /// Apply only if the plan computed now is the one reviewed: its `Plan id:` (plan_id in
    /// JSON). Another plan changes nothing and exits 1.
    #[arg(long, value_name = "ID", value_parser = crate::plan::id::parse)]
    pub expect_plan: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Write the file here instead of stdout (`--output` is a format in the other commands,
    /// so this one is `--out`).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only buckets of this jurisdiction (repeatable; default: every jurisdiction the
    /// account can list).
    #[arg(long, value_name = "J", value_parser = parse_jurisdiction)]
    pub jurisdiction: Vec<crate::config::Jurisdiction>,
    /// Which bucket configuration blocks to import, comma-separated: cors, lifecycle, lock,
    /// public_dev_url, custom_domains, notifications (one read per bucket and block), or
    /// `none`. Default: all of them.
    #[arg(long, value_name = "BLOCKS", value_delimiter = ',', value_parser = parse_block)]
    pub with: Vec<BlockArg>,
    /// Overwrite --out when it exists.
    #[arg(long)]
    pub force: bool,
    /// The ownership marker of managed tokens (written to the file when not the default).
    #[arg(long, default_value = "r2gitops:")]
    pub token_name_prefix: String,
    /// An r2gitops inventory: tokens it records are managed too, under their recorded names.
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<PathBuf>,
    /// Mark buckets and tokens outside this policy as comments with the reason (as
    /// `validate --policy` would refuse them).
    #[arg(long = "policy", env = "R2GITOPS_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    // Only what reaching Cloudflare needs: import writes no output and adopts nothing.
    #[command(flatten)]
    pub api: ConnectArgs,
}

/// One `--with` value: a configuration block, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockArg {
    Kind(crate::observed::bucket_config::ConfigKind),
    None,
}

fn parse_block(s: &str) -> Result<BlockArg, String> {
    use crate::observed::bucket_config::ConfigKind;
    if s == "none" {
        return Ok(BlockArg::None);
    }
    crate::import::blocks::parse_kind(s)
        .map(BlockArg::Kind)
        .ok_or_else(|| {
            format!(
                "'{s}' is not a configuration block; one of {}, or none",
                ConfigKind::ALL.map(|k| k.key()).join(", ")
            )
        })
}

impl ImportArgs {
    /// The blocks to read: all without `--with`, none with `--with none`.
    pub fn blocks(&self) -> Vec<crate::observed::bucket_config::ConfigKind> {
        if self.with.is_empty() {
            return crate::observed::bucket_config::ConfigKind::ALL.to_vec();
        }
        self.with
            .iter()
            .filter_map(|b| match b {
                BlockArg::Kind(k) => Some(*k),
                BlockArg::None => None,
            })
            .collect()
    }
}

fn parse_jurisdiction(s: &str) -> Result<crate::config::Jurisdiction, String> {
    crate::config::Jurisdiction::parse(s).ok_or_else(|| {
        format!(
            "'{s}' is not a jurisdiction; one of {}",
            crate::config::Jurisdiction::ALL
                .map(|j| j.as_str())
                .join(", ")
        )
    })
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("value").required(true).args(["value_from_stdin", "value_file"])))]
pub struct AdoptArgs {
    /// The declared token: its entry's `adopt: <id>`, or (without `adopt:`) the token that
    /// already carries its Cloudflare name, as `import` declares managed tokens.
    pub name: String,
    #[command(flatten)]
    pub file: FileArg,
    /// Read the token's current value from stdin (its one non-empty line).
    #[arg(long)]
    pub value_from_stdin: bool,
    /// Read the token's current value from this file (its one non-empty line).
    #[arg(long, value_name = "PATH")]
    pub value_file: Option<PathBuf>,
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    cli.color.apply();
    if let Command::Reconcile(args) = &cli.command
        && let Err(e) = check_dry_run_flags(args)
    {
        return usage_error(e);
    }
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
        Command::Adopt(args) => crate::adopt::cmd(args),
        Command::Import(args) => crate::import::cmd(args),
        Command::Completions(args) => completions(args.shell),
        Command::Man(args) => man(args),
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

fn completions(shell: CompletionShell) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    // Into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "r2gitops", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(ExitCode::SUCCESS)
}

/// Print a clap error and map it to an exit code: `--help` and `--version` are successes
/// (stdout), anything else is a usage error (stderr, `EXIT_USAGE`).
fn usage_error(e: clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

fn man(args: &ManArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let page = match args.command.as_deref() {
        None => cmd,
        Some(name) => {
            // clap names are static strings: one per documented command.
            let (_, title) = MAN_PAGES
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| format!("no command '{name}'"))?;
            cmd.find_subcommand(name)
                .cloned()
                .ok_or_else(|| format!("no command '{name}'"))?
                .name(title)
        }
    };
    crate::manpage::render(page, args.command.as_deref(), &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// Flags that only mean something in a dry run. Checked here rather than with clap's
/// `requires`, whose usage line lists every argument an environment variable set (it made
/// `--api-url` look required). A usage error like any other.
fn check_dry_run_flags(args: &ReconcileArgs) -> Result<(), clap::Error> {
    use clap::CommandFactory;
    let misuse = if args.dry_run {
        None
    } else if args.detailed_exitcode {
        Some(
            "--detailed-exitcode needs --dry-run: it reports what a plan would change, and an apply has no such exit code",
        )
    } else if args.skip_outputs {
        Some(
            "--skip-outputs needs --dry-run: an apply that cannot see outputs could not deliver new values",
        )
    } else {
        None
    };
    if let Some(message) = misuse {
        let mut cmd = Cli::command();
        cmd.build();
        let sub = cmd
            .find_subcommand_mut("reconcile")
            .expect("reconcile is a subcommand");
        return Err(sub.error(clap::error::ErrorKind::MissingRequiredArgument, message));
    }
    Ok(())
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The choice plans and diagnostics follow (`--color`, NO_COLOR, CLICOLOR_FORCE, a
    // terminal), resolved for stderr after `ColorWhen::apply`.
    let ansi = anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi && format == LogFormat::Text)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
