//! Carries out a `Plan` through the write capability and the secrets writer, and returns a
//! `Report`. Only this module ever holds a `WriteApi`; a dry run never builds it.
//!
//! Guarantees:
//! - Order: bucket creates and updates, then bucket configuration (one step per
//!   sub-resource, custom domain or notification queue, skipped when its bucket could not
//!   be created), then token deletes, then
//!   token creates, updates and rolls (a token whose bucket could not be created is
//!   skipped), each token followed by the temporary credentials issued under it, then
//!   bucket deletes.
//!   Independent steps run concurrently (bounded) and go on after one fails.
//! - A created or rolled token's value goes straight to the secrets writer, and the
//!   inventory is saved before anything depends on it. A crash in between leaves a token
//!   the next pass adopts by its name and rolls, so there is never a duplicate nor a value
//!   that was lost without a roll.
//! - Idempotent under retry: a create answered 409 adopts (once a GET proves the bucket is
//!   there in the declared jurisdiction), a delete of something gone is done.
//! - The configuration of a bucket this pass created rides out Cloudflare's post-create lag
//!   (`settle`): an answer that does not know the bucket yet is asked again, bounded.
//! - Every write is read back: what Cloudflare answers is compared with what was sent
//!   (tokens: `plan::readback`; a bucket's configuration, every kind: `read_back`). A created token that came back different is deleted before its
//!   value goes anywhere; an update that did not stick fails loudly, or, where the plan
//!   allows it, becomes a replacement (create, write, then delete the old token).
//! - A stop request (SIGTERM) starts nothing new; a step in flight finishes, output included.

mod bucket;
mod bucket_config;
mod custom_domain;
mod deliver;
mod notification;
mod read_back;
pub mod report;
mod rotate;
mod settle;
mod temporary;
mod token;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use time::OffsetDateTime;

use crate::cloudflare::WriteApi;
use crate::config::Desired;
use crate::error::error_chain;
use crate::inventory::{BucketRecord, Inventory, TokenRecord};
use crate::plan::render::step_line;
use crate::plan::{Bookkeeping, BucketRef, Plan, Step};
use crate::secret::TokenValue;
use crate::secrets::OutputWriter;
use crate::state::Store;

pub use report::{Outcome, Report, StepReport};

/// A cooperative stop: once requested, no further step starts. It says why (a signal, or
/// the shared state's lease lost or written by another runner).
#[derive(Clone, Default)]
pub struct Stop(Arc<StopInner>);

#[derive(Default)]
struct StopInner {
    requested: AtomicBool,
    reason: std::sync::Mutex<Option<String>>,
}

impl Stop {
    pub fn new() -> Self {
        Stop::default()
    }

    pub fn request(&self) {
        self.0.requested.store(true, Ordering::SeqCst);
    }

    /// Stop, and say why in the steps that do not start (the first reason stays).
    pub fn request_because(&self, reason: impl Into<String>) {
        self.0.reason.lock().unwrap().get_or_insert(reason.into());
        self.request();
    }

    pub fn requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    /// Why no further step starts.
    pub fn reason(&self) -> String {
        self.0
            .reason
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| "shutting down".into())
    }
}

/// A value fresh from Cloudflare (shown once): it goes to the writer before anything else.
struct Fresh<'a> {
    /// Declared name.
    token: &'a str,
    owner: crate::config::Owner,
    id: &'a str,
    value: TokenValue,
    /// `None` for a create.
    rolled: Option<Rolled<'a>>,
    /// Cloudflare's `modified_on` right after this change, to tell a later change made
    /// elsewhere (a roll in the dashboard) from ours.
    modified_on: Option<time::OffsetDateTime>,
}

struct Rolled<'a> {
    /// The output's previous path, when the roll is for a moved output.
    moved_from: Option<&'a std::path::Path>,
}

pub struct Applier<'a, W: WriteApi> {
    pub api: &'a W,
    pub desired: &'a Desired,
    pub writer: &'a OutputWriter,
    /// Steps in flight at once (the client bounds its own calls too).
    pub concurrency: usize,
    pub stop: &'a Stop,
    /// Told as steps start and end (a progress line on a terminal); `None` for nobody.
    pub progress: Option<&'a dyn Progress>,
}

/// An observer of an apply's steps: a progress line, or the daemon's log. Apply decides
/// nothing from it, and logs steps only at debug itself: the command that printed the plan
/// prints the report, so an info line per step would show each step twice on a terminal.
pub trait Progress: Send + Sync {
    fn step_started(&self);
    fn step_finished(&self, report: &StepReport);
}

