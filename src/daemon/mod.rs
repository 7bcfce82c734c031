//! `r2gitops watch`: the long-lived daemon. It knows only `reconcile` (plan, apply).
//!
//! - Level-triggered: every pass recomputes the plan from the whole file and Cloudflare; it
//!   never asks why it started. Triggers (start, file change, interval, SIGHUP, retry)
//!   coalesce: one pass at a time, and triggers during a pass make one follow-up pass.
//! - A file that fails to load never drives a pass: the last valid desired state is kept,
//!   the diagnostics are logged and `/readyz` answers 503. An empty or half-written file
//!   during an editor's save therefore deletes nothing.
//! - Failed passes back off exponentially (5 s doubling, cap 5 min), at least as long as
//!   Cloudflare's `Retry-After`; a success resets the backoff and the jittered interval.
//! - Shutdown is an input (`Shutdown`): the first SIGTERM/SIGINT starts nothing new, lets
//!   the steps in flight finish (a created token always gets its output written) and exits
//!   0; a second signal aborts at once. SIGHUP starts a pass now.
//! - One daemon per inventory: the lock on `<state_file>.lock` is held for its lifetime;
//!   with `--state r2://…`, the lease instead: replicas share one inventory, the one that
//!   holds the lease reconciles (renewing it every TTL/3), the others stand by and poll it
//!   every TTL/3, and SIGTERM releases it at once.
//! - The API token file is re-read every pass; a changed token gets a new client, verified
//!   before use, so rotating the daemon's own token needs no restart.
//! - Bucket configuration (CORS, lifecycle, lock, r2.dev) is kept between passes and
//!   re-read when the file's declaration of a bucket changes, after r2gitops wrote to it,
//!   or once per `settings.config_resync`, spread over the passes (`observe::bucket_config`).
//!
//! - Temporary credentials: a renewal is due at `expiry - refresh_before` plus a little
//!   jitter, and fires a pass trigger like the others (coalesced). A pass asked only by
//!   renewals, of the desired state the last successful full pass planned from, renews
//!   without observing the account: the same temporary-credential rules under the parents
//!   that pass found usable, one issue call per credential due (`plan::diff::renewals`).
//!   Any other trigger, a reload or a failure makes the next pass full, and renewal passes
//!   leave the interval's resync where it was. A pass whose only failures are temporary
//!   credentials still counts as a success (`/readyz` stays ready); their renewal is
//!   retried with the same backoff, and `/status` and
//!   `r2gitops_temporary_credential_expiry_seconds` show how close each is to expiry.
//! - Rotations: each retiring key's `retire_at` fires a full pass (coalesced). Between
//!   passes the token watch (`token_watch`) lists token status every `settings.token_watch`
//!   (stretched to fit 5% of the budget) and fires a pass at once when a managed token was
//!   revoked as exposed, expired or is gone.
//! - The file's API cost an hour (`config::cost`, at `--interval`) is logged once per
//!   desired state loaded; `settings.config_resync` arrives bounded by that model.
//! - The operator's policy (`--policy`) is read at start (one that does not load stops the
//!   daemon) and again on SIGHUP (one that does not load is logged and the last good one
//!   kept). A file that violates it is not valid: the last good state is kept and
//!   `/readyz` says "policy". A kept state is good only under the policy it was checked
//!   against: after a tightened policy, a file that no longer passes drives no pass.
//!
//! - `status`: readiness, `/status` JSON and `/metrics` text (pure).
//! - `renewal`: when the next renewal is due, and the temporary credentials' metrics (pure).
//! - `http`: the status server (who may read `/status`; bounded connections).
//! - `watch`: directory watches, debounce, content hash.

pub mod http;
pub mod renewal;
pub mod status;
pub mod token_watch;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use rand::Rng;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch as tokio_watch};

use crate::apply::Stop;
use crate::args::{ApiArgs, FileArg};
use crate::cloudflare::Client;
use crate::config::Desired;
use crate::error::error_chain;
use crate::plan::Step;
use crate::plan::render::step_line;
use crate::reconcile;
use crate::secrets::S3Endpoints;
use crate::state::Store;
use crate::state::lock::InventoryLock;
use crate::state::r2::session::Session;
use status::{LastPass, PassResult, Status};

/// Backoff after failed passes: 5 s, doubling, capped at 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(5);
    base.saturating_mul(1u32 << failures.saturating_sub(1).min(10))
        .min(Duration::from_secs(300))
}

/// `500ms`, `30s`, `10m`, `1h`, `1d`.
pub fn parse_flag_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    crate::config::parse_duration(text)
}

/// The interval with +/-10% jitter, so that many daemons do not poll in step.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.9..=1.1))
}

/// Coalescing triggers: the first reason since the last pass is kept, later ones merge.
#[derive(Default)]
pub struct Triggers {
    pending: Mutex<Option<Fired>>,
    wake: Notify,
}

/// What the next pass is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The first reason since the last pass.
    pub why: String,
    /// Every trigger merged into it was a temporary credential's renewal: the pass may
    /// renew without observing the account (`Daemon::renewal_basis`).
    pub renewal_only: bool,
}

impl Triggers {
    /// A trigger for a full pass (start, file change, interval, signal, retry).
    pub fn fire(&self, why: &str) {
        self.push(why, false);
    }

    /// A temporary credential's renewal (or its retry) is due.
    pub fn fire_renewal(&self, why: &str) {
        self.push(why, true);
    }

    fn push(&self, why: &str, renewal: bool) {
        let mut p = self.pending.lock().unwrap();
        match p.as_mut() {
            None => {
                *p = Some(Fired {
                    why: why.to_string(),
                    renewal_only: renewal,
                })
            }
            Some(f) => f.renewal_only &= renewal,
        }
        drop(p);
        self.wake.notify_one();
    }

    fn take(&self) -> Option<Fired> {
        self.pending.lock().unwrap().take()
    }
}

