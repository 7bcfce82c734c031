//! One pass: load -> observe -> diff -> (dry-run stops here) -> apply, and the
//! `r2gitops reconcile` command. The daemon runs the same `plan` and `apply` functions.
//!
//! A dry run only ever holds a `Client` (read-only): the `WriteClient` is built by `apply`
//! alone, so a dry run cannot mutate by construction. A file that fails to load never
//! reaches observation, let alone a deletion.
//!
//! - `outputs`: what is at each declared output, on disk or on the publish branch.
//! - `command`: `r2gitops reconcile` and `r2gitops rotate`, and how they print.
//! - `lease`: a one-shot apply's hold on the R2 state's lease.

mod command;
mod lease;
mod outputs;

pub use command::{PlanOutput, ReconcileArgs, RotateArgs, cmd, render, rotate_cmd};
pub(crate) use lease::Lease;
pub use outputs::output_facts;
use outputs::{Outputs, from_branch};

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use time::OffsetDateTime;

use crate::apply::{Applier, Report, Stop};
use crate::args::{ApiArgs, FileArg, StateArgs};
use crate::cloudflare::{ApiError, Client};
use crate::config::Desired;
use crate::inventory::Inventory;
use crate::observe::Reads;
use crate::plan::diff::Input;
use crate::plan::{OutputFact, Plan, TemporaryFacts, render};
use crate::secrets::{OutputWriter, S3Endpoints};
use crate::state::{InventoryError, Store};

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl PassError {
    /// When Cloudflare asked us to wait, how long (the daemon's backoff honours it).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            PassError::Api(e) => e.retry_after.map(std::time::Duration::from_secs),
            PassError::Inventory(_) => None,
        }
    }
}

/// `--expect-plan` named another plan than the one computed: nothing is applied.
#[derive(Debug, thiserror::Error)]
#[error(
    "the plan changed since review: the reviewed plan was {reviewed}, this one is {id}; nothing was changed (review the plan above, then apply it with --expect-plan {id})"
)]
pub struct PlanChanged {
    pub reviewed: String,
    pub id: String,
}

/// Observe and diff: the read-only half of a pass. Returns the plan and the inventory it
/// was computed from (to be handed to `apply`). `endpoints` decide what the outputs would
/// show, so that a changed endpoint rolls the tokens whose files name the old one.
pub async fn plan(
    client: &Client,
    desired: &Desired,
    skip_outputs: bool,
    endpoints: &S3Endpoints,
) -> Result<(Plan, Inventory), PassError> {
    plan_with(client, desired, skip_outputs, endpoints, Reads::All).await
}

/// `plan`, reading bucket configuration as `reads` says: the daemon passes its cache, so
/// that unchanged sub-resources are re-read once per `settings.config_resync`. Outputs are
/// read from `output_dir` alone (`plan_in` also looks on the publish branch).
pub async fn plan_with(
    client: &Client,
    desired: &Desired,
    skip_outputs: bool,
    endpoints: &S3Endpoints,
    reads: Reads<'_>,
) -> Result<(Plan, Inventory), PassError> {
    let store = Store::File(desired.settings.state_file.clone());
    plan_in(&store, client, desired, skip_outputs, endpoints, reads).await
}

/// Where a pass looks for an output that `output_dir` lacks but the inventory records: the
/// publish branch (`settings.publish`), read with the operator's git credentials. An
/// applying pass writes what it finds back into `output_dir`; a dry run only counts it.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub auth: crate::publish::GitAuth,
    pub restore: bool,
}

/// `plan_with`, reading the inventory from `store` (the local file or R2); outputs from
/// `output_dir` alone.
pub async fn plan_in(
    store: &Store,
    client: &Client,
    desired: &Desired,
    skip_outputs: bool,
    endpoints: &S3Endpoints,
    reads: Reads<'_>,
) -> Result<(Plan, Inventory), PassError> {
    plan_recovering(store, client, desired, skip_outputs, endpoints, reads, None).await
}

