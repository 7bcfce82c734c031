//! `r2gitops validate` and `r2gitops schema`: offline, no credentials, no network. The
//! file's rules are `config`'s; this module runs them and prints the verdict.
//!
//! `validate --output text` prints `ok: FILE: N buckets, M tokens` (and `, K temporary
//! credentials` when there are some) and a `cost:` line (what the file costs the daemon in
//! API calls an hour, `config::cost`, at `--interval`) on stdout (exit 0), or every
//! diagnostic on stderr (exit 1). `validate --output json` prints one JSON object on stdout in both cases (exit 0 or
//! 1). Its shape is stable (`format_version` 1):
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "file": "r2gitops.yaml",
//!   "valid": false,
//!   "buckets": null,          // counts when valid
//!   "tokens": null,
//!   "diagnostics": [
//!     {"file": "r2gitops.yaml", "line": 12, "column": 5, "path": "tokens[2].buckets[0]",
//!      "message": "unknown bucket 'media-upload'", "hint": "did you mean 'media-uploads'? ..."}
//!   ]
//! }
//! ```
//! `line` and `column` are 1-based, 0 when the problem concerns the whole file; `path` is ""
//! for the document itself; `hint` is null when there is none. At most the first 100
//! diagnostics are listed; when there were more, `"diagnostics_omitted": N` counts the
//! others (the key is absent otherwise). A valid file may also carry `"warnings"` of the
//! same shape (e.g. a declared `expires_on` that has passed): printed as `warning: ...` on
//! stderr in text mode, and never a failure. A valid file also has `"cost"`:
//! `interval_seconds`, `calls_per_hour`, `list_pages_per_hour`, `config_reads_per_hour`,
//! `renewals_per_hour`, `rotations_per_hour`, `config_resync_seconds`,
//! `token_watch_pages_per_hour`, `token_watch_seconds` and `percent_of_cloudflare_limit`.
//! Under `--policy`, a valid file has `"policy"`: `path` and `sha256` of the policy it
//! passed (never its content); its violations are the file's diagnostics, and the problems
//! of a policy that does not parse are diagnostics located in the policy.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::args::{FileArg, LimitArgs};
use crate::config::diagnostic::Diagnostic;

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
    pub policy: crate::args::PolicyArgs,
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(s.trim())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("'{s}': expected a duration such as 30s, 10m or 1h"))
}

/// The `--output json` object (see the module doc).
#[derive(Debug, Serialize)]
pub struct ValidateReport<'a> {
    pub format_version: u32,
    pub file: String,
    pub valid: bool,
    pub buckets: Option<usize>,
    pub tokens: Option<usize>,
    pub diagnostics: &'a [Diagnostic],
    #[serde(skip_serializing_if = "is_zero")]
    pub diagnostics_omitted: usize,
    pub warnings: &'a [Diagnostic],
    /// What the file costs the daemon an hour (`config::cost`); only for a valid file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostReport>,
    /// The policy a valid file passed (`--policy`): where it is and which bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyReport>,
}

/// The `policy` member of `--output json`.
#[derive(Debug, Serialize)]
pub struct PolicyReport {
    pub path: String,
    pub sha256: String,
}

/// The `cost` member of `--output json`.
#[derive(Debug, Serialize)]
pub struct CostReport {
    pub interval_seconds: u64,
    pub calls_per_hour: u64,
    pub list_pages_per_hour: u64,
    pub config_reads_per_hour: u64,
    pub renewals_per_hour: u64,
    pub rotations_per_hour: u64,
    pub config_resync_seconds: u64,
    pub token_watch_pages_per_hour: u64,
    pub token_watch_seconds: u64,
    pub percent_of_cloudflare_limit: f64,
}