/// The daemon's observer: one log line per finished step (it prints no report).
pub struct LogSteps;

impl Progress for LogSteps {
    fn step_started(&self) {}

    fn step_finished(&self, r: &StepReport) {
        // Escaped as the plan shows it: a name from Cloudflare must not split a log line.
        let line = crate::plan::render::escape(&r.line);
        match &r.outcome {
            Outcome::Failed(e) => tracing::warn!(step = %line, error = %e, "step failed"),
            other => tracing::info!(step = %line, outcome = other.as_str(), "step"),
        }
    }
}

/// Run `step` and tell `progress` when it starts and ends.
async fn observed<F: std::future::Future<Output = StepReport>>(
    progress: Option<&dyn Progress>,
    step: F,
) -> StepReport {
    if let Some(p) = progress {
        p.step_started();
    }
    let r = step.await;
    if let Some(p) = progress {
        p.step_finished(&r);
    }
    r
}

/// Record what the plan learned without changing Cloudflare (pure).
pub fn apply_bookkeeping(inv: &mut Inventory, items: &[Bookkeeping], now: OffsetDateTime) {
    for item in items {
        match item {
            Bookkeeping::AdoptToken {
                token,
                id,
                owner,
                issued_on,
            } => {
                inv.tokens.insert(
                    token.clone(),
                    TokenRecord {
                        id: id.clone(),
                        owner: *owner,
                        created_at: issued_on.unwrap_or(now),
                        rolled_at: None,
                        modified_on: None,
                        output: None,
                        // The value in use is not r2gitops' (it may be live), unless a create of
                        // r2gitops' own under this name was in flight (`pending`).
                        unheld: !inv.pending.contains(token),
                    },
                );
            }
            Bookkeeping::ForgetToken { token } => {
                inv.tokens.remove(token);
            }
            Bookkeeping::TrackBucket { bucket, protect } => {
                inv.buckets
                    .entry((bucket.jurisdiction, bucket.name.clone()))
                    .or_insert_with(|| BucketRecord::new(*protect))
                    .protect = *protect;
            }
            Bookkeeping::ForgetBucket { bucket } => {
                inv.buckets
                    .remove(&(bucket.jurisdiction, bucket.name.clone()));
            }
            Bookkeeping::ForgetRetiring { id } => {
                inv.retiring.retain(|r| &r.id != id);
            }
            Bookkeeping::ForgetTemporary { name } => {
                inv.temporary.remove(name);
            }
            Bookkeeping::OwnUpdate {
                token,
                id,
                modified_on,
            } => {
                if let Some(r) = inv.tokens.get_mut(token).filter(|r| &r.id == id) {
                    r.modified_on = *modified_on;
                }
                inv.updating.remove(token);
            }
        }
    }
}

struct Shared {
    inventory: tokio::sync::Mutex<Inventory>,
    store: Store,
    /// A save refused because another runner wrote the state stops the pass: no further
    /// step starts, and nothing is overwritten.
    stop: Stop,
    errors: std::sync::Mutex<Vec<String>>,
}

impl Shared {
    /// Change the inventory and save it before returning; saves happen in order. A failed
    /// save is logged and reported.
    async fn update(&self, change: impl FnOnce(&mut Inventory)) {
        let _ = self.record(change).await;
    }

    /// `update`, for a record that must be saved before what depends on it starts: `Err`
    /// (logged and reported already) when it was not saved.
    async fn record(&self, change: impl FnOnce(&mut Inventory)) -> Result<(), String> {
        let mut inv = self.inventory.lock().await;
        change(&mut inv);
        let e = match self.store.save(&inv).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let error = error_chain(&e);
        tracing::error!(error = %error, "saving the inventory failed");
        if e.is_conflict() {
            self.stop.request_because(format!(
                "not started: the state {} changed under this pass",
                self.store.describe()
            ));
        }
        self.errors.lock().unwrap().push(error.clone());
        Err(error)
    }

    /// Why a fresh value must not be written (`None`: it may): the lease on the R2 state
    /// is no longer held, and another runner may have written this output already.
    fn fenced(&self) -> Option<String> {
        self.store.fenced().then(|| {
            format!(
                "the lease on the state {} is no longer held, so its output was not written: the runner that holds it now delivers it",
                self.store.describe()
            )
        })
    }
}

