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
//! - `triggers`: what starts a pass (coalesced triggers, backoff, the shutdown input).
//! - `load`: reading the file and the policy, the inventory's lock, the API client.
//! - `pass`: one pass (plan, apply, publish) and what it came to.
//! - `lead`: with `--state`, the lease: leading, standing by, renewing.
//! - `command`: `r2gitops watch`'s flags and start-up.
//! - `status`: readiness, `/status` JSON and `/metrics` text (pure).
//! - `renewal`: when the next renewal is due, and the temporary credentials' metrics (pure).
//! - `http`: the status server (who may read `/status`; bounded connections).
//! - `watch`: directory watches, debounce, content hash.

mod command;
pub mod http;
mod lead;
mod load;
mod pass;
pub mod renewal;
pub mod status;
pub mod token_watch;
mod triggers;
pub mod watch;

pub use command::{WatchArgs, cmd};
pub use triggers::{Fired, Shutdown, Triggers, backoff, parse_flag_duration};

use lead::{pass_stop, spawn_renewer};
use triggers::jittered;

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

/// What the last full pass established for the renewals after it: the desired state it
/// planned from (the same `Arc`: a reload is a new one), and the parent tokens it found
/// usable. A renewal pass issues under these at their inventory ids and observes nothing;
/// any other trigger, or another desired state, makes a full pass again.
struct RenewalBasis {
    desired: std::sync::Weak<Desired>,
    parents: std::collections::BTreeSet<String>,
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
    let mut daemon = Daemon::new(opts, status.clone());
    daemon.start().await?;
    let servers = serve(listeners, &status, &shutdown);
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
    daemon.run_passes(&triggers, &shutdown).await;
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

/// One status server per listener, each stopping at `shutdown`.
fn serve(
    listeners: Vec<Listener>,
    status: &http::Shared,
    shutdown: &Shutdown,
) -> Vec<tokio::task::JoinHandle<std::io::Result<()>>> {
    listeners
        .into_iter()
        .map(|l| {
            let s = shutdown.clone();
            let router = http::router(status.clone(), l.status);
            tokio::spawn(http::serve(l.socket, router, async move { s.wait().await }))
        })
        .collect()
}

/// Sleep until `at`; without one, forever (a `select!` branch that never fires).
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    fn new(opts: Options, status: http::Shared) -> Self {
        let mut daemon = Daemon {
            opts,
            status,
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
        daemon
    }

    /// Fail fast on what cannot get better by waiting: another daemon on this inventory, a
    /// rejected API token. A file that is invalid at start is waited for instead.
    async fn start(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        if self.load().await.is_ok() {
            let desired = self.desired.clone().expect("loaded");
            if self.opts.state.is_none() {
                self.ensure_lock(&desired.settings.state_file)
                    .map_err(|f| f.error)?;
            }
            if let Err(f) = self.client(&desired).await {
                if f.fatal {
                    return Err(f.error.into());
                }
                tracing::warn!(error = %f.error, "cannot reach Cloudflare yet; will retry");
            }
        }
        Ok(())
    }

    /// Until shutdown: wait for a trigger, run a pass, set when the next interval (or
    /// retry, or lease poll) is due.
    async fn run_passes(&mut self, triggers: &Triggers, shutdown: &Shutdown) {
        // A standby polls the lease this often, so that it takes over within TTL + one poll.
        let poll = self
            .opts
            .state
            .as_ref()
            .map(|s| crate::state::lease::renew_every(s.ttl()).unsigned_abs());
        triggers.fire("start");
        let mut next_due = tokio::time::Instant::now() + jittered(self.opts.interval);
        loop {
            if self.wait_for_trigger(triggers, shutdown, next_due).await
                || shutdown.stop.requested()
            {
                break;
            }
            let Some(fired) = triggers.take() else {
                continue;
            };
            let full = self.pass(&fired, shutdown).await;
            if shutdown.stop.requested() {
                break;
            }
            // A renewal pass observed nothing: the interval's resync stays due when it was.
            let standby = self.status.lock().unwrap().leader == Some(false);
            if let Some(poll) = poll.filter(|_| standby) {
                next_due = tokio::time::Instant::now() + poll;
            } else if self.failures > 0 {
                let wait = backoff(self.failures).max(self.retry_after.unwrap_or_default());
                next_due = tokio::time::Instant::now() + wait;
            } else if full {
                next_due = tokio::time::Instant::now() + jittered(self.opts.interval);
            }
        }
    }

    /// Wait for whatever comes first: a trigger, the interval, a renewal, a retirement, a
    /// look of the token watch, or shutdown (then true). Each fires its trigger.
    async fn wait_for_trigger(
        &mut self,
        triggers: &Triggers,
        shutdown: &Shutdown,
        next_due: tokio::time::Instant,
    ) -> bool {
        let renewal = self.renewal_due();
        // A retirement is a full pass at the earliest `retire_at` (coalesced with any other
        // trigger); while passes fail, their own backoff decides.
        let retirement = self.retire_at.filter(|_| self.failures == 0).map(|at| {
            let wait = Duration::try_from(at - OffsetDateTime::now_utc()).unwrap_or_default();
            tokio::time::Instant::now() + wait
        });
        let watch_at = self.token_watch_at.filter(|_| self.failures == 0);
        tokio::select! {
            _ = triggers.wake.notified() => {}
            _ = tokio::time::sleep_until(next_due) => {
                let standby = self.status.lock().unwrap().leader == Some(false);
                triggers.fire(if standby {
                    "lease poll"
                } else if self.failures > 0 {
                    "retry"
                } else {
                    "interval"
                });
            }
            _ = sleep_until_some(renewal.map(|(at, _)| at)) => {
                triggers.fire_renewal(renewal.map_or("renewal", |(_, why)| why));
            }
            _ = sleep_until_some(retirement) => {
                // Taken now, so that a pass that fails to retire does not fire at once again.
                self.retire_at = None;
                triggers.fire("retirement");
            }
            _ = sleep_until_some(watch_at) => {
                if let Some(why) = self.watch_tokens().await {
                    triggers.fire(&why);
                }
            }
            _ = shutdown.wait() => return true,
        }
        false
    }
}
