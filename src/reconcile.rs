//! One pass: load -> observe -> diff -> (dry-run stops here) -> apply, and the
//! `r2gitops reconcile` command. The daemon runs the same `plan` and `apply` functions.
//!
//! A dry run only ever holds a `Client` (read-only): the `WriteClient` is built by `apply`
//! alone, so a dry run cannot mutate by construction. A file that fails to load never
//! reaches observation, let alone a deletion.

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
    /// With --state r2://…: how long an apply waits for another runner's lease before it
    /// gives up (0s: at once). A dry run takes no lease.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::args::parse_wait)]
    pub lock_timeout: std::time::Duration,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `r2gitops rotate NAME [--revoke-old]`.
#[derive(Debug, Clone, Args)]
pub struct RotateArgs {
    /// The declared token to rotate.
    pub name: String,
    /// For a leaked secret: delete the old key as soon as the new one is delivered, instead
    /// of after the token's rotation_overlap.
    #[arg(long)]
    pub revoke_old: bool,
    #[command(flatten)]
    pub reconcile: ReconcileArgs,
}

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

/// What is on disk at each declared output, hashed (blocking I/O).
pub fn output_facts(desired: &Desired) -> BTreeMap<String, OutputFact> {
    Outputs::of(desired).facts()
}

/// What the outputs' check needs of a file: its tokens and temporary credentials, not its
/// buckets (a pass hands this to a blocking thread; a copy of 10,000 buckets per pass
/// would be the daemon's largest allocation).
struct Outputs {
    output_dir: std::path::PathBuf,
    tokens: Vec<(String, std::path::PathBuf)>,
    temporary: Vec<crate::config::TemporarySpec>,
}

impl Outputs {
    fn of(desired: &Desired) -> Outputs {
        Outputs {
            output_dir: desired.settings.output_dir.clone(),
            tokens: desired
                .tokens
                .iter()
                .map(|t| (t.name.clone(), t.output.file.clone()))
                .collect(),
            temporary: desired.temporary_credentials.clone(),
        }
    }

    fn facts(&self) -> BTreeMap<String, OutputFact> {
        self.tokens
            .iter()
            .map(|(name, file)| (name.clone(), output_fact(&self.output_dir, file)))
            .collect()
    }

    /// The same for the temporary credentials' outputs, with what each would show now.
    fn temporary_facts(&self, writer: &OutputWriter, skip_outputs: bool) -> TemporaryFacts {
        TemporaryFacts {
            outputs: self
                .temporary
                .iter()
                .filter(|_| !skip_outputs)
                .map(|t| {
                    (
                        t.name.clone(),
                        output_fact(&self.output_dir, &t.output.file),
                    )
                })
                .collect(),
            details: self
                .temporary
                .iter()
                .map(|t| (t.name.clone(), writer.temporary_details(t)))
                .collect(),
        }
    }
}

fn output_fact(output_dir: &std::path::Path, file: &std::path::Path) -> OutputFact {
    match crate::secrets::file_sha256(output_dir, file) {
        Ok(None) => OutputFact::Missing,
        Ok(Some(sha256)) => OutputFact::Present { sha256 },
        Err(e) => OutputFact::Unreadable {
            reason: crate::error::error_chain(&e),
        },
    }
}