fn report(step: &Step, outcome: Outcome) -> StepReport {
    StepReport {
        line: step_line(step),
        action: step.action(),
        kind: step.kind().as_str(),
        name: step.object_name().to_string(),
        outcome,
        verify: None,
        readiness: None,
    }
}

/// Every step skipped, for a plan that was refused.
fn refused(plan: &Plan, reason: &str) -> Vec<StepReport> {
    plan.steps
        .iter()
        .map(|s| {
            report(
                s,
                Outcome::Skipped(format!("the plan was refused: {reason}")),
            )
        })
        .collect()
}

/// The token steps grouped by token, in the plan's order: one token's update and roll run
/// in order, then the temporary credentials issued under it (right after its new value is
/// written); different tokens run concurrently.
fn per_token<'s>(steps: impl Iterator<Item = &'s Step>) -> Vec<Vec<&'s Step>> {
    let mut per_token: BTreeMap<&str, Vec<&Step>> = BTreeMap::new();
    let mut order = Vec::new();
    for s in steps {
        let name = match s {
            Step::IssueTemporary { parent, .. } => parent.as_str(),
            _ => s.object_name(),
        };
        if !per_token.contains_key(name) {
            order.push(name);
        }
        per_token.entry(name).or_default().push(s);
    }
    order.iter().map(|n| per_token[n].clone()).collect()
}

