//! `r2gitops adopt NAME --value-from-stdin | --value-file PATH`: take over an existing token
//! without downtime. Whoever holds the token's value hands it over once; r2gitops checks
//! that it belongs to the id the file's `adopt:` names (`GET …/tokens/verify` with the
//! value as bearer), writes the output from it, so the S3 keys in use keep working, and
//! records the token in the inventory. The rename and the corrections are ordinary plan
//! steps of the next reconcile; this command prints them.
//!
//! An entry without `adopt:` (a managed token as `import` writes it) takes the token that
//! already carries its Cloudflare name: the value says which, and it must carry that name.
//! Without this, the first reconcile would have to roll it (no record of its output).
//!
//! The value lives only in `TokenValue` (wiped on drop, redacted in Debug): it reaches the
//! verify request's header and the output writer, never a log line or an error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use time::OffsetDateTime;

use clap::Args;

use crate::apply::Stop;
use crate::args::{ApiArgs, FileArg, StateArgs};
use crate::cloudflare::{ApiError, Client, ClientConfig, ReadApi, VerifiedToken};
use crate::config::{Desired, TokenSpec};
use crate::inventory::TokenRecord;
use crate::observed::TokenStatus;
use crate::plan::diff::{
    held_beyond_policy, own_token_refusal, policies_refusal, state_parent_refusal,
};
use crate::secret::TokenValue;
use crate::secrets::{OutputWriter, S3Endpoints};
use crate::state::Store;

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
    /// With --state r2://…: how long adopt waits for another runner's lease before it
    /// gives up (0s: at once). It holds the lease as an applying reconcile does.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::args::parse_wait)]
    pub lock_timeout: std::time::Duration,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error("{file}: no token named '{name}' is declared")]
    NotDeclared { file: PathBuf, name: String },
    #[error(
        "the value verifies as token {verified} ('{found}'), and tokens[{index}] has no adopt: and manages only a token named '{cf_name}'; nothing was written\n  hint: to take that token over, add `adopt: {verified}` to the entry first"
    )]
    NotThisEntry {
        index: usize,
        cf_name: String,
        verified: String,
        found: String,
    },
    #[error(
        "the value did not verify as a Cloudflare {owner} token ({detail}); nothing was written\n  hint: it must be the token's current value (a roll in the dashboard replaces it), used from an address its IP rules allow"
    )]
    DidNotVerify { owner: &'static str, detail: String },
    #[error(
        "the value verifies as token {verified}, not {id} (the adopt: of '{name}'); nothing was written"
    )]
    OtherToken {
        name: String,
        id: String,
        verified: String,
    },
    #[error("token {id} is not a {owner} token of account {account}; nothing was written")]
    Gone {
        id: String,
        owner: &'static str,
        account: String,
    },
    #[error(
        "token {id} is already managed as '{other}'; nothing was written\n  hint: a token has one declared name: remove the adopt: from '{name}'"
    )]
    ManagedElsewhere {
        id: String,
        name: String,
        other: String,
    },
    /// r2gitops' own token, or one whose policies the file cannot express (the plan's
    /// `own_token_refusal` and `policies_refusal`).
    #[error("{at}: {why}; nothing was written")]
    NotAdoptable { at: String, why: String },
}

/// Where the `adopt:` of `spec` is, for messages: `file:line:column: tokens[i].adopt`.
fn adopt_at(desired: &Desired, spec: &TokenSpec) -> String {
    let index = desired
        .tokens
        .iter()
        .position(|t| t.name == spec.name)
        .unwrap_or_default();
    let (line, column) = spec.adopt.as_ref().map_or((0, 0), |a| (a.line, a.column));
    format!(
        "{}:{line}:{column}: tokens[{index}].adopt",
        desired.source.display()
    )
}

/// The declared token `name`, its index, and the id its `adopt:` names (pure). `None`:
/// no `adopt:`, so the token already carrying the entry's Cloudflare name is meant.
pub fn target<'a>(
    desired: &'a Desired,
    name: &str,
) -> Result<(usize, &'a TokenSpec, Option<String>), AdoptError> {
    let (index, spec) = desired
        .tokens
        .iter()
        .enumerate()
        .find(|(_, t)| t.name == name)
        .ok_or_else(|| AdoptError::NotDeclared {
            file: desired.source.clone(),
            name: name.to_string(),
        })?;
    Ok((index, spec, spec.adopt.as_ref().map(|a| a.id.clone())))
}

