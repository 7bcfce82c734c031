//! The `state` command: `state show` prints the inventory (it holds no secret), and
//! `state migrate --to` moves it between the local file and R2 without loss: under the
//! lock or lease of both ends, into an empty destination only, read back and compared.
//! It calls no Cloudflare API, except, with `--state-credentials temporary`, those that
//! mint the state's credentials (`state show` never creates their parent token); the source
//! is left as it was.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::args::{FileArg, StateArgs};
use crate::inventory::Inventory;
use crate::secrets::S3Endpoints;
use crate::state::r2::session::{Session, holder_name};
use crate::state::{self, Store};

#[derive(Debug, Clone, Args)]
pub struct StateCommandArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum StateCommand {
    /// Print the inventory as JSON (the local file, or the --state object).
    Show(StateOpts),
    /// Copy the inventory to another place, `r2://BUCKET/KEY` or a path, which must not hold
    /// one yet; read it back and compare. The source is left as it was.
    Migrate(MigrateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Where the inventory goes: `r2://BUCKET/KEY` (in --state-jurisdiction) or a path.
    #[arg(long, value_name = "r2://BUCKET/KEY|PATH")]
    pub to: String,
    #[command(flatten)]
    pub opts: StateOpts,
}

#[derive(Debug, Clone, Args)]
pub struct StateOpts {
    #[command(flatten)]
    pub file: FileArg,
    #[command(flatten)]
    pub state: StateArgs,
    /// Overrides `settings.output_dir` (and so the default state file).
    #[arg(long, env = "R2GITOPS_OUTPUT_DIR")]
    pub output_dir: Option<PathBuf>,
    /// The Cloudflare account (for the S3 endpoint), when the file has no `account_id`.
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID", value_name = "ID")]
    pub account_id: Option<String>,
    /// S3 endpoint override per jurisdiction, `JURISDICTION=URL` (repeatable; also
    /// R2GITOPS_S3_ENDPOINTS).
    #[arg(long = "s3-endpoint", value_name = "JURISDICTION=URL")]
    pub s3_endpoints: Vec<String>,
    /// With --state-credentials temporary: the Cloudflare API base URL.
    #[arg(
        long,
        env = "CLOUDFLARE_API_BASE_URL",
        default_value = "https://api.cloudflare.com/client/v4"
    )]
    pub api_url: String,
    /// With --state-credentials temporary: read the API token from this file (its one
    /// non-empty line) instead of CLOUDFLARE_API_TOKEN.
    #[arg(long, value_name = "PATH")]
    pub api_token_file: Option<PathBuf>,
}

impl StateOpts {
    /// How to reach Cloudflare to mint the state's credentials (the defaults of
    /// `reconcile` for what this command does not ask).
    fn connect(&self) -> crate::args::ConnectArgs {
        crate::args::ConnectArgs {
            api_url: self.api_url.clone(),
            insecure_http: false,
            api_token_file: self.api_token_file.clone(),
            account_id: self.account_id.clone(),
            api_token_owner: crate::args::TokenOwnerArg::Account,
            request_budget: "1000/300".into(),
            concurrency: 4,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateCommandError {
    #[error("{file}: the desired-state file is not valid; nothing was read\n{diagnostics}")]
    File { file: String, diagnostics: String },
    #[error(
        "the state is in R2 and no account is known for its S3 endpoint: set account_id in the file, --account-id or CLOUDFLARE_ACCOUNT_ID"
    )]
    NoAccount,
    #[error(
        "the destination {to} already holds an inventory; nothing was changed (migrate only into an empty place)"
    )]
    NotEmpty { to: String },
    #[error("the destination is the source ({to}); nothing was changed")]
    Same { to: String },
    #[error(
        "the inventory read back from {to} differs from the one written; the source {from} is untouched"
    )]
    Mismatch { from: String, to: String },
}

/// One end of a migration, with what keeps others off it while we work.
struct End {
    store: Store,
    _lock: Option<crate::state::lock::InventoryLock>,
    session: Option<Arc<Session>>,
}

impl End {
    async fn release(self) {
        if let Some(s) = self.session {
            s.release().await;
        }
    }
}

struct Context {
    state_file: PathBuf,
    file_account_id: Option<String>,
    account_id: Option<String>,
    endpoints: S3Endpoints,
    connect: crate::args::ConnectArgs,
}