/// The output check's second place: each output fact `Missing` whose file the inventory
/// records is looked up on the publish branch (one fetch for all of them). One found there
/// as recorded is `Present` (and, when `recovery.restore`, written back into `output_dir`
/// by the atomic writer: it is the recorded ciphertext). One absent or different stays
/// `Missing`, and rolls as it would without publishing. When the branch cannot be read,
/// each such output is `Unreadable`, so that its token is blocked with the remote's name:
/// a missing file there is not known to be lost, and an unreachable remote must not roll
/// every token whose output a fresh replica lacks. Blocking the tokens concerned rather
/// than failing the pass keeps the rest converging (renewals of temporary credentials
/// whose files are on disk above all).
async fn from_branch(
    desired: &Desired,
    inventory: &Inventory,
    outputs: &mut BTreeMap<String, OutputFact>,
    temporary: &mut BTreeMap<String, OutputFact>,
    recovery: &Recovery,
) {
    if desired.settings.publish.is_none() {
        return;
    }
    let files = |facts: &BTreeMap<String, OutputFact>,
                 declared: Vec<(&String, &std::path::PathBuf)>| {
        declared
            .into_iter()
            .filter(|(name, _)| facts.get(*name) == Some(&OutputFact::Missing))
            .map(|(name, file)| (name.clone(), file.clone()))
            .collect::<Vec<_>>()
    };
    let tokens = files(
        outputs,
        desired
            .tokens
            .iter()
            .map(|t| (&t.name, &t.output.file))
            .collect(),
    );
    let temporaries = files(
        temporary,
        desired
            .temporary_credentials
            .iter()
            .map(|t| (&t.name, &t.output.file))
            .collect(),
    );
    let missing: std::collections::BTreeSet<std::path::PathBuf> = tokens
        .iter()
        .chain(&temporaries)
        .map(|(_, f)| f.clone())
        .collect();
    let Some(wanted) = crate::publish::recover::wanted(desired, inventory, &missing) else {
        return;
    };
    let looked_for: std::collections::BTreeSet<std::path::PathBuf> =
        wanted.paths().cloned().collect();
    let (auth, restore) = (recovery.auth.clone(), recovery.restore);
    let output_dir = desired.settings.output_dir.clone();
    let found = tokio::task::spawn_blocking(move || {
        let found = wanted.read(&auth)?;
        Ok::<_, crate::publish::recover::BranchUnreadable>(
            found
                .into_iter()
                .map(|(rel, bytes)| {
                    let fact = restored(&output_dir, &rel, &bytes, restore);
                    (rel, fact)
                })
                .collect::<BTreeMap<_, _>>(),
        )
    })
    .await
    .expect("the blocking read does not panic");
    let facts = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %crate::error::error_chain(&e), "outputs missing here cannot be checked on the publish branch; their tokens are blocked, nothing is rolled");
            let reason = format!(
                "it is missing here, and {}; nothing is rolled until the branch can be read",
                e.line()
            );
            looked_for
                .iter()
                .map(|rel| {
                    (
                        rel.clone(),
                        OutputFact::Unreadable {
                            reason: reason.clone(),
                        },
                    )
                })
                .collect()
        }
    };
    for (names, facts_of) in [(tokens, &mut *outputs), (temporaries, &mut *temporary)] {
        for (name, file) in names {
            if let Some(fact) = facts.get(&file) {
                facts_of.insert(name, fact.clone());
            }
        }
    }
}