/// What the last full pass established for the renewals after it: the desired state it
/// planned from (the same `Arc`: a reload is a new one), and the parent tokens it found
/// usable. A renewal pass issues under these at their inventory ids and observes nothing;
/// any other trigger, or another desired state, makes a full pass again.
struct RenewalBasis {
    desired: std::sync::Weak<Desired>,
    parents: std::collections::BTreeSet<String>,
}

/// The daemon's shutdown input: `Stop` for the applier (checked between steps) and a
/// channel the loop and the server wait on.
#[derive(Clone)]
pub struct Shutdown {
    pub stop: Stop,
    tx: Arc<tokio_watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            stop: Stop::new(),
            tx: Arc::new(tokio_watch::channel(false).0),
        }
    }
}

impl Shutdown {
    pub fn request(&self) {
        self.stop.request();
        self.tx.send_replace(true);
    }

    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

pub struct Options {
    pub file: PathBuf,
    pub interval: Duration,
    pub debounce: Duration,
    pub api: ApiArgs,
    pub endpoints: S3Endpoints,
    /// `--state r2://…`: the inventory in R2, and the lease that makes one of several
    /// replicas the leader (the others stand by). `None`: the local file and its flock.
    pub state: Option<Arc<crate::state::r2::session::Session>>,
    /// The operator's policy as read at start (`--policy`).
    pub policy: Option<Arc<crate::config::policy::Policy>>,
    /// Set by SIGHUP: read the policy again before the next load.
    pub reload_policy: Arc<std::sync::atomic::AtomicBool>,
}

struct Daemon {
    opts: Options,
    status: http::Shared,
    /// Shared with the pass that uses it: a large file is held once, not copied per pass.
    desired: Option<Arc<Desired>>,
    /// What the last parse read (the file and its recipients file, `inputs_revision`),
    /// whether it succeeded or not: while the inputs are the same, a pass does not parse
    /// again and the status keeps that parse's verdict. Keyed on the attempt, not on the last
    /// success, so that a broken file put back byte for byte is parsed (and ready) again.
    parsed_from: Option<String>,
    /// The client, and the SHA-256 of the token it holds.
    client: Option<(Client, [u8; 32])>,
    lock: Option<InventoryLock>,
    failures: u32,
    retry_after: Option<Duration>,
    /// Counters of clients replaced after an account change (exported counters never drop).
    retired_api: crate::cloudflare::ClientMetrics,
    /// Passes in a row in which a temporary credential failed to be issued.
    renewal_failures: u32,
    /// The next renewal, and the retry of a failed one (wall clock).
    renew_at: Option<OffsetDateTime>,
    renewal_retry_at: Option<OffsetDateTime>,
    /// The earliest `retire_at` of a retiring key: a pass is triggered then.
    retire_at: Option<OffsetDateTime>,
    /// The managed tokens the token watch looks at, when it looks next, and when it first
    /// saw each dead one (for `r2gitops_exposure_to_delivery_seconds`).
    watched: Vec<token_watch::Watched>,
    token_watch_at: Option<tokio::time::Instant>,
    dead_since: std::collections::BTreeMap<String, Instant>,
    /// Bucket configuration read by earlier passes, re-read once per `config_resync`.
    config_cache: crate::observe::ConfigCache,
    /// Set by a full pass that succeeded; renewals until the next full pass use it.
    renewal_basis: Option<RenewalBasis>,
    /// The desired state whose API cost was last logged.
    costed: std::sync::Weak<Desired>,
    /// With `--state`: this replica's name in the lease.
    holder: String,
    /// The policy in force: the one read at start, or the last good one read on SIGHUP.
    policy: Option<Arc<crate::config::policy::Policy>>,
}

/// Why a pass failed, for the backoff and the status.
struct Failed {
    error: String,
    retry_after: Option<Duration>,
    /// Waiting cannot fix it (a rejected token, a missing setting): fatal at start-up.
    fatal: bool,
}

impl Failed {
    fn new(error: String) -> Self {
        Failed {
            error,
            retry_after: None,
            fatal: false,
        }
    }
}

impl Daemon {
    fn update(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap());
    }

    /// What a pass leaves known: the managed counts, each temporary credential's expiry and
    /// error, and when the next renewal (or the retry of a failed one) is due.
    fn note_inventory(
        &mut self,
        desired: &Desired,
        inventory: &crate::inventory::Inventory,
        errors: &std::collections::BTreeMap<String, String>,
        issued: &[String],
    ) {
        let now = OffsetDateTime::now_utc();
        let previous = self.status.lock().unwrap().temporary.clone();
        let entries = renewal::entries(desired, inventory, errors, issued, &previous);
        if errors.is_empty() {
            self.renewal_failures = 0;
            self.renewal_retry_at = None;
        } else {
            self.renewal_failures += 1;
            self.renewal_retry_at = Some(now + backoff(self.renewal_failures));
            for (name, error) in errors {
                tracing::warn!(
                    temporary = %name,
                    error = %error,
                    retry_in_secs = backoff(self.renewal_failures).as_secs(),
                    "issuing a temporary credential failed; retrying with backoff"
                );
            }
        }
        self.renew_at = renewal::next_renewal(&entries, now, rand::rng().random_range(0.0..=1.0));
        let (b, t) = (inventory.buckets.len(), inventory.tokens.len());
        let rotations = crate::plan::NextRotation::of(desired, inventory);
        let retiring = inventory.retiring.clone();
        self.retire_at = retiring.iter().map(|r| r.retire_at).min();
        self.watched = token_watch::watched(desired, inventory);
        if self.token_watch_at.is_none() {
            self.token_watch_at = Some(tokio::time::Instant::now() + desired.settings.token_watch);
        }
        self.update(|s| {
            (s.managed_buckets, s.managed_tokens) = (b, t);
            s.temporary = entries;
            s.rotations = rotations;
            s.retiring = retiring;
        });
    }

