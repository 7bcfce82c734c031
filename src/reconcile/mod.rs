//! One pass: load -> observe -> diff -> (dry-run stops here) -> apply -> publish, and the
//! `r2gitops reconcile` command. The daemon runs the same `Pass`.
//!
//! A dry run only ever holds a `Client` (read-only): the `WriteClient` is built by `apply`
//! alone, so a dry run cannot mutate by construction. A file that fails to load never
//! reaches observation, let alone a deletion.
//!
//! - `pass`: the pass itself, its two halves and what each returns.
//! - `outputs`: what is at each declared output, on disk or on the publish branch.
//! - `command`: `r2gitops reconcile` and `r2gitops rotate`, and how they print.
//! - `lease`: a one-shot apply's hold on the R2 state's lease.

mod command;
mod lease;
mod outputs;
mod pass;

pub use command::{PlanOutput, ReconcileArgs, RotateArgs, cmd, render, rotate_cmd};
pub(crate) use lease::Lease;
pub use outputs::output_facts;
pub use pass::{Applied, Observe, Pass, Planned, Run};

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::apply::{Report, Stop};
use crate::args::{ApiArgs, FileArg, StateArgs};
use crate::cloudflare::{ApiError, Client};
use crate::config::Desired;
use crate::inventory::Inventory;
use crate::observe::Reads;
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

/// Where a pass looks for an output that `output_dir` lacks but the inventory records: the
/// publish branch (`settings.publish`), read with the operator's git credentials. An
/// applying pass writes what it finds back into `output_dir`; a dry run only counts it.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub auth: crate::publish::GitAuth,
    pub restore: bool,
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
