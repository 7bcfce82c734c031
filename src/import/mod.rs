//! `r2gitops import`: a live account as a complete, valid desired-state file. It only
//! reads (lists per jurisdiction and per token family, permission groups once): it never
//! changes anything in Cloudflare, and it writes one file (or stdout).
//!
//! - `Snapshot`: what was read (I/O, here).
//! - `sort`: which tokens and buckets the file declares, and under which names (pure).
//! - `render`: the file (pure), with the round-trip guarantee: filled-in recipients aside,
//!   `reconcile --dry-run --skip-outputs --detailed-exitcode` on it exits 0.

pub mod blocks;
pub mod render;
pub mod sort;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use time::OffsetDateTime;

use clap::Args;

use crate::args::ConnectArgs;
use crate::cloudflare::{ApiError, Client, ReadApi};
use crate::config::{Jurisdiction, Owner};
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::{ObservedBucket, ObservedToken, PermissionGroupIds};
use futures::{StreamExt, TryStreamExt};

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
    // Its help names every kind, from the table of kinds.
    #[arg(long, value_name = "BLOCKS", value_delimiter = ',', value_parser = parse_block, help = with_help())]
    pub with: Vec<BlockArg>,
    /// Overwrite --out when it exists.
    #[arg(long)]
    pub force: bool,
    /// The ownership marker of managed tokens (written to the file when not the default).
    #[arg(long, default_value = "r2gitops:")]
    pub token_name_prefix: String,
    /// An r2gitops inventory: tokens it records are managed too, under their recorded names.
    #[arg(long, value_name = "PATH", conflicts_with = "state")]
    pub state_file: Option<PathBuf>,
    /// The same, from the inventory in R2 (`--state r2://BUCKET/KEY`, read without a lease:
    /// import writes no inventory).
    #[command(flatten)]
    pub state: crate::args::StateArgs,
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

/// `--with`'s help.
fn with_help() -> String {
    format!(
        "Which bucket configuration blocks to import, comma-separated: {} (one read per bucket and block), or `none`. Default: all of them",
        crate::observed::bucket_config::ConfigKind::ALL
            .map(|k| k.key())
            .join(", ")
    )
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

/// Everything import read from the account.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub account_id: String,
    pub buckets: Vec<ObservedBucket>,
    pub tokens: Vec<ObservedToken>,
    pub groups: PermissionGroupIds,
    /// The managed-name prefix.
    pub prefix: String,
    /// Declared names the inventory given with `--state-file` records, by token id. With
    /// one, exactly these tokens are managed (a token that only carries the prefix belongs
    /// to another file, as the planner sees it); without (`None`), every token carrying
    /// the prefix is taken as managed.
    pub recorded: Option<BTreeMap<String, String>>,
    /// What could not be listed, and why (a comment in the file).
    pub unlisted: Vec<String>,
    /// The configuration sub-resources read for each declared bucket (`--with`).
    pub blocks: BTreeMap<(Jurisdiction, String), Vec<ConfigValue>>,
    /// The operator's policy (`--policy`): what it does not allow is a comment with the
    /// reason, never a declaration.
    pub policy: Option<std::sync::Arc<crate::config::policy::Policy>>,
}

/// What to list: which jurisdictions (`explicit` when the user named them: then each must
/// list), which configuration blocks to read per bucket, the managed prefix, and the
/// declared names the inventory records by token id (`Snapshot::recorded`).
pub struct Scope<'a> {
    pub jurisdictions: &'a [Jurisdiction],
    pub explicit: bool,
    pub blocks: &'a [ConfigKind],
    pub prefix: &'a str,
    pub recorded: Option<BTreeMap<String, String>>,
    /// Configuration reads in flight at once.
    pub concurrency: usize,
}