    /// One look of the token watch: list the managed families' tokens (nothing else), set
    /// the next look (stretched to what 5% of the budget pays for) and say why a pass is
    /// needed now, if one is.
    async fn watch_tokens(&mut self) -> Option<String> {
        use crate::cloudflare::ReadApi;
        let desired = self.desired.clone()?;
        let declared = desired.settings.token_watch;
        self.token_watch_at = Some(tokio::time::Instant::now() + declared);
        let (client, _) = self.client.as_ref()?;
        let owners: std::collections::BTreeSet<crate::config::Owner> =
            self.watched.iter().map(|w| w.owner).collect();
        let mut listed = std::collections::BTreeMap::new();
        for owner in owners {
            match client.list_tokens(owner).await {
                Ok(tokens) => {
                    listed.insert(owner, tokens);
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "token watch: listing tokens failed; the next look or pass tries again");
                    return None;
                }
            }
        }
        let pages = token_watch::pages(&listed);
        let every = crate::config::cost::token_watch_interval(declared, pages);
        self.token_watch_at = Some(tokio::time::Instant::now() + every);
        self.update(|s| {
            s.token_watch = Some(status::TokenWatchStatus {
                declared,
                every,
                pages,
            })
        });
        let found = token_watch::findings(&self.watched, &listed);
        for (name, why) in &found {
            self.dead_since
                .entry(name.clone())
                .or_insert_with(Instant::now);
            tracing::warn!(token = %name, status = why, "token watch: a managed token's credential is dead; starting a pass");
        }
        found.first().map(|_| "token watch".to_string())
    }

    /// When the loop should start a pass for a temporary credential, if any. While passes
    /// fail, their own backoff decides instead.
    fn renewal_due(&self) -> Option<(tokio::time::Instant, &'static str)> {
        if self.failures > 0 {
            return None;
        }
        let (at, why) = match (self.renew_at, self.renewal_retry_at) {
            (Some(a), Some(r)) if r < a => (r, "renewal retry"),
            (Some(a), _) => (a, "renewal"),
            (None, Some(r)) => (r, "renewal retry"),
            (None, None) => return None,
        };
        let wait = Duration::try_from(at - OffsetDateTime::now_utc()).unwrap_or_default();
        Some((tokio::time::Instant::now() + wait, why))
    }

    /// After SIGHUP: read the policy again. One that does not load keeps the last good
    /// one; a new one makes the next load parse the file again (its verdict may change).
    fn reload_policy(&mut self) {
        if !self
            .opts
            .reload_policy
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let Some(path) = self.opts.api.policy.policy.clone() else {
            return;
        };
        match self.opts.api.policy.load(&self.opts.file) {
            Ok(Some(policy)) => {
                let changed = self.policy.as_ref().map(|p| &p.sha256) != Some(&policy.sha256);
                if changed {
                    tracing::info!(policy = %path.display(), sha256 = %policy.sha256, "policy reloaded");
                    self.parsed_from = None;
                }
                self.update(|s| s.policy = Some(status::PolicyStatus::of(&policy, None)));
                self.policy = Some(policy);
            }
            Ok(None) => {}
            Err(e) => {
                let error = error_chain(&e);
                tracing::warn!(policy = %path.display(), error = %error, "the policy does not load; keeping the last good one");
                let kept = self.policy.clone();
                self.update(|s| {
                    s.policy = kept
                        .as_deref()
                        .map(|p| status::PolicyStatus::of(p, Some(error)))
                });
            }
        }
    }

    /// Read and validate the file; keep the last valid state when it fails.
    async fn load(&mut self) -> Result<(), Failed> {
        self.reload_policy();
        let policy = self
            .policy
            .clone()
            .map(|policy| crate::config::policy::Enforced {
                policy,
                interval: self.opts.interval,
            });
        let file = self.opts.file.clone();
        let output_dir = self.opts.api.output_dir.clone();
        let allow_adopt_roll = self.opts.api.adopt_rolls();
        let limits = self.opts.api.limits.operator();
        let pins = self.opts.api.publish.pins();
        let recipients_file = self
            .desired
            .as_ref()
            .and_then(|d| d.settings.recipients_file.clone());
        let parsed_from = self.parsed_from.clone();
        // Parsing a large file is most of a quiet pass's CPU and its peak memory: skipped
        // while neither the file nor its recipients file changed. What the file's facts
        // checked on disk (symlinks under the output directory) is checked again by the
        // planner and the writer on every pass.
        let (revision, inputs, loaded) = tokio::task::spawn_blocking(move || {
            let inputs = watch::inputs_revision(&file, recipients_file.as_deref());
            if inputs.is_some() && inputs == parsed_from {
                return (None, inputs, None);
            }
            (
                watch::revision(&file),
                inputs,
                Some(reconcile::load_desired_pinned(
                    &file,
                    output_dir.as_deref(),
                    allow_adopt_roll,
                    limits,
                    &pins,
                    policy.as_ref(),
                )),
            )
        })
        .await
        .expect("loading does not panic");
        let Some(loaded) = loaded else {
            // Unchanged since the last parse: its verdict stands (set in the status then).
            return match self.desired {
                Some(_) => Ok(()),
                None => Err(Failed::new("the desired-state file is not valid".into())),
            };
        };
        // The inputs read before the parse: a change in between is seen next pass.
        self.parsed_from = inputs;
        match loaded {
            Ok(desired) => {
                self.update(|s| {
                    s.file_revision = revision.clone();
                    s.applied_revision = revision;
                    s.config_valid = true;
                    s.config_errors.clear();
                    s.policy_violations = 0;
                    s.suspended = desired.settings.suspend;
                });
                self.desired = Some(Arc::new(desired));
                Ok(())
            }
            Err(diagnostics) => {
                let by_policy = diagnostics.is_policy();
                for d in &diagnostics.0 {
                    if by_policy {
                        tracing::warn!(diagnostic = %d, "the desired-state file violates the policy");
                    } else {
                        tracing::warn!(diagnostic = %d, "the desired-state file is not valid");
                    }
                }
                // The last valid state is good only under the policy it was checked
                // against: after a tightened policy it is not kept.
                let in_force = self.policy.as_ref().map(|p| p.sha256.as_str());
                if self
                    .desired
                    .as_ref()
                    .is_some_and(|d| d.policy.as_ref().map(|p| p.sha256.as_str()) != in_force)
                {
                    tracing::warn!(
                        "the last valid desired state was checked under another policy; it is not kept"
                    );
                    self.desired = None;
                    self.renewal_basis = None;
                }
                let kept = self.desired.is_some();
                tracing::warn!(
                    problems = diagnostics.len(),
                    "{}",
                    if kept {
                        "keeping the last valid desired state; nothing from this revision is applied"
                    } else {
                        "no valid desired state yet; waiting for a valid file"
                    }
                );
                if let Some(more) = diagnostics.omitted_line() {
                    tracing::warn!("{more}");
                }
                let violations = if by_policy { diagnostics.len() } else { 0 };
                self.update(|s| {
                    s.file_revision = revision;
                    s.config_valid = false;
                    s.policy_violations = violations;
                    s.config_errors = diagnostics.0.iter().map(|d| d.to_string()).collect();
                    s.config_errors.extend(diagnostics.omitted_line());
                });
                if kept {
                    Ok(())
                } else {
                    Err(Failed::new("the desired-state file is not valid".into()))
                }
            }
        }
    }

    /// Hold the lock of the current state file (it moves if the file's settings do).
    fn ensure_lock(&mut self, state_file: &Path) -> Result<(), Failed> {
        let want = crate::state::lock::lock_path(state_file);
        if self.lock.as_ref().is_some_and(|l| l.path == want) {
            return Ok(());
        }
        let lock = crate::state::lock::acquire(state_file).map_err(|e| Failed {
            fatal: true,
            ..Failed::new(error_chain(&e))
        })?;
        self.lock = Some(lock);
        Ok(())
    }

    /// The client for the desired account and the current API token, built (and its token
    /// verified) once, and again when either changes: the token file is re-read every pass,
    /// so rotating the daemon's own token needs no restart.
    async fn client(&mut self, desired: &Desired) -> Result<Client, Failed> {
        let config = self
            .opts
            .api
            .client_config(desired.account_id.as_deref())
            .map_err(|e| Failed {
                fatal: true,
                ..Failed::new(error_chain(&e))
            })?;
        // A digest, not a second copy of the token, to notice a rotation.
        let token: [u8; 32] = Sha256::digest(config.api_token.expose().as_bytes()).into();
        if let Some((c, in_use)) = &self.client {
            if c.account_id() == config.account_id && *in_use == token {
                return Ok(c.clone());
            }
            if *in_use != token {
                tracing::info!("the API token changed; verifying the new one");
                if let Some(path) = &self.opts.api.api_token_file {
                    crate::secret::warn_if_exposed(crate::cloudflare::config::API_TOKEN_FILE, path);
                }
            }
            status::add_metrics(&mut self.retired_api, &c.metrics());
            self.client = None;
            // Possibly another account: what was read no longer describes it.
            self.config_cache.clear();
        }
        let client = Client::connect(config).await.map_err(|e| Failed {
            retry_after: e.retry_after.map(Duration::from_secs),
            fatal: e.is_auth(),
            error: error_chain(&e),
        })?;
        self.client = Some((client.clone(), token));
        Ok(client)
    }

    /// One pass. Returns when its steps in flight are done (or at once if shutdown comes
    /// during observation, which has no side effects), and whether it was a full pass (a
    /// renewal pass observes nothing, so it does not count as the interval's resync).
    async fn pass(&mut self, fired: &Fired, shutdown: &Shutdown) -> bool {
        let trigger = fired.why.as_str();
        let started = Instant::now();
        let started_at = OffsetDateTime::now_utc();
        self.update(|s| s.pass_running = true);
        let mut full = true;
        let outcome = self.run_pass(fired.renewal_only, &mut full, shutdown).await;
        let duration_secs = started.elapsed().as_secs_f64();
        let PassDone {
            result,
            summary,
            lines: plan_lines,
            error,
        } = match outcome {
            Ok(Some(done)) => done,
            Ok(None) => {
                self.update(|s| s.pass_running = false);
                return full; // interrupted by shutdown before anything was applied
            }
            Err(f) => {
                self.retry_after = f.retry_after;
                PassDone {
                    result: PassResult::Failure,
                    summary: None,
                    lines: Vec::new(),
                    error: Some(f.error),
                }
            }
        };
        if result == PassResult::Failure {
            self.failures += 1;
        } else {
            self.failures = 0;
            self.retry_after = None;
        }
        let s = summary.unwrap_or_default();
        let scope = if full { "full" } else { "renewals" };
        match &error {
            // A standby polls every few seconds: its passes are not news.
            None if result == PassResult::Standby => tracing::debug!(trigger, "standby"),
            None => tracing::info!(
                trigger,
                scope,
                result = result.as_str(),
                create = s.create,
                update = s.update,
                roll = s.roll,
                replace = s.replace,
                delete = s.delete,
                issue = s.issue,
                blocked = s.blocked,
                orphans = s.orphans,
                unchanged = s.unchanged,
                duration_ms = (duration_secs * 1000.0) as u64,
                "pass"
            ),
            Some(e) => tracing::warn!(
                trigger,
                scope,
                result = result.as_str(),
                create = s.create,
                update = s.update,
                roll = s.roll,
                replace = s.replace,
                delete = s.delete,
                blocked = s.blocked,
                duration_ms = (duration_secs * 1000.0) as u64,
                error = %e,
                "pass"
            ),
        }
        let mut api = self.retired_api.clone();
        if let Some((c, _)) = &self.client {
            status::add_metrics(&mut api, &c.metrics());
        }
        self.update(|st| {
            st.pass_running = false;
            st.record_pass(LastPass {
                trigger: trigger.to_string(),
                started_at,
                duration_secs,
                result,
                summary,
                plan_lines,
                error,
            });
            st.api = api;
        });
        full
    }

    /// Publish to git when the file asks (`settings.publish`), and record the outcome for
    /// `/status` and `/metrics`. A failure is logged and retried by the next pass; it does
    /// not fail the pass (Cloudflare and the outputs are as declared).
    async fn publish(
        &mut self,
        store: &Store,
        desired: &Desired,
        inventory: &crate::inventory::Inventory,
        plan: &crate::plan::Plan,
    ) {
        let Some(spec) = &desired.settings.publish else {
            self.update(|s| s.publish = None);
            return;
        };
        let auth = self.opts.api.publish.auth();
        let Some(outcome) = reconcile::publish(store, desired, inventory, plan, &auth).await else {
            return;
        };
        let (branch, repository) = (
            spec.branch.clone(),
            spec.repository.file_name().map_or_else(
                || spec.repository.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        );
        let now = OffsetDateTime::now_utc();
        self.update(|s| {
            // Counters survive a change of target: exported counters never go down.
            let p = s.publish.get_or_insert_with(Default::default);
            (p.branch, p.repository) = (branch, repository);
            p.record(now, &outcome);
        });
    }

    /// Log what the desired state costs the daemon an hour, once per state loaded.
    fn log_cost(&mut self, desired: &Arc<Desired>) {
        if self.costed.ptr_eq(&Arc::downgrade(desired)) {
            return;
        }
        self.costed = Arc::downgrade(desired);
        let cost = crate::config::cost::estimate(desired, self.opts.interval);
        tracing::info!(
            calls_per_hour = cost.calls_per_hour().ceil() as u64,
            config_resync_secs = cost.config_resync.as_secs(),
            "{}",
            cost.line()
        );
    }

    #[allow(clippy::type_complexity)]
    async fn run_pass(
        &mut self,
        renewal_only: bool,
        full: &mut bool,
        shutdown: &Shutdown,
    ) -> Result<Option<PassDone>, Failed> {
        self.load().await?;
        let desired = self.desired.clone().expect("load keeps a valid state");
        self.log_cost(&desired);
        let store = match self.opts.state.clone() {
            None => {
                self.ensure_lock(&desired.settings.state_file)?;
                Store::File(desired.settings.state_file.clone())
            }
            Some(session) => {
                if !self.lead(&session).await? {
                    return Ok(Some(PassDone {
                        result: PassResult::Standby,
                        summary: None,
                        lines: Vec::new(),
                        error: None,
                    }));
                }
                Store::R2(session)
            }
        };
        let client = self.client(&desired).await?;
        // Renewing needs no observation while nothing but renewals is asked and the desired
        // state is the one the last successful full pass planned from: 60 credentials each
        // renewed by a full observation used several times Cloudflare's budget.
        let basis = self
            .renewal_basis
            .as_ref()
            .filter(|b| renewal_only && std::ptr::eq(b.desired.as_ptr(), Arc::as_ptr(&desired)))
            .map(|b| b.parents.clone());
        *full = basis.is_none();
        if *full {
            self.renewal_basis = None;
        }
        let planned = match &basis {
            Some(parents) => {
                reconcile::plan_renewals_in(
                    &store,
                    &client,
                    &desired,
                    &self.opts.endpoints,
                    parents,
                )
                .await
            }
            None => {
                let reads = crate::observe::Reads::Cached {
                    cache: &mut self.config_cache,
                    now: Instant::now(),
                };
                // A replica that has just taken over finds what its own disk lacks on the
                // publish branch; a suspended daemon writes nothing, not even that.
                let recovery = reconcile::Recovery {
                    auth: self.opts.api.publish.auth(),
                    restore: !desired.settings.suspend,
                };
                tokio::select! {
                    p = reconcile::plan_recovering(&store, &client, &desired, false, &self.opts.endpoints, reads, Some(&recovery)) => p,
                    _ = shutdown.wait() => return Ok(None),
                }
            }
        };
        let (plan, inventory) = planned.map_err(|e| Failed {
            retry_after: e.retry_after(),
            ..Failed::new(error_chain(&e))
        })?;
        let summary = plan.summary();
        if *full {
            let domains = plan.domains.clone();
            self.update(|st| st.custom_domains = domains);
        }
        // The parents this plan can issue under, for the renewals until the next full pass.
        let usable_parents = || {
            desired
                .temporary_credentials
                .iter()
                .map(|t| t.parent.clone())
                .filter(|p| {
                    !plan
                        .blocked
                        .iter()
                        .any(|b| b.kind == crate::plan::Kind::Token && b.name == *p)
                })
                .collect()
        };
        let basis_after =
            (*full && !desired.temporary_credentials.is_empty()).then(|| RenewalBasis {
                desired: Arc::downgrade(&desired),
                parents: usable_parents(),
            });
        let mut lines: Vec<String> = plan.steps.iter().map(step_line).collect();
        let auth = self.opts.api.publish.auth();
        if let Some(p) = reconcile::publish_preview(&desired, &inventory, &plan, &auth)
            .await
            .filter(|p| p.files > 0)
        {
            lines.push(p.line());
        }
        lines.extend(
            plan.blocked
                .iter()
                .map(|b| format!("! blocked {} {}: {}", b.kind.as_str(), b.name, b.reason)),
        );
        let none = std::collections::BTreeMap::new();
        if desired.settings.suspend {
            if plan.has_changes() {
                tracing::info!(
                    changes = plan.steps.len(),
                    "suspended: drift reported, nothing applied"
                );
            }
            self.note_inventory(&desired, &inventory, &none, &[]);
            return Ok(Some(PassDone {
                result: PassResult::Suspended,
                summary: Some(summary),
                lines,
                error: None,
            }));
        }
        if let Some(reason) = &plan.refused {
            return Err(Failed::new(format!("plan refused: {reason}")));
        }
        // What r2gitops writes to a bucket is read afresh by the next pass, whatever the
        // outcome (the apply's own read-back is not kept: a failed step may have half-done).
        for bucket in plan.steps.iter().filter_map(Step::changes_config_of) {
            self.config_cache
                .invalidate(&(bucket.jurisdiction, bucket.name.clone()));
        }
        // A zone or queue id used by a write may be stale if the write fails: ask again.
        if plan.steps.iter().any(Step::uses_lookups) {
            self.config_cache.forget_lookups();
        }
        if plan.has_changes() || !plan.bookkeeping.is_empty() {
            let stop = pass_stop(shutdown, self.opts.state.clone());
            let (report, inventory) = reconcile::apply_in(
                &store,
                client,
                &desired,
                &plan,
                inventory,
                &self.opts.endpoints,
                self.opts.api.concurrency.max(1),
                &stop.0,
                Some(&crate::apply::LogSteps),
            )
            .await;
            stop.1.abort();
            let readiness: Vec<f64> = report
                .steps
                .iter()
                .filter(|s| s.outcome.succeeded())
                .filter_map(|s| s.readiness.map(|d| d.as_secs_f64()))
                .collect();
            self.update(|st| readiness.iter().for_each(|secs| st.record_readiness(*secs)));
            // From first seeing a dead credential to its new output written.
            let delivered: Vec<f64> = report
                .steps
                .iter()
                .filter(|s| s.kind == "token" && s.outcome.succeeded())
                .filter_map(|s| self.dead_since.remove(&s.name))
                .map(|seen| seen.elapsed().as_secs_f64())
                .collect();
            self.update(|st| delivered.iter().for_each(|secs| st.record_exposure(*secs)));
            let (errors, issued, only_temporary) = renewal::from_report(&report);
            self.note_inventory(&desired, &inventory, &errors, &issued);
            // Right after the outputs are written, whatever else failed: what was written
            // is on the branch before any later pass (a retirement) depends on it.
            self.publish(&store, &desired, &inventory, &plan).await;
            if report.has_errors() && !only_temporary {
                let first = report
                    .steps
                    .iter()
                    .find_map(|s| match &s.outcome {
                        crate::apply::Outcome::Failed(e) => Some(format!("{}: {e}", s.line)),
                        _ => None,
                    })
                    .or_else(|| report.inventory_errors.first().cloned())
                    .unwrap_or_else(|| "an output self-test failed".into());
                return Err(Failed::new(first));
            }
        } else {
            self.note_inventory(&desired, &inventory, &none, &[]);
            // Level-triggered: a publish that failed earlier is caught up by a quiet pass.
            self.publish(&store, &desired, &inventory, &plan).await;
        }
        if let Some(b) = basis_after {
            self.renewal_basis = Some(b);
        }
        Ok(Some(PassDone {
            result: PassResult::Success,
            summary: Some(summary),
            lines,
            error: None,
        }))
    }
}