impl<W: WriteApi> Applier<'_, W> {
    /// Apply `plan` on top of `inventory`, saving to the local `settings.state_file`;
    /// returns the report and the inventory as saved.
    pub async fn apply(&self, plan: &Plan, inventory: Inventory) -> (Report, Inventory) {
        let store = Store::File(self.desired.settings.state_file.clone());
        self.apply_in(plan, inventory, &store).await
    }

    /// `apply`, saving the inventory to `store` after every step.
    pub async fn apply_in(
        &self,
        plan: &Plan,
        inventory: Inventory,
        store: &Store,
    ) -> (Report, Inventory) {
        let mut out = Report::default();
        if let Some(reason) = &plan.refused {
            out.steps = refused(plan, reason);
            return (out, inventory);
        }
        if let Some(n) = self.sweep_temp_files().await {
            out.temp_files_removed = n;
        }
        let shared = Shared {
            inventory: tokio::sync::Mutex::new(inventory),
            store: store.clone(),
            stop: self.stop.clone(),
            errors: std::sync::Mutex::new(Vec::new()),
        };
        if !plan.bookkeeping.is_empty() {
            let now = OffsetDateTime::now_utc();
            shared
                .update(|inv| apply_bookkeeping(inv, &plan.bookkeeping, now))
                .await;
        }

        let phase = |f: fn(&Step) -> bool| plan.steps.iter().filter(move |s| f(s));
        let buckets: Vec<&Step> =
            phase(|s| matches!(s, Step::CreateBucket { .. } | Step::UpdateBucket { .. })).collect();
        let (reports, phased) = self.bucket_phase(buckets, &shared).await;
        out.steps.extend(reports);
        let failed = &phased.failed;

        let configs: Vec<&Step> = phase(|s| s.config_bucket().is_some()).collect();
        let reports = self
            .run_all(configs, |s| async {
                match s {
                    Step::ConfigureDomain { .. } => self.domain_step(s, &phased).await,
                    Step::ConfigureNotifications { .. } => self.notification_step(s, &phased).await,
                    _ => self.config_step(s, &phased).await,
                }
            })
            .await;
        out.steps.extend(reports);

        let deletes: Vec<&Step> =
            phase(|s| matches!(s, Step::DeleteToken { .. } | Step::RetireToken { .. })).collect();
        let reports = self
            .run_all(deletes, |s| async {
                match s {
                    Step::RetireToken { .. } => self.retire_token(s, &shared).await,
                    _ => self.delete_token(s, &shared).await,
                }
            })
            .await;
        out.steps.extend(reports);

        let groups = per_token(phase(|s| {
            matches!(
                s,
                Step::CreateToken { .. }
                    | Step::UpdateToken { .. }
                    | Step::ReplaceToken { .. }
                    | Step::RollToken { .. }
                    | Step::RotateToken { .. }
                    | Step::IssueTemporary { .. }
            )
        }));
        let reports: Vec<Vec<StepReport>> = futures::stream::iter(groups)
            .map(|steps| self.token_group(steps, failed, &shared))
            .buffered(self.concurrency.max(1))
            .collect()
            .await;
        out.steps.extend(reports.into_iter().flatten());

        let deletes: Vec<&Step> = phase(|s| matches!(s, Step::DeleteBucket { .. })).collect();
        let reports = self
            .run_all(deletes, |s| self.bucket_step(s, &shared))
            .await;
        out.steps.extend(reports);

        out.inventory_errors = shared.errors.into_inner().unwrap();
        (out, shared.inventory.into_inner())
    }

    /// Remove the temp files an interrupted write left; how many, `None` if sweeping failed.
    async fn sweep_temp_files(&self) -> Option<usize> {
        let writer = self.writer.clone();
        match tokio::task::spawn_blocking(move || writer.cleanup_temp_files()).await {
            Ok(Ok(n)) => Some(n),
            Ok(Err(e)) => {
                tracing::warn!(error = %error_chain(&e), "sweeping temp files failed");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "sweeping temp files failed");
                None
            }
        }
    }

    /// Create and update the buckets; the reports, and which creations succeeded or failed
    /// (their configuration and tokens wait on them).
    async fn bucket_phase(
        &self,
        buckets: Vec<&Step>,
        shared: &Shared,
    ) -> (Vec<StepReport>, settle::Buckets) {
        let bucket_reports = self
            .run_all(buckets.clone(), |s| self.bucket_step(s, shared))
            .await;
        let mut phased = settle::Buckets::default();
        for (s, r) in buckets.iter().zip(&bucket_reports) {
            if let Step::CreateBucket { bucket, .. } = s {
                let set = if r.outcome.succeeded() {
                    &mut phased.created
                } else {
                    &mut phased.failed
                };
                set.insert(bucket.clone());
            }
        }
        (bucket_reports, phased)
    }

    /// One token's steps in order, then the temporary credentials issued under it.
    async fn token_group(
        &self,
        steps: Vec<&Step>,
        failed: &BTreeSet<BucketRef>,
        shared: &Shared,
    ) -> Vec<StepReport> {
        let mut reports: Vec<StepReport> = Vec::new();
        for s in steps {
            // An update that turned into a replacement wrote a fresh output
            // for a new id: a roll of the old id has nothing left to do.
            let replaced = reports
                .iter()
                .any(|r| matches!(r.outcome, Outcome::Replaced(_)));
            if replaced && matches!(s, Step::RollToken { .. }) {
                reports.push(report(
                    s,
                    Outcome::AlreadyDone("the replacement's output was written".into()),
                ));
                continue;
            }
            if let Step::IssueTemporary { reason, .. } = s {
                let r = match temporary::before_issue(reason, &reports, replaced) {
                    Some(outcome) => report(s, outcome),
                    None => observed(self.progress, self.temporary_step(s, failed, shared)).await,
                };
                reports.push(r);
                continue;
            }
            reports.push(observed(self.progress, self.token_step(s, failed, shared)).await);
        }
        reports
    }

    async fn run_all<'s, F, Fut>(&self, steps: Vec<&'s Step>, f: F) -> Vec<StepReport>
    where
        F: Fn(&'s Step) -> Fut,
        Fut: std::future::Future<Output = StepReport>,
    {
        futures::stream::iter(steps)
            .map(|s| observed(self.progress, f(s)))
            .buffered(self.concurrency.max(1))
            .collect()
            .await
    }

    fn stopped(&self, step: &Step) -> Option<StepReport> {
        self.stop
            .requested()
            .then(|| report(step, Outcome::Skipped(self.stop.reason())))
    }

    /// What a step on an existing bucket's configuration reports instead of running: after
    /// a stop, or when its bucket's create failed in this pass.
    fn bucket_gate(
        &self,
        step: &Step,
        bucket: &crate::plan::BucketRef,
        failed: &std::collections::BTreeSet<crate::plan::BucketRef>,
    ) -> Option<StepReport> {
        self.stopped(step).or_else(|| {
            failed.contains(bucket).then(|| {
                report(
                    step,
                    Outcome::Skipped(format!("bucket {} was not created", bucket.name)),
                )
            })
        })
    }

    /// Debug only: who shows steps is the observer's choice (`Progress`).
    fn log(&self, r: &StepReport) {
        // The plan's line, escaped as the plan shows it: a text log line must not be split
        // by a name from Cloudflare either.
        let line = crate::plan::render::escape(&r.line);
        match &r.outcome {
            Outcome::Failed(e) => tracing::debug!(step = %line, error = %e, "step failed"),
            other => tracing::debug!(step = %line, outcome = other.as_str(), "step"),
        }
    }
}

#[cfg(test)]
mod tests;