/// For an entry without `adopt:`: the verified token must be the one carrying the entry's
/// Cloudflare name (pure). Another token is taken over only through `adopt:`.
pub fn check_named(
    desired: &Desired,
    index: usize,
    verified: &str,
    found: &str,
) -> Result<(), AdoptError> {
    let cf_name = desired.cloudflare_token_name(&desired.tokens[index]);
    if found == cf_name {
        return Ok(());
    }
    Err(AdoptError::NotThisEntry {
        index,
        cf_name,
        verified: verified.to_string(),
        found: crate::config::yaml::sanitize(found),
    })
}

/// What the verify answer means for the adoption (pure): the value must belong to `id`
/// (any id when the entry has no `adopt:`; `check_named` then checks the token's name).
pub fn check_verified(
    spec: &TokenSpec,
    id: Option<&str>,
    answer: Result<VerifiedToken, ApiError>,
) -> Result<VerifiedToken, Box<dyn std::error::Error>> {
    match (answer, id) {
        (Ok(v), None) => Ok(v),
        (Ok(v), Some(id)) if v.id == id => Ok(v),
        (Ok(v), Some(id)) => Err(AdoptError::OtherToken {
            name: spec.name.clone(),
            id: id.to_string(),
            verified: v.id,
        }
        .into()),
        (Err(e), _) if e.is_auth() => Err(AdoptError::DidNotVerify {
            owner: spec.owner.as_str(),
            // Cloudflare's own words: the client's would speak of r2gitops' API token.
            detail: match e.errors.first() {
                Some(c) => format!("Cloudflare answered '{}', code {}", c.message, c.code),
                None => format!("Cloudflare answered HTTP {}", e.status.unwrap_or(0)),
            },
        }
        .into()),
        (Err(e), _) => Err(e.into()),
    }
}

fn read_value(args: &AdoptArgs) -> Result<TokenValue, crate::secret::SecretFileError> {
    const WHAT: &str = "the token value";
    match &args.value_file {
        Some(path) => {
            crate::secret::warn_if_exposed("the token value file", path);
            crate::secret::read_token_file(WHAT, path)
        }
        None => crate::secret::read_token(WHAT, Path::new("<stdin>"), std::io::stdin().lock()),
    }
}

pub fn cmd(args: &AdoptArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    args.api.preflight()?;
    let file = &args.file.file;
    let policy = args
        .api
        .policy
        .load(file)?
        .map(|policy| crate::config::policy::Enforced {
            policy,
            interval: crate::config::cost::DEFAULT_INTERVAL,
        });
    let desired = match crate::reconcile::load_desired_pinned(
        file,
        args.api.output_dir.as_deref(),
        crate::config::AdoptRolls::Refused,
        args.api.limits.operator(),
        &args.api.publish.pins(),
        policy.as_ref(),
    ) {
        Ok(d) => d,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            eprintln!(
                "{}: {} problem(s) found; nothing was adopted",
                file.display(),
                diagnostics.len()
            );
            return Ok(ExitCode::from(1));
        }
    };
    let (index, spec, adopt_id) = target(&desired, &args.name)?;
    let value = read_value(args)?;
    let config = args.api.client_config(desired.account_id.as_deref())?;
    // The same settings, with the adopted token as bearer, for its verify endpoint only.
    let as_adopted = args.api.client_config(desired.account_id.as_deref())?;
    let endpoints = S3Endpoints::from_args(
        &args.api.s3_endpoints,
        std::env::var("R2GITOPS_S3_ENDPOINTS").ok().as_deref(),
    )?;
    let state_api = args
        .state
        .needs_api()
        .then(|| args.api.client_config(desired.account_id.as_deref()))
        .transpose()?;
    let session = args
        .state
        .open(&config.account_id, &endpoints, state_api, true)?;
    crate::reconcile::runtime()?.block_on(async {
        // The one writer of the inventory, as for an applying reconcile: the flock of the
        // local file, or the lease of the state in R2.
        let (store, _lock) = match &session {
            None => (
                Store::File(desired.settings.state_file.clone()),
                Some(crate::state::lock::acquire(&desired.settings.state_file)?),
            ),
            Some(s) => (Store::R2(s.clone()), None),
        };
        let stop = Stop::new();
        let lease = match &session {
            Some(s) => Some(crate::reconcile::Lease::take(s, args.lock_timeout, &stop).await?),
            None => None,
        };
        let result = adopt(
            args, &desired, &store, &stop, index, spec, adopt_id, value, config, as_adopted,
            &endpoints,
        )
        .await;
        if let Some(lease) = lease {
            lease.release().await;
        }
        result
    })
}