impl Daemon {
    /// With `--state`: whether this replica leads now. A lease it holds and may still use
    /// is kept (the renewer renews it); otherwise it tries once to take the lease, and
    /// stands by when another replica holds it.
    async fn lead(&mut self, session: &Arc<Session>) -> Result<bool, Failed> {
        if session.may_mutate() {
            return Ok(true);
        }
        let was_leader = session.held().is_some();
        if was_leader {
            session.forget();
            tracing::warn!(state = %session.url(), "the state lease was lost; standing by");
        }
        match session.take_lease(&self.holder, time::Duration::ZERO).await {
            Ok(()) => {
                self.update(|s| s.leader = Some(true));
                Ok(true)
            }
            Err(crate::state::r2::StateError::Held {
                holder, expires_at, ..
            }) => {
                let first = self.status.lock().unwrap().leader != Some(false);
                if first {
                    tracing::info!(state = %session.url(), leader = %holder, expires_at = %expires_at, "standing by: another replica holds the state lease");
                }
                self.update(|s| s.leader = Some(false));
                Ok(false)
            }
            Err(e) => {
                self.update(|s| s.leader = Some(false));
                Err(Failed::new(error_chain(&e)))
            }
        }
    }
}

/// The stop of one apply: the daemon's shutdown, or (with `--state`) the lease no longer
/// usable, whichever comes first. The task is aborted when the apply returns.
fn pass_stop(
    shutdown: &Shutdown,
    session: Option<Arc<Session>>,
) -> (Stop, tokio::task::JoinHandle<()>) {
    let stop = Stop::new();
    let (s, sd) = (stop.clone(), shutdown.clone());
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = sd.wait() => {
                    s.request();
                    return;
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if let Some(session) = &session
                        && !session.may_mutate()
                    {
                        s.request_because(format!(
                            "not started: the lease on the state {} is no longer held",
                            session.url()
                        ));
                        return;
                    }
                }
            }
        }
    });
    (stop, task)
}