/// `plan_in`, reading outputs missing from `output_dir` from the publish branch as
/// `recovery` says (`None`: from `output_dir` alone).
pub async fn plan_recovering(
    store: &Store,
    client: &Client,
    desired: &Desired,
    skip_outputs: bool,
    endpoints: &S3Endpoints,
    reads: Reads<'_>,
    recovery: Option<&Recovery>,
) -> Result<(Plan, Inventory), PassError> {
    let inventory = store.load().await?;
    let d = Outputs::of(desired);
    let writer = OutputWriter::new(
        &desired.settings.output_dir,
        client.account_id(),
        endpoints.clone(),
    );
    let w = writer.clone();
    let (outputs, temporary) = tokio::task::spawn_blocking(move || {
        let outputs = if skip_outputs {
            BTreeMap::new()
        } else {
            d.facts()
        };
        let temporary = d.temporary_facts(&w, skip_outputs);
        (outputs, temporary)
    })
    .await
    .expect("the blocking read does not panic");
    let (mut outputs, mut temporary) = (outputs, temporary);
    if let Some(recovery) = recovery.filter(|_| !skip_outputs) {
        from_branch(
            desired,
            &inventory,
            &mut outputs,
            &mut temporary.outputs,
            recovery,
        )
        .await;
    }
    let observed =
        crate::observe::observe_with(client, client.account_id(), desired, &inventory, reads)
            .await?;
    let details = desired
        .tokens
        .iter()
        .map(|t| (t.name.clone(), writer.details(t)))
        .collect();
    let mut plan = crate::plan::diff(&Input {
        desired,
        observed: &observed,
        inventory: &inventory,
        outputs: &outputs,
        details: &details,
        now: OffsetDateTime::now_utc(),
        skip_outputs,
        temporary: &temporary,
    });
    // A committer may not manage, delete or open up the bucket that holds the state.
    if let Store::R2(session) = store
        && plan.refused.is_none()
    {
        plan.refused = crate::state::r2::guard::refusal(
            desired,
            &plan.steps,
            &session.state.url.bucket,
            session.jurisdiction,
        );
    }
    Ok((plan, inventory))
}

/// The plan of a renewal between the daemon's full passes: the temporary credentials alone,
/// under the parents the last full pass of this same desired state found usable
/// (`plan::diff::renewals`). It reads the inventory and the credentials' outputs, and makes
/// no API call: what it plans costs one issue call per credential due.
pub async fn plan_renewals(
    client: &Client,
    desired: &Desired,
    endpoints: &S3Endpoints,
    parents: &std::collections::BTreeSet<String>,
) -> Result<(Plan, Inventory), PassError> {
    let store = Store::File(desired.settings.state_file.clone());
    plan_renewals_in(&store, client, desired, endpoints, parents).await
}

/// `plan_renewals`, reading the inventory from `store`.
pub async fn plan_renewals_in(
    store: &Store,
    client: &Client,
    desired: &Desired,
    endpoints: &S3Endpoints,
    parents: &std::collections::BTreeSet<String>,
) -> Result<(Plan, Inventory), PassError> {
    let inventory = store.load().await?;
    let d = Outputs {
        tokens: Vec::new(),
        ..Outputs::of(desired)
    };
    let writer = OutputWriter::new(
        &desired.settings.output_dir,
        client.account_id(),
        endpoints.clone(),
    );
    let temporary = tokio::task::spawn_blocking(move || d.temporary_facts(&writer, false))
        .await
        .expect("the blocking read does not panic");
    let nothing = crate::observed::Observed {
        account_id: client.account_id().to_string(),
        ..Default::default()
    };
    let plan = crate::plan::diff::renewals(
        &Input {
            desired,
            observed: &nothing,
            inventory: &inventory,
            outputs: &BTreeMap::new(),
            details: &BTreeMap::new(),
            now: OffsetDateTime::now_utc(),
            skip_outputs: false,
            temporary: &temporary,
        },
        parents,
    );
    Ok((plan, inventory))
}

/// The writing half of a pass. Takes the client by value: the write capability is made
/// here and dropped on return.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    client: Client,
    desired: &Desired,
    plan: &Plan,
    inventory: Inventory,
    endpoints: &S3Endpoints,
    concurrency: usize,
    stop: &Stop,
    progress: Option<&dyn crate::apply::Progress>,
) -> (Report, Inventory) {
    let store = Store::File(desired.settings.state_file.clone());
    apply_in(
        &store,
        client,
        desired,
        plan,
        inventory,
        endpoints,
        concurrency,
        stop,
        progress,
    )
    .await
}