#[allow(clippy::too_many_arguments)]
async fn adopt(
    args: &AdoptArgs,
    desired: &Desired,
    store: &Store,
    stop: &Stop,
    index: usize,
    spec: &TokenSpec,
    adopt_id: Option<String>,
    value: TokenValue,
    config: ClientConfig,
    as_adopted: ClientConfig,
    endpoints: &S3Endpoints,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let client = Client::connect(config).await?;
    let own = client.own_token_id();
    let id = verify_value(
        desired,
        spec,
        adopt_id.as_deref(),
        own.as_deref(),
        &value,
        as_adopted,
    )
    .await?;
    let mut inv = store.load().await?;
    let observed = check_adoptable(
        desired,
        index,
        spec,
        adopt_id.as_deref(),
        &id,
        &inv,
        &client,
    )
    .await?;
    let writer = OutputWriter::new(
        &desired.settings.output_dir,
        client.account_id(),
        endpoints.clone(),
    );
    if stop.requested() {
        return Err(crate::state::r2::StateError::LeaseLost {
            url: store.describe(),
        }
        .into());
    }
    record(store, &mut inv, &writer, spec, &id, &value, &observed).await?;
    let mut out = anstream::stdout().lock();
    writeln!(
        out,
        "adopted token {} ({id}): wrote {}; its existing S3 keys keep working",
        spec.name,
        spec.output.file.display()
    )?;
    let verify = writer.verify(spec, &id, &value).await;
    drop(value);
    if let Some(v) = &verify {
        writeln!(out, "  {v}")?;
    }
    show_next_plan(
        &mut out,
        &args.file.file,
        store,
        &client,
        desired,
        endpoints,
    )
    .await?;
    let failed = verify.as_ref().is_some_and(|v| !v.passed());
    Ok(ExitCode::from(if failed { 1 } else { 0 }))
}

/// Why the adoption of `spec` is refused, at its `adopt:`.
fn refused(desired: &Desired, spec: &TokenSpec, why: String) -> AdoptError {
    AdoptError::NotAdoptable {
        at: adopt_at(desired, spec),
        why,
    }
}

/// The id the value verifies as, with the value as bearer: the one `adopt:` names (any
/// without one), and never r2gitops' own token (`own`).
async fn verify_value(
    desired: &Desired,
    spec: &TokenSpec,
    adopt_id: Option<&str>,
    own: Option<&str>,
    value: &TokenValue,
    as_adopted: ClientConfig,
) -> Result<String, Box<dyn std::error::Error>> {
    // Checked before the value is used at all: r2gitops' own token is never adopted.
    if let Some(why) = adopt_id.and_then(|id| own_token_refusal(id, own)) {
        return Err(refused(desired, spec, why).into());
    }
    let probe = Client::new(ClientConfig {
        api_token: value.clone(),
        token_owner: spec.owner,
        ..as_adopted
    })?;
    let verified = check_verified(spec, adopt_id, probe.verify().await)?;
    drop(probe);
    let id = verified.id.clone();
    // Adopted by name, the id is known only now: it must not be r2gitops' own either.
    if let Some(why) = own_token_refusal(&id, own) {
        return Err(refused(desired, spec, why).into());
    }
    if verified.status != TokenStatus::Active {
        tracing::warn!(
            id = %id,
            status = verified.status.as_str(),
            "the adopted token is not active: its S3 keys fail until the next reconcile re-activates it"
        );
    }
    Ok(id)
}