/// Renew the state lease every TTL/6 tick for the daemon's life, and wake the loop when it
/// was lost, so that this replica stands by (and polls) at once.
fn spawn_renewer(
    session: Arc<Session>,
    status: http::Shared,
    triggers: Arc<Triggers>,
) -> tokio::task::JoinHandle<()> {
    let sixth: time::Duration = session.ttl() / 6;
    let tick = sixth.unsigned_abs().max(Duration::from_millis(200));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(tick).await;
            if session.held().is_none() {
                continue;
            }
            let _ = session.renew_if_due().await;
            if !session.may_mutate() {
                session.forget();
                status.lock().unwrap().leader = Some(false);
                tracing::warn!(state = %session.url(), "the state lease was lost; standing by");
                triggers.fire("lease lost");
            }
        }
    })
}

/// What one pass came to, for its log line and `/status`.
struct PassDone {
    result: PassResult,
    /// The plan's counts (none when the pass failed before it had a plan).
    summary: Option<crate::plan::Summary>,
    /// The plan's lines, as `/status` shows them.
    lines: Vec<String>,
    /// Why it failed.
    error: Option<String>,
}

/// A bound listener of the status server, and who may read `/status` on it.
pub struct Listener {
    pub socket: tokio::net::TcpListener,
    pub status: http::StatusAccess,
}