/// List what import needs. Of the default jurisdictions (all), one the account cannot list
/// is noted and skipped. User tokens are listed when the API token may (an account-owned
/// token may not), else noted. Then one read per declared bucket and block asked for.
pub async fn snapshot<R: ReadApi>(
    api: &R,
    account_id: &str,
    scope: Scope<'_>,
) -> Result<Snapshot, ApiError> {
    let Scope {
        jurisdictions,
        explicit,
        blocks: kinds,
        prefix,
        recorded,
        concurrency,
    } = scope;
    let mut unlisted = Vec::new();
    let mut buckets = Vec::new();
    for j in jurisdictions {
        match api.list_buckets(*j).await {
            Ok(found) => buckets.extend(found),
            // A refusal (4xx), not an outage: this account has no such jurisdiction.
            Err(e)
                if !explicit
                    && *j != Jurisdiction::Default
                    && e.status
                        .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
            {
                unlisted.push(format!(
                    "buckets in jurisdiction {} ({})",
                    j.as_str(),
                    e.detail
                ));
            }
            Err(e) => return Err(e),
        }
    }
    let mut tokens = api.list_tokens(Owner::Account).await?;
    match api.list_tokens(Owner::User).await {
        Ok(found) => tokens.extend(found),
        Err(e) if e.is_auth() => {
            unlisted.push(format!("user tokens ({})", e.detail));
        }
        Err(e) => return Err(e),
    }
    // The token import runs with may be the one the daemon will run with: never offered
    // for adoption (a plan refuses it).
    if let Some(own) = api.own_token_id()
        && let Some(i) = tokens.iter().position(|t| t.id == own)
    {
        tokens.remove(i);
        unlisted.push(format!(
            "token {} (the API token this import ran with; r2gitops never adopts its own token)",
            crate::config::yaml::quoted(&own)
        ));
    }
    // Nor the parent of the state's temporary credentials: r2gitops' own as well.
    tokens.retain(|t| {
        let parent = t.owner == Owner::Account && t.name == crate::config::STATE_PARENT_NAME;
        if parent {
            unlisted.push(format!(
                "token {} ('{}', the parent r2gitops mints the state's temporary credentials under; never adopted)",
                crate::config::yaml::quoted(&t.id),
                crate::config::STATE_PARENT_NAME
            ));
        }
        !parent
    });
    let groups = api.permission_groups(Owner::Account).await?;
    let mut snapshot = Snapshot {
        account_id: account_id.to_string(),
        buckets,
        tokens,
        groups,
        prefix: prefix.to_string(),
        recorded,
        unlisted,
        blocks: BTreeMap::new(),
        policy: None,
    };
    // Only buckets the file will declare (a name in two jurisdictions is declared once).
    let reads: Vec<(Jurisdiction, String, ConfigKind)> = sort::sort_buckets(&snapshot)
        .0
        .iter()
        .flat_map(|b| kinds.iter().map(|k| (b.jurisdiction, b.name.clone(), *k)))
        .collect();
    let read: Vec<_> = futures::stream::iter(reads)
        .map(|(j, name, kind)| async move {
            api.read_config(j, &name, kind)
                .await
                .map(|v| ((j, name), v))
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    for (key, value) in read {
        if let Some(v) = value {
            snapshot.blocks.entry(key).or_default().push(v);
        }
    }
    Ok(snapshot)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0} exists; nothing was written\n  hint: pass --force to overwrite it")]
    Exists(String),
    #[error("cannot write {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Write `text` to `path` through a temp file and a rename: a reader never sees half a file.
fn write_file(path: &Path, text: &str) -> Result<(), ImportError> {
    let err = |source| ImportError::Write {
        path: path.display().to_string(),
        source,
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.import-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(err)
}

/// The command line as typed, for the file's first comment (it never holds a secret:
/// tokens come from the environment or a file).
fn command_line() -> String {
    let mut args = std::env::args();
    args.next();
    std::iter::once("r2gitops".to_string())
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn cmd(args: &ImportArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if let Some(out) = &args.out
        && !args.force
        && std::fs::symlink_metadata(out).is_ok()
    {
        return Err(ImportError::Exists(out.display().to_string()).into());
    }
    args.api.preflight()?;
    let config = args.api.client_config(None)?;
    let by_id = |inv: crate::inventory::Inventory| -> BTreeMap<String, String> {
        inv.tokens
            .into_iter()
            .map(|(name, r)| (r.id, name))
            .collect()
    };
    let session = {
        let endpoints = crate::secrets::S3Endpoints::from_args(
            &[],
            std::env::var("R2GITOPS_S3_ENDPOINTS").ok().as_deref(),
        )?;
        let api = args
            .state
            .needs_api()
            .then(|| args.api.client_config(None))
            .transpose()?;
        // Import creates nothing: not even the parent of the state's credentials.
        args.state
            .open(&config.account_id, &endpoints, api, false)?
    };
    let recorded: Option<BTreeMap<String, String>> = match (&args.state_file, &session) {
        (Some(path), _) => Some(by_id(crate::state::load(path)?)),
        (None, Some(s)) => Some(by_id(
            crate::reconcile::runtime()?.block_on(crate::state::Store::R2(s.clone()).load())?,
        )),
        (None, None) => None,
    };
    let (jurisdictions, explicit) = if args.jurisdiction.is_empty() {
        (Jurisdiction::ALL.to_vec(), false)
    } else {
        (args.jurisdiction.clone(), true)
    };
    // Judged against the file being written, as `validate --policy` will judge it.
    let policy = match &args.policy {
        Some(path) => Some(std::sync::Arc::new(crate::config::policy::load::load(
            path, None, true,
        )?)),
        None => None,
    };
    let mut snapshot = crate::reconcile::runtime()?.block_on(async {
        let client = Client::connect(config).await?;
        snapshot(
            &client,
            client.account_id(),
            Scope {
                jurisdictions: &jurisdictions,
                explicit,
                blocks: &args.blocks(),
                prefix: &args.token_name_prefix,
                recorded,
                concurrency: args.api.concurrency,
            },
        )
        .await
    })?;
    snapshot.policy = policy;
    let header = render::Header {
        command: command_line(),
        generated_at: OffsetDateTime::now_utc(),
    };
    let text = render::file(&snapshot, &header);
    let sorted = sort::sort_tokens(&snapshot, header.generated_at);
    match &args.out {
        Some(path) => write_file(path, &text)?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    eprintln!(
        "imported {} buckets and {} managed tokens from account {}; {} tokens can be adopted (commented out), {} cannot be expressed (listed in a comment)",
        snapshot.buckets.len(),
        sorted.managed.len(),
        snapshot.account_id,
        sorted.adoptable.len(),
        sorted.not_importable.len()
    );
    if !sorted.elsewhere.is_empty() {
        eprintln!(
            "{} tokens carry the prefix but are not in the inventory given: another file manages them (listed in a comment, never declared)",
            sorted.elsewhere.len()
        );
    }
    if !sorted.managed.is_empty() {
        eprintln!(
            "the first `reconcile` rotates the {} managed tokens (no record of their credential files: a new key is written, and the one in use keeps working for settings.rotation_overlap, then is deleted) unless their values are handed over first: `r2gitops adopt NAME --value-file PATH`",
            sorted.managed.len()
        );
    }
    if let Some(path) = &args.out {
        eprintln!(
            "next: put your age public keys in settings.recipients of {}, then `r2gitops reconcile --dry-run -f {}`",
            path.display(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