/// The token `id` as Cloudflare holds it, once it is clear that this file may manage it:
/// not managed under another name, present, not the state's parent, the entry's own (by
/// name, without `adopt:`), and with policies the file can express and the policy allows.
async fn check_adoptable(
    desired: &Desired,
    index: usize,
    spec: &TokenSpec,
    adopt_id: Option<&str>,
    id: &str,
    inv: &crate::inventory::Inventory,
    client: &Client,
) -> Result<crate::observed::ObservedToken, Box<dyn std::error::Error>> {
    if let Some((other, _)) = inv
        .tokens
        .iter()
        .find(|(n, r)| r.id == id && n.as_str() != spec.name)
    {
        return Err(AdoptError::ManagedElsewhere {
            id: id.to_string(),
            name: spec.name.clone(),
            other: other.clone(),
        }
        .into());
    }
    let Some(observed) = client.get_token(spec.owner, id).await? else {
        return Err(AdoptError::Gone {
            id: id.to_string(),
            owner: spec.owner.as_str(),
            account: client.account_id().to_string(),
        }
        .into());
    };
    // The parent of the state's temporary credentials is r2gitops' own, by name.
    if observed.owner == crate::config::Owner::Account
        && observed.name == crate::config::STATE_PARENT_NAME
        && let Some(why) = state_parent_refusal(id, &[id.to_string()].into())
    {
        return Err(refused(desired, spec, why).into());
    }
    if adopt_id.is_none() {
        check_named(desired, index, id, &observed.name)?;
    }
    // The next reconcile would replace its policies with the declared ones: what the
    // file cannot say would be dropped without anyone having read it.
    let groups = client.permission_groups(spec.owner).await?;
    if let Some(why) = policies_refusal(id, &observed.policies, client.account_id(), &groups) {
        return Err(refused(desired, spec, why).into());
    }
    if let Some(policy) = &desired.policy
        && let Some(why) =
            held_beyond_policy(policy, id, &observed.policies, client.account_id(), &groups)
    {
        return Err(refused(desired, spec, why).into());
    }
    Ok(observed)
}

/// Write the output from the value, then record the token in the inventory.
async fn record(
    store: &Store,
    inv: &mut crate::inventory::Inventory,
    writer: &OutputWriter,
    spec: &TokenSpec,
    id: &str,
    value: &TokenValue,
    observed: &crate::observed::ObservedToken,
) -> Result<(), Box<dyn std::error::Error>> {
    let now = OffsetDateTime::now_utc();
    let output = {
        let (writer, spec, id, value) =
            (writer.clone(), spec.clone(), id.to_string(), value.clone());
        tokio::task::spawn_blocking(move || writer.write(&spec, &id, &value, now))
            .await
            .expect("writing does not panic")?
    };
    inv.tokens.insert(
        spec.name.clone(),
        TokenRecord {
            id: id.to_string(),
            owner: spec.owner,
            // The value is at least as old as the token: rotation counts from there.
            created_at: observed.issued_on.unwrap_or(now),
            rolled_at: None,
            modified_on: observed.modified_on,
            output: Some(output),
            unheld: false,
        },
    );
    store.save(inv).await?;
    Ok(())
}

/// What the next reconcile will do, now that the token is recorded.
async fn show_next_plan(
    out: &mut impl Write,
    file: &Path,
    store: &Store,
    client: &Client,
    desired: &Desired,
    endpoints: &S3Endpoints,
) -> Result<(), Box<dyn std::error::Error>> {
    let pass = crate::reconcile::Pass {
        store: store.clone(),
        desired,
        endpoints,
    };
    let plan = pass.plan(client, Default::default()).await?.plan;
    if plan.steps.is_empty() && plan.blocked.is_empty() {
        writeln!(out, "it is already as declared")?;
    } else {
        writeln!(
            out,
            "\n`r2gitops reconcile` will now bring it (and anything else pending) to the declared state:\n"
        )?;
        write!(
            out,
            "{}",
            crate::paint::plan(&crate::plan::render::text(
                &plan,
                &file.display().to_string()
            ))
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