/// Run the daemon until `shutdown`. The listeners are already bound (so a bad `--listen`
/// fails before anything else).
pub async fn run(
    opts: Options,
    listeners: Vec<Listener>,
    shutdown: Shutdown,
    triggers: Arc<Triggers>,
) -> Result<(), Box<dyn std::error::Error>> {
    let status: http::Shared = Arc::new(Mutex::new(Status {
        file: opts.file.display().to_string(),
        ..Status::default()
    }));
    let mut daemon = Daemon {
        opts,
        status: status.clone(),
        desired: None,
        parsed_from: None,
        client: None,
        lock: None,
        failures: 0,
        retry_after: None,
        retired_api: Default::default(),
        renewal_failures: 0,
        renew_at: None,
        renewal_retry_at: None,
        retire_at: None,
        watched: Vec::new(),
        token_watch_at: None,
        dead_since: Default::default(),
        config_cache: crate::observe::ConfigCache::new(crate::config::DEFAULT_CONFIG_RESYNC),
        renewal_basis: None,
        costed: std::sync::Weak::new(),
        holder: crate::state::r2::session::holder_name(),
        policy: None,
    };
    daemon.policy = daemon.opts.policy.clone();
    if let Some(p) = &daemon.policy {
        tracing::info!(policy = %p.file, sha256 = %p.sha256, "policy in force");
        let shown = status::PolicyStatus::of(p, None);
        daemon.update(|s| s.policy = Some(shown));
    }

    // Fail fast on what cannot get better by waiting: another daemon on this inventory, a
    // rejected API token. A file that is invalid at start is waited for instead.
    if daemon.load().await.is_ok() {
        let desired = daemon.desired.clone().expect("loaded");
        if daemon.opts.state.is_none() {
            daemon
                .ensure_lock(&desired.settings.state_file)
                .map_err(|f| f.error)?;
        }
        if let Err(f) = daemon.client(&desired).await {
            if f.fatal {
                return Err(f.error.into());
            }
            tracing::warn!(error = %f.error, "cannot reach Cloudflare yet; will retry");
        }
    }

    let servers: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            let s = shutdown.clone();
            let router = http::router(status.clone(), l.status);
            tokio::spawn(http::serve(l.socket, router, async move { s.wait().await }))
        })
        .collect();
    let watcher = {
        let t = triggers.clone();
        tokio::spawn(watch::run(
            daemon.opts.file.clone(),
            daemon.opts.debounce,
            move || t.fire("file change"),
        ))
    };

    let renewer = daemon
        .opts
        .state
        .clone()
        .map(|s| spawn_renewer(s, status.clone(), triggers.clone()));
    // A standby polls the lease this often, so that it takes over within TTL + one poll.
    let poll = daemon
        .opts
        .state
        .as_ref()
        .map(|s| crate::state::lease::renew_every(s.ttl()).unsigned_abs());
    triggers.fire("start");
    let mut next_due = tokio::time::Instant::now() + jittered(daemon.opts.interval);
    loop {
        let renewal = daemon.renewal_due();
        let renewal_wait = async {
            match renewal {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // A retirement is a full pass at the earliest `retire_at` (coalesced with any other
        // trigger); while passes fail, their own backoff decides.
        let retirement = daemon.retire_at.filter(|_| daemon.failures == 0).map(|at| {
            let wait = Duration::try_from(at - OffsetDateTime::now_utc()).unwrap_or_default();
            tokio::time::Instant::now() + wait
        });
        let retirement_wait = async {
            match retirement {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let watch_at = daemon.token_watch_at.filter(|_| daemon.failures == 0);
        let token_watch_wait = async {
            match watch_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = triggers.wake.notified() => {}
            _ = tokio::time::sleep_until(next_due) => {
                let standby = daemon.status.lock().unwrap().leader == Some(false);
                triggers.fire(if standby {
                    "lease poll"
                } else if daemon.failures > 0 {
                    "retry"
                } else {
                    "interval"
                });
            }
            _ = renewal_wait => {
                triggers.fire_renewal(renewal.map_or("renewal", |(_, why)| why));
            }
            _ = retirement_wait => {
                // Taken now, so that a pass that fails to retire does not fire at once again.
                daemon.retire_at = None;
                triggers.fire("retirement");
            }
            _ = token_watch_wait => {
                if let Some(why) = daemon.watch_tokens().await {
                    triggers.fire(&why);
                }
            }
            _ = shutdown.wait() => break,
        }
        if shutdown.stop.requested() {
            break;
        }
        let Some(fired) = triggers.take() else {
            continue;
        };
        let full = daemon.pass(&fired, &shutdown).await;
        if shutdown.stop.requested() {
            break;
        }
        // A renewal pass observed nothing: the interval's resync stays due when it was.
        let standby = daemon.status.lock().unwrap().leader == Some(false);
        if let Some(poll) = poll.filter(|_| standby) {
            next_due = tokio::time::Instant::now() + poll;
        } else if daemon.failures > 0 {
            let wait = backoff(daemon.failures).max(daemon.retry_after.unwrap_or_default());
            next_due = tokio::time::Instant::now() + wait;
        } else if full {
            next_due = tokio::time::Instant::now() + jittered(daemon.opts.interval);
        }
    }
    tracing::info!("shutting down");
    if let Some(r) = renewer {
        r.abort();
    }
    // Released at once (a conditional DELETE), so that a standby need not wait for expiry.
    if let Some(s) = &daemon.opts.state {
        s.release().await;
    }
    watcher.abort();
    for server in servers {
        let _ = server.await;
    }
    Ok(())
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
    pub state: crate::args::StateArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How errors and warnings name `--status-token-file`.
const STATUS_TOKEN_FILE: &str = "the status token file";

fn parse_listen(flag: &str, value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("--{flag} '{value}': expected HOST:PORT, e.g. 127.0.0.1:9477"))
}

/// Threads for blocking file work (reads, hashes, age files); see `cmd`.
const BLOCKING_THREADS: usize = 1;

pub fn cmd(args: &WatchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let bad = |flag: &str, v: &str| {
        format!("--{flag} '{v}': expected a duration such as 500ms, 30s, 10m or 1h")
    };
    let interval = parse_flag_duration(&args.interval)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| bad("interval", &args.interval))?;
    let debounce =
        parse_flag_duration(&args.debounce).ok_or_else(|| bad("debounce", &args.debounce))?;
    let listen = parse_listen("listen", &args.listen)?;
    let status_listen = args
        .status_listen
        .as_deref()
        .map(|a| parse_listen("status-listen", a))
        .transpose()?;
    let status_token: Option<Arc<[u8; 32]>> = match &args.status_token_file {
        Some(path) => {
            let token = crate::secret::read_token_file(STATUS_TOKEN_FILE, path)?;
            crate::secret::warn_if_exposed(STATUS_TOKEN_FILE, path);
            Some(Arc::new(Sha256::digest(token.expose().as_bytes()).into()))
        }
        None => None,
    };
    if let Some(addr) = status_listen.filter(|a| !a.ip().is_loopback() && status_token.is_none()) {
        return Err(format!(
            "--status-listen {addr}: /status shows token names and ids, bucket names and paths\n  hint: bind it to a loopback address (127.0.0.1:PORT), or require a bearer token with --status-token-file"
        )
        .into());
    }
    let endpoints = S3Endpoints::from_args(
        &args.api.s3_endpoints,
        std::env::var("R2GITOPS_S3_ENDPOINTS").ok().as_deref(),
    )?;
    args.api.preflight()?;
    let state = match args.state.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(_) => {
            // The account for the state's S3 endpoint: the file's, else the flag's.
            let desired = reconcile::load_desired(
                &args.file.file,
                args.api.output_dir.as_deref(),
                crate::config::AdoptRolls::Refused,
            )
            .ok();
            let from_file = desired.and_then(|d| d.account_id);
            let state_api = args
                .state
                .needs_api()
                .then(|| args.api.client_config(from_file.as_deref()))
                .transpose()?;
            let account = from_file
                .or(args.api.connect.account_id.clone())
                .ok_or("--state r2://… needs the account for its S3 endpoint: account_id in the file, --account-id or CLOUDFLARE_ACCOUNT_ID")?;
            args.state.open(&account, &endpoints, state_api, true)?
        }
    };
    // A policy that does not load stops the daemon at start: it never runs unguarded.
    let policy = args.api.policy.load(&args.file.file)?;
    let reload_policy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opts = Options {
        file: args.file.file.clone(),
        interval,
        debounce,
        api: args.api.clone(),
        endpoints,
        state,
        policy,
        reload_policy: reload_policy.clone(),
    };
    // One thread runs the passes and the status server, and one more does the blocking
    // reads and writes: the daemon waits on the network almost all the time, and every
    // thread that allocates costs a malloc arena that keeps what it freed (`cargo bench
    // --bench scale`: peak RSS at 10,000 buckets).
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()?
        .block_on(async {
            let bind = |flag: &'static str, addr: SocketAddr| async move {
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("--{flag}: cannot listen on {addr}: {e}"))
            };
            let mut listeners = Vec::new();
            for (flag, addr) in [("listen", Some(listen)), ("status-listen", status_listen)] {
                let Some(addr) = addr else { continue };
                let socket = bind(flag, addr).await?;
                let status = http::StatusAccess::for_listener(&addr, status_token.as_ref());
                listeners.push(Listener { socket, status });
            }
            let main = &listeners[0];
            let status_on = |l: &Listener| {
                format!(
                    "{} ({})",
                    l.socket
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    l.status.as_str()
                )
            };
            match listeners.get(1) {
                None => tracing::info!(
                    file = %opts.file.display(),
                    listen = %main.socket.local_addr()?,
                    interval = %args.interval,
                    status = %status_on(main),
                    "watching"
                ),
                Some(second) => tracing::info!(
                    file = %opts.file.display(),
                    listen = %main.socket.local_addr()?,
                    status_listen = %second.socket.local_addr()?,
                    interval = %args.interval,
                    status = %format!("{}, {}", status_on(main), status_on(second)),
                    "watching"
                ),
            }
            let shutdown = Shutdown::default();
            let triggers = Arc::new(Triggers::default());
            let (s, t) = (shutdown.clone(), triggers.clone());
            crate::signals::spawn(
                Box::new(move || s.request()),
                Some(Box::new(move || {
                    reload_policy.store(true, std::sync::atomic::Ordering::SeqCst);
                    t.fire("signal")
                })),
            )?;
            run(opts, listeners, shutdown, triggers).await?;
            Ok(ExitCode::SUCCESS)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_5s_and_caps_at_5min() {
        let got: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn flag_durations() {
        let cases = [
            ("500ms", Some(Duration::from_millis(500))),
            ("30s", Some(Duration::from_secs(30))),
            ("10m", Some(Duration::from_secs(600))),
            ("1h", Some(Duration::from_secs(3600))),
            ("10", None),
            ("m", None),
            ("1.5s", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_flag_duration(text), want, "{text}");
        }
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(600)).as_secs_f64();
            assert!((540.0..=660.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn triggers_coalesce_into_one_pass_keeping_the_first_reason() {
        let t = Triggers::default();
        t.fire("file change");
        t.fire("interval");
        t.fire("signal");
        assert_eq!(t.take().map(|f| f.why).as_deref(), Some("file change"));
        assert_eq!(t.take(), None);
    }

    #[test]
    fn a_pass_is_for_renewals_only_while_every_merged_trigger_is_a_renewal() {
        let t = Triggers::default();
        t.fire_renewal("renewal");
        t.fire_renewal("renewal retry");
        let f = t.take().unwrap();
        assert_eq!((f.why.as_str(), f.renewal_only), ("renewal", true));
        t.fire_renewal("renewal");
        t.fire("file change");
        let f = t.take().unwrap();
        assert_eq!((f.why.as_str(), f.renewal_only), ("renewal", false));
        t.fire("interval");
        t.fire_renewal("renewal");
        assert!(!t.take().unwrap().renewal_only);
    }
}