/// The fact of an output found on the publish branch: present with the recorded hash; with
/// `restore`, once it is written back into `output_dir` (0600, atomic, no symlink followed).
fn restored(
    output_dir: &std::path::Path,
    rel: &std::path::Path,
    bytes: &[u8],
    restore: bool,
) -> OutputFact {
    use sha2::Digest;
    let sha256 = hex::encode(sha2::Sha256::digest(bytes));
    if !restore {
        return OutputFact::Present { sha256 };
    }
    match crate::secrets::write::write_atomic(output_dir, rel, bytes, None) {
        Ok(()) => {
            tracing::info!(file = %rel.display(), "restored from the publish branch");
            OutputFact::Present { sha256 }
        }
        Err(e) => OutputFact::Unreadable {
            reason: format!(
                "it is on the publish branch, but restoring it failed: {}",
                crate::error::error_chain(&e)
            ),
        },
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

/// The report's line for a publish.
fn publish_line(published: &Option<Result<crate::publish::Published, String>>) -> String {
    match published {
        None => String::new(),
        Some(Ok(crate::publish::Published::Commit { commit, files })) => format!(
            "Published {files} file{} in commit {commit}.\n",
            if *files == 1 { "" } else { "s" }
        ),
        Some(Ok(crate::publish::Published::Unchanged)) => {
            "Published: the branch already holds every output.\n".to_string()
        }
        Some(Err(e)) => format!("[FAILED] publishing: {e}\n"),
    }
}

/// The plan in the chosen format, with the report when there is one.
pub fn render(plan: &Plan, report: Option<&Report>, title: &str, output: PlanOutput) -> String {
    match output {
        PlanOutput::Text | PlanOutput::Markdown => {
            let mut out = if output == PlanOutput::Text {
                render::text(plan, title)
            } else {
                render::markdown(plan, title)
            };
            if let Some(r) = report {
                out.push_str(&report_section(r, output));
            }
            out
        }
        PlanOutput::Json => {
            let mut v = render::json(plan, title);
            v["dry_run"] = serde_json::json!(report.is_none());
            if let Some(r) = report {
                v["report"] = r.json();
            }
            let mut s = serde_json::to_string_pretty(&v).expect("plain data");
            s.push('\n');
            s
        }
    }
}

/// The report as it follows a text or Markdown plan (the plan is printed before the
/// apply starts, the report after it ends).
fn report_section(report: &Report, output: PlanOutput) -> String {
    if output == PlanOutput::Markdown {
        format!("\n#### Apply\n\n```\n{}```\n", report.text())
    } else {
        format!("\n{}", report.text())
    }
}

/// Write a rendering to stdout: text in colour where `anstream` allows it (a terminal,
/// `--color`, NO_COLOR, CLICOLOR_FORCE); JSON and Markdown always plain.
fn show(text: &str, output: PlanOutput) -> std::io::Result<()> {
    if output == PlanOutput::Text {
        let mut out = anstream::stdout().lock();
        write!(out, "{}", crate::paint::plan(text))?;
        out.flush()
    } else {
        let mut out = std::io::stdout().lock();
        write!(out, "{text}")?;
        out.flush()
    }
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

pub fn cmd(args: &ReconcileArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    cmd_rotating(args, None)
}

/// `r2gitops rotate NAME [--revoke-old]`: a pass that rotates NAME now (with its overlap)
/// and plans nothing else but what that token's rotation needs (its temporary credentials,
/// its retirements); it prints the plan first and takes the lock as an apply does.
pub fn rotate_cmd(args: &RotateArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    cmd_rotating(&args.reconcile, Some((args.name.as_str(), args.revoke_old)))
}

fn cmd_rotating(
    args: &ReconcileArgs,
    rotate: Option<(&str, bool)>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let file = &args.file.file;
    let title = file.display().to_string();
    args.api.preflight()?;
    let policy = args
        .api
        .policy
        .load(file)?
        .map(|policy| crate::config::policy::Enforced {
            policy,
            interval: crate::config::cost::DEFAULT_INTERVAL,
        });
    let desired = match load_desired_pinned(
        file,
        args.api.output_dir.as_deref(),
        args.api.adopt_rolls(),
        args.api.limits.operator(),
        &args.api.publish.pins(),
        policy.as_ref(),
    ) {
        Ok(d) => d,
        Err(diagnostics) => {
            let mut err = anstream::stderr().lock();
            writeln!(
                err,
                "{}",
                crate::paint::diagnostics(&diagnostics.to_string(), false)
            )?;
            writeln!(
                err,
                "{title}: {} problem{} found; nothing was planned or changed",
                diagnostics.len(),
                if diagnostics.len() == 1 { "" } else { "s" }
            )?;
            return Ok(ExitCode::from(1));
        }
    };
    let mut desired = desired;
    if let Some((name, revoke_old)) = rotate {
        if !desired.tokens.iter().any(|t| t.name == name) {
            writeln!(
                anstream::stderr().lock(),
                "{title}: no token named '{}' is declared; nothing was planned or changed",
                crate::plan::render::escape(name)
            )?;
            return Ok(ExitCode::from(1));
        }
        desired.rotate_now.insert(name.to_string(), revoke_old);
    }
    let desired = desired;
    let config = args.api.client_config(desired.account_id.as_deref())?;
    let endpoints = S3Endpoints::from_args(
        &args.api.s3_endpoints,
        std::env::var("R2GITOPS_S3_ENDPOINTS").ok().as_deref(),
    )?;
    let concurrency = config.concurrency;
    // A dry run may mint the state's credentials (that leaves nothing behind), never
    // create their parent token.
    let state_api = args
        .state
        .needs_api()
        .then(|| args.api.client_config(desired.account_id.as_deref()))
        .transpose()?;
    let session = args
        .state
        .open(&config.account_id, &endpoints, state_api, !args.dry_run)?;
    runtime()?.block_on(async {
        // Only a run that may write takes the lock (the flock of the local file, or the
        // lease of the state in R2): a dry run changes nothing.
        let (store, _lock) = match &session {
            None => (
                Store::File(desired.settings.state_file.clone()),
                (!args.dry_run)
                    .then(|| crate::state::lock::acquire(&desired.settings.state_file))
                    .transpose()?,
            ),
            Some(s) => (Store::R2(s.clone()), None),
        };
        // Requested by a signal, or by the lease once it can no longer be used.
        let stop = Stop::new();
        let lease = match &session {
            Some(s) if !args.dry_run => Some(Lease::take(s, args.lock_timeout, &stop).await?),
            _ => None,
        };
        // Every way out of the pass releases the lease.
        let result: Result<ExitCode, Box<dyn std::error::Error>> = async {
            let client = Client::connect(config).await?;
            let reads = Reads::All;
            let auth = args.api.publish.auth();
            let recovery = Recovery {
                auth: auth.clone(),
                restore: !args.dry_run,
            };
            let (mut plan, inventory) = plan_recovering(
                &store,
                &client,
                &desired,
                args.skip_outputs,
                &endpoints,
                reads,
                Some(&recovery),
            )
            .await?;
            if let Some((name, _)) = rotate {
                only_token(&mut plan, name);
            }
            if let Some(reviewed) = &args.expect_plan {
                let id = crate::plan::id::plan_id(&plan);
                if *reviewed != id {
                    // The plan it is now, so that the operator sees what changed; then nothing.
                    show(&render(&plan, None, &title, args.output), args.output)?;
                    return Err(PlanChanged {
                        reviewed: reviewed.clone(),
                        id,
                    }
                    .into());
                }
            }
            if !args.skip_outputs {
                plan.publish = publish_preview(&desired, &inventory, &plan, &auth).await;
            }
            if args.dry_run {
                show(&render(&plan, None, &title, args.output), args.output)?;
                let code = if plan.refused.is_some() {
                    1
                } else if args.detailed_exitcode && plan.differs() {
                    2
                } else {
                    0
                };
                return Ok(ExitCode::from(code));
            }
            if plan.refused.is_some() {
                show(&render(&plan, None, &title, args.output), args.output)?;
                return Ok(ExitCode::from(1));
            }
            if args.output != PlanOutput::Json {
                show(&render(&plan, None, &title, args.output), args.output)?;
            }
            let on_stop = stop.clone();
            crate::signals::spawn(Box::new(move || on_stop.request()), None)?;
            let progress = if args.output == PlanOutput::Text {
                crate::progress::TermProgress::for_terminal(plan.steps.len())
            } else {
                None
            };
            let (report, inventory) = apply_in(
                &store,
                client,
                &desired,
                &plan,
                inventory,
                &endpoints,
                concurrency,
                &stop,
                progress.as_ref().map(|p| p as &dyn crate::apply::Progress),
            )
            .await;
            if let Some(p) = &progress {
                p.finish();
            }
            let published = publish(&store, &desired, &inventory, &plan, &auth).await;
            let mut text = match args.output {
                PlanOutput::Json => render(&plan, Some(&report), &title, args.output),
                other => report_section(&report, other),
            };
            if args.output != PlanOutput::Json {
                text.push_str(&publish_line(&published));
            } else if let Some(outcome) = &published
                && let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text)
            {
                v["published"] = match outcome {
                    Ok(crate::publish::Published::Commit { commit, files }) => {
                        serde_json::json!({"result": "commit", "commit": commit, "files": files})
                    }
                    Ok(crate::publish::Published::Unchanged) => {
                        serde_json::json!({"result": "unchanged"})
                    }
                    Err(e) => serde_json::json!({"result": "failure", "error": e}),
                };
                text = serde_json::to_string_pretty(&v).expect("plain data");
                text.push('\n');
            }
            show(&text, args.output)?;
            // Steps left unstarted because the lease lapsed: the account is not as
            // declared, and CI must not read this run as a success.
            let cut_short = store.fenced()
                && report
                    .steps
                    .iter()
                    .any(|s| matches!(s.outcome, crate::apply::Outcome::Skipped(_)));
            let failed = report.has_errors() || matches!(published, Some(Err(_))) || cut_short;
            Ok(ExitCode::from(if failed { 1 } else { 0 }))
        }
        .await;
        if let Some(lease) = lease {
            lease.release().await;
        }
        result
    })
}

/// Keep what `r2gitops rotate NAME` does: NAME's token steps (its rotation, its old keys'
/// retirements) and the temporary credentials issued under it.
fn only_token(plan: &mut Plan, name: &str) {
    plan.steps.retain(|s| match s {
        crate::plan::Step::IssueTemporary { parent, .. } => parent == name,
        s => s.kind() == crate::plan::Kind::Token && s.object_name() == name,
    });
}

/// A one-shot apply's hold on the state lease: renewed every TTL/3 in the background; a
/// renewal overdue, or the lease taken over, stops the apply before its next step.
/// Released at the end (and, dropped without `release`, left to expire).
pub(crate) struct Lease {
    session: std::sync::Arc<crate::state::r2::session::Session>,
    renewer: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Lease {
    pub(crate) async fn take(
        session: &std::sync::Arc<crate::state::r2::session::Session>,
        timeout: std::time::Duration,
        stop: &Stop,
    ) -> Result<Lease, InventoryError> {
        let holder = crate::state::r2::session::holder_name();
        let timeout = time::Duration::try_from(timeout).unwrap_or(time::Duration::MAX);
        session.take_lease(&holder, timeout).await?;
        let lease = Lease {
            session: session.clone(),
            renewer: std::sync::Mutex::new(None),
        };
        // From now on: planning a large account can take longer than the TTL.
        lease.watch(stop);
        Ok(lease)
    }

    /// Renew in the background; stop `stop` when the lease can no longer be used.
    fn watch(&self, stop: &Stop) {
        let (session, stop) = (self.session.clone(), stop.clone());
        let sixth: time::Duration = session.ttl() / 6;
        let tick = sixth
            .unsigned_abs()
            .max(std::time::Duration::from_millis(200));
        // The standing is watched beside the renewals, not after them: a renewal that
        // hangs must not keep the apply starting steps.
        let task = tokio::spawn(async move {
            let renewing = async {
                loop {
                    tokio::time::sleep(tick).await;
                    let _ = session.renew_if_due().await;
                }
            };
            let watching = async {
                while session.may_mutate() {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            };
            tokio::select! {
                _ = renewing => {}
                _ = watching => {}
            }
            stop.request_because(format!(
                "not started: the lease on the state {} was not renewed in time or was taken over",
                session.url()
            ));
        });
        *self.renewer.lock().unwrap() = Some(task);
    }

    pub(crate) async fn release(self) {
        if let Some(t) = self.renewer.lock().unwrap().take() {
            t.abort();
        }
        self.session.release().await;
    }
}
