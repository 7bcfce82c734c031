//! Command-line interface: `Cli` and `Command`, logging set-up, and dispatch. Each command
//! lives in the module that owns its logic, with its argument struct (groups several share
//! are in `args`); this file only parses, runs, prints the error chain once and maps the
//! outcome to an exit code.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::adopt::AdoptArgs;
use crate::daemon::WatchArgs;
use crate::import::ImportArgs;
use crate::reconcile::{ReconcileArgs, RotateArgs};
use crate::validate::ValidateArgs;

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
    /// Rotate one token now, with its overlap: a new key is issued, proven and written, and
    /// the old one retired when the overlap ends (at once with --revoke-old).
    Rotate(RotateArgs),
    /// Run as a daemon: reconcile on file changes and on a timer, serve health and metrics.
    Watch(WatchArgs),
    /// Write a desired-state file from a live account (reads only; changes nothing in
    /// Cloudflare): buckets protected, managed tokens as entries, adoptable ones commented.
    Import(ImportArgs),
    /// Take over an existing token with its current value (no downtime): verify the value
    /// belongs to the entry's token (`adopt:`, or its name), write its output, record it.
    Adopt(AdoptArgs),
    /// The inventory: `state show` prints it (it holds no secret), `state migrate --to`
    /// moves it between the local file and R2 (`r2://BUCKET/KEY`) without loss.
    State(crate::state_command::StateCommandArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions(CompletionsArgs),
    /// Print a man page (roff) on stdout: `r2gitops man > r2gitops.1`, and one per command
    /// with `r2gitops man reconcile > r2gitops-reconcile.1`.
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// The command whose page to print; the tool's own page when left out.
    #[arg(value_parser = crate::manpage::MAN_PAGES.map(|(name, _)| name))]
    pub command: Option<String>,
}

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

/// Parse the command line, run, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    cli.color.apply();
    let reconcile_args = match &cli.command {
        Command::Reconcile(args) => Some(args),
        Command::Rotate(args) => Some(&args.reconcile),
        _ => None,
    };
    if let Some(args) = reconcile_args
        && let Err(e) = check_dry_run_flags(args)
    {
        return usage_error(e);
    }
    init_logging(cli.log_format);
    // Before any secret is read: a core file would hold it.
    if let Err(e) = crate::harden::forbid_core_dumps() {
        tracing::warn!(error = %e, "cannot turn core dumps off; a crash could write secrets to disk");
    }
    let outcome = match &cli.command {
        Command::Validate(args) => crate::validate::validate(args),
        Command::Schema => crate::validate::schema(),
        Command::Reconcile(args) => crate::reconcile::cmd(args),
        Command::Rotate(args) => crate::reconcile::rotate_cmd(args),
        Command::Watch(args) => crate::daemon::cmd(args),
        Command::Adopt(args) => crate::adopt::cmd(args),
        Command::Import(args) => crate::import::cmd(args),
        Command::State(args) => crate::state_command::cmd(args),
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
            let (_, title) = crate::manpage::MAN_PAGES
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