fn context(opts: &StateOpts) -> Result<Context, Box<dyn std::error::Error>> {
    let desired = crate::reconcile::load_desired(
        &opts.file.file,
        opts.output_dir.as_deref(),
        crate::config::AdoptRolls::Refused,
    )
    .map_err(|d| StateCommandError::File {
        file: opts.file.file.display().to_string(),
        diagnostics: d.to_string(),
    })?;
    let endpoints = S3Endpoints::from_args(
        &opts.s3_endpoints,
        std::env::var("R2GITOPS_S3_ENDPOINTS").ok().as_deref(),
    )?;
    Ok(Context {
        state_file: desired.settings.state_file.clone(),
        file_account_id: desired.account_id.clone(),
        account_id: desired.account_id.clone().or(opts.account_id.clone()),
        endpoints,
        connect: opts.connect(),
    })
}

fn session(
    state: &StateArgs,
    cx: &Context,
    create_parent: bool,
) -> Result<Option<Arc<Session>>, Box<dyn std::error::Error>> {
    if state.state.as_deref().is_none_or(str::is_empty) {
        return Ok(None);
    }
    let account = cx
        .account_id
        .as_deref()
        .ok_or(StateCommandError::NoAccount)?;
    let api = if state.needs_api() {
        cx.connect.preflight()?;
        Some(cx.connect.client_config(cx.file_account_id.as_deref())?)
    } else {
        None
    };
    Ok(state.open(account, &cx.endpoints, api, create_parent)?)
}

pub fn cmd(args: &StateCommandArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match &args.command {
        StateCommand::Show(opts) => show(opts),
        StateCommand::Migrate(m) => migrate(m),
    }
}

fn show(opts: &StateOpts) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let cx = context(opts)?;
    let store = match session(&opts.state, &cx, false)? {
        Some(s) => Store::R2(s),
        None => Store::File(cx.state_file.clone()),
    };
    crate::reconcile::runtime()?.block_on(async {
        let inventory = store.load().await?;
        eprintln!("inventory: {}", store.describe());
        print!("{}", state::to_json(&inventory));
        Ok(ExitCode::SUCCESS)
    })
}

fn migrate(m: &MigrateArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let cx = context(&m.opts)?;
    let source_session = session(&m.opts.state, &cx, true)?;
    let to_args = StateArgs {
        state: Some(m.to.clone()),
        ..m.opts.state.clone()
    };
    let to_is_r2 = m.to.starts_with("r2://");
    let to_session = if to_is_r2 {
        session(&to_args, &cx, true)?
    } else {
        None
    };
    crate::reconcile::runtime()?.block_on(async {
        let from = open_end(source_session, &cx.state_file).await?;
        let to = match open_end(to_session, Path::new(&m.to)).await {
            Ok(to) => to,
            Err(e) => {
                from.release().await;
                return Err(e);
            }
        };
        let result = copy(&from.store, &to.store).await;
        from.release().await;
        to.release().await;
        let (inventory, from_text, to_text) = result?;
        eprintln!(
            "migrated the inventory ({} tokens, {} buckets, {} temporary credentials) from {from_text} to {to_text}; the source is left as it was: remove it once every runner uses the new place",
            inventory.tokens.len(),
            inventory.buckets.len(),
            inventory.temporary.len()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Lock one end: the lease of an R2 object, or the flock of a file.
async fn open_end(
    session: Option<Arc<Session>>,
    path: &Path,
) -> Result<End, Box<dyn std::error::Error>> {
    match session {
        Some(s) => {
            s.take_lease(&holder_name(), time::Duration::ZERO).await?;
            Ok(End {
                store: Store::R2(s.clone()),
                _lock: None,
                session: Some(s),
            })
        }
        None => Ok(End {
            _lock: Some(crate::state::lock::acquire(path)?),
            store: Store::File(path.to_path_buf()),
            session: None,
        }),
    }
}

async fn copy(
    from: &Store,
    to: &Store,
) -> Result<(Inventory, String, String), Box<dyn std::error::Error>> {
    let (from_text, to_text) = (from.describe(), to.describe());
    if from_text == to_text {
        return Err(StateCommandError::Same { to: to_text }.into());
    }
    let inventory = from.load().await?;
    let empty = match to {
        Store::File(path) => !path.exists(),
        Store::R2(_) => r2_absent(to).await?,
    };
    if !empty {
        return Err(StateCommandError::NotEmpty { to: to_text }.into());
    }
    to.save(&inventory).await?;
    let back = to.load().await?;
    if state::to_json(&back) != state::to_json(&inventory) {
        return Err(StateCommandError::Mismatch {
            from: from_text,
            to: to_text,
        }
        .into());
    }
    Ok((inventory, from_text, to_text))
}

/// Whether the R2 end has no object at all (an empty inventory written there still counts
/// as one). A plain read: the destination is not touched before it is known to be empty.
async fn r2_absent(store: &Store) -> Result<bool, Box<dyn std::error::Error>> {
    match store {
        Store::R2(s) => Ok(s.state.read().await?.0.is_none()),
        Store::File(_) => Ok(true),
    }
}