/// `apply`, saving the inventory to `store`.
#[allow(clippy::too_many_arguments)]
pub async fn apply_in(
    store: &Store,
    client: Client,
    desired: &Desired,
    plan: &Plan,
    inventory: Inventory,
    endpoints: &S3Endpoints,
    concurrency: usize,
    stop: &Stop,
    progress: Option<&dyn crate::apply::Progress>,
) -> (Report, Inventory) {
    let writer = OutputWriter::new(
        &desired.settings.output_dir,
        client.account_id(),
        endpoints.clone(),
    );
    let api = client.into_writer();
    Applier {
        api: &api,
        desired,
        writer: &writer,
        concurrency,
        stop,
        progress,
    }
    .apply_in(plan, inventory, store)
    .await
}

/// What the plan would publish (`↗ publish …`), read from the clone on a blocking thread.
pub async fn publish_preview(
    desired: &Desired,
    inventory: &Inventory,
    plan: &Plan,
    auth: &crate::publish::GitAuth,
) -> Option<crate::plan::PublishPreview> {
    desired.settings.publish.as_ref()?;
    let (d, i, p, a) = (
        desired.clone(),
        inventory.clone(),
        plan.clone(),
        auth.clone(),
    );
    tokio::task::spawn_blocking(move || crate::publish::preview(&d, &i, &p, &a))
        .await
        .ok()
        .flatten()
}

/// Publish after an apply (`settings.publish`): right after the outputs are written, in the
/// same pass, so that a retirement in a later pass finds the new Secret on the branch.
/// `None` without publishing. A runner whose lease on the R2 state lapsed publishes
/// nothing: the branch may hold the new holder's outputs already.
pub async fn publish(
    store: &Store,
    desired: &Desired,
    inventory: &Inventory,
    plan: &Plan,
    auth: &crate::publish::GitAuth,
) -> Option<Result<crate::publish::Published, String>> {
    desired.settings.publish.as_ref()?;
    if store.fenced() {
        let e = format!(
            "not published: the lease on the state {} is no longer held",
            store.describe()
        );
        tracing::warn!("{e}");
        return Some(Err(e));
    }
    let reasons = crate::publish::reasons(plan);
    let (d, i, a) = (desired.clone(), inventory.clone(), auth.clone());
    let done =
        tokio::task::spawn_blocking(move || crate::publish::after_pass(&d, &i, &reasons, &a))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| crate::error::error_chain(&e)));
    match &done {
        Ok(crate::publish::Published::Commit { commit, files }) => {
            tracing::info!(commit = %commit, files, "published")
        }
        Ok(crate::publish::Published::Unchanged) => {
            tracing::debug!("nothing to publish")
        }
        Err(e) => tracing::warn!(error = %e, "publishing failed; the next pass tries again"),
    }
    Some(done)
}

/// Load the file and apply run-time overrides (`--output-dir`, and `--allow-adopt-roll`
/// with `--max-adopt-rolls`, which only the command line can give).
pub fn load_desired(
    file: &std::path::Path,
    output_dir: Option<&std::path::Path>,
    adopt_rolls: crate::config::AdoptRolls,
) -> Result<Desired, crate::config::Diagnostics> {
    load_desired_limited(file, output_dir, adopt_rolls, Default::default())
}

/// `load_desired`, with the bounds the operator set (`--min-temporary-ttl`).
pub fn load_desired_limited(
    file: &std::path::Path,
    output_dir: Option<&std::path::Path>,
    adopt_rolls: crate::config::AdoptRolls,
    limits: crate::config::cost::OperatorLimits,
) -> Result<Desired, crate::config::Diagnostics> {
    load_desired_pinned(
        file,
        output_dir,
        adopt_rolls,
        limits,
        &Default::default(),
        None,
    )
}

/// `load_desired_limited`, with what the operator pinned of publishing
/// (`--publish-repository`, `--publish-branch`, `--publish-prefix`), and the operator's
/// policy (`--policy`), already read.
pub fn load_desired_pinned(
    file: &std::path::Path,
    output_dir: Option<&std::path::Path>,
    adopt_rolls: crate::config::AdoptRolls,
    limits: crate::config::cost::OperatorLimits,
    pins: &crate::config::validate::PublishPins,
    policy: Option<&crate::config::policy::Enforced>,
) -> Result<Desired, crate::config::Diagnostics> {
    let mut desired = crate::config::load::load_with_pins(file, output_dir, limits, pins, policy)?;
    desired.adopt_rolls = adopt_rolls;
    Ok(desired)
}

/// A tokio runtime for one command: two workers are plenty for an I/O-bound pass.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