impl CostReport {
    fn of(c: &crate::config::cost::Cost) -> CostReport {
        CostReport {
            interval_seconds: c.interval.as_secs(),
            calls_per_hour: c.calls_per_hour().ceil() as u64,
            list_pages_per_hour: c.list_calls_per_hour().ceil() as u64,
            config_reads_per_hour: c.config_calls_per_hour().ceil() as u64,
            renewals_per_hour: c.renewals_per_hour.ceil() as u64,
            rotations_per_hour: c.rotations_per_hour.ceil() as u64,
            config_resync_seconds: c.config_resync.as_secs(),
            token_watch_pages_per_hour: c.token_watch_calls_per_hour().ceil() as u64,
            token_watch_seconds: c.token_watch.as_secs(),
            percent_of_cloudflare_limit: (c.percent_of_limit() * 10.0).round() / 10.0,
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub fn validate(args: &ValidateArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let file = args.file.file.display().to_string();
    // A policy that does not parse is reported as the file's problems are (located in
    // the policy), so that `--output json` stays one document.
    let (policy, result) = match args.policy.load(&args.file.file) {
        Err(crate::config::policy::load::PolicyError::Invalid(diagnostics)) => {
            (None, Err(diagnostics))
        }
        loaded => {
            let policy = loaded?.map(|policy| crate::config::policy::Enforced {
                policy,
                interval: args.interval,
            });
            let result = crate::config::load::load_with_pins(
                &args.file.file,
                None,
                args.limits.operator(),
                &Default::default(),
                policy.as_ref(),
            );
            (policy, result)
        }
    };
    let cost = result
        .as_ref()
        .ok()
        .map(|d| crate::config::cost::estimate(d, args.interval));
    match args.output {
        ValidateOutput::Text => match result {
            Ok(desired) => {
                let mut err = anstream::stderr().lock();
                for w in &desired.warnings {
                    write!(
                        err,
                        "{}",
                        crate::paint::diagnostics(&format!("warning: {w}\n"), true)
                    )?;
                }
                drop(err);
                // Only files that declare some show the count: the common line keeps its form.
                let temporary = match desired.temporary_credentials.len() {
                    0 => String::new(),
                    n => format!(", {n} temporary credentials"),
                };
                println!(
                    "ok: {file}: {} buckets, {} tokens{temporary}",
                    desired.buckets.len(),
                    desired.tokens.len()
                );
                if let Some(cost) = &cost {
                    println!("{}", cost.line());
                }
                if let Some(p) = &policy {
                    println!(
                        "policy: {} (sha256 {}): every declaration is allowed",
                        p.policy.file, p.policy.sha256
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(diagnostics) => {
                let mut err = anstream::stderr().lock();
                writeln!(
                    err,
                    "{}",
                    crate::paint::diagnostics(&diagnostics.to_string(), false)
                )?;
                writeln!(
                    err,
                    "{file}: {} problem{} found",
                    diagnostics.len(),
                    if diagnostics.len() == 1 { "" } else { "s" }
                )?;
                Ok(ExitCode::from(1))
            }
        },
        ValidateOutput::Json => {
            let (report, code) = match &result {
                Ok(desired) => (
                    ValidateReport {
                        format_version: 1,
                        file,
                        valid: true,
                        buckets: Some(desired.buckets.len()),
                        tokens: Some(desired.tokens.len()),
                        diagnostics: &[],
                        diagnostics_omitted: 0,
                        warnings: &desired.warnings,
                        cost: cost.as_ref().map(CostReport::of),
                        policy: policy.as_ref().map(|p| PolicyReport {
                            path: p.policy.file.clone(),
                            sha256: p.policy.sha256.clone(),
                        }),
                    },
                    ExitCode::SUCCESS,
                ),
                Err(diagnostics) => (
                    ValidateReport {
                        format_version: 1,
                        file,
                        valid: false,
                        buckets: None,
                        tokens: None,
                        diagnostics: &diagnostics.0,
                        diagnostics_omitted: diagnostics.omitted(),
                        warnings: &[],
                        cost: None,
                        policy: None,
                    },
                    ExitCode::from(1),
                ),
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(code)
        }
    }
}

pub fn schema() -> Result<ExitCode, Box<dyn std::error::Error>> {
    println!(
        "{}",
        serde_json::to_string_pretty(crate::config::raw::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
