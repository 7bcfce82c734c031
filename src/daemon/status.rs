//! What the daemon knows about itself, and its renderings for `/readyz`, `/status` and
//! `/metrics` (Prometheus text format 0.0.4). Plain data and pure rendering: the loop
//! updates it, the HTTP server reads it. Never a secret: plans and errors only.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::cloudflare::ClientMetrics;
use crate::plan::Summary;
use crate::plan::timestamp;

/// Upper bounds (seconds) of the readiness histogram: how long a rotation's new key took to
/// pass its signed S3 probe (seconds, as R2 propagates; at most `readiness_timeout`).
pub const READINESS_BUCKETS: [f64; 10] = [0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0];

/// Upper bounds (seconds) of the exposure histogram: from the token watch (or a pass) first
/// seeing a dead credential to its new output written.
pub const EXPOSURE_BUCKETS: [f64; 10] =
    [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// The token watch as it runs: the declared cadence, the one run (stretched to fit 5% of
/// the budget when the account holds many tokens), and the pages one look lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenWatchStatus {
    pub declared: std::time::Duration,
    pub every: std::time::Duration,
    pub pages: u64,
}

/// Upper bounds (seconds) of the pass-duration histogram.
pub const DURATION_BUCKETS: [f64; 11] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PassResult {
    Success,
    Failure,
    /// `settings.suspend: true`: observed and planned, nothing applied.
    Suspended,
    /// `--state`: another replica holds the lease; the file was read and is valid, nothing
    /// was observed or applied.
    Standby,
}

impl PassResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PassResult::Success => "success",
            PassResult::Failure => "failure",
            PassResult::Suspended => "suspended",
            PassResult::Standby => "standby",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LastPass {
    pub trigger: String,
    pub started_at: OffsetDateTime,
    pub duration_secs: f64,
    pub result: PassResult,
    pub summary: Option<Summary>,
    /// The plan's text, for `/status` (holds no secret by construction).
    pub plan_lines: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    pub file: String,
    /// SHA-256 of the file's bytes as last read (valid or not).
    pub file_revision: Option<String>,
    /// SHA-256 of the file the daemon currently works from.
    pub applied_revision: Option<String>,
    pub config_valid: bool,
    pub config_errors: Vec<String>,
    pub last_pass: Option<LastPass>,
    pub last_success: Option<OffsetDateTime>,
    pub passes: BTreeMap<PassResult, u64>,
    /// Cumulative counts per histogram bucket (same order as `DURATION_BUCKETS`), +Inf last.
    pub duration_buckets: [u64; 12],
    pub duration_sum: f64,
    pub managed_buckets: usize,
    pub managed_tokens: usize,
    /// The Cloudflare client's counters, summed over every client this process built.
    pub api: ClientMetrics,
    pub suspended: bool,
    pub pass_running: bool,
    /// Each declared temporary credential: expiry, next renewal, last error.
    pub temporary: Vec<super::renewal::TemporaryEntry>,
    /// Each attached custom domain of a bucket that declares them, as the last plan saw it:
    /// Cloudflare's progress (ownership, ssl), never drift.
    pub custom_domains: Vec<crate::plan::DomainInfo>,
    /// When each token with `rotate_every` is next rolled, as the last plan saw it.
    pub rotations: Vec<crate::plan::NextRotation>,
    /// Old keys of rotated tokens in their overlap, as the inventory records them.
    pub retiring: Vec<crate::inventory::RetiringRecord>,
    /// Cumulative counts per readiness bucket (`READINESS_BUCKETS`), +Inf last, and the sum.
    pub readiness_buckets: [u64; 11],
    pub readiness_sum: f64,
    /// The token watch, once it has looked.
    pub token_watch: Option<TokenWatchStatus>,
    /// Cumulative counts per exposure bucket (`EXPOSURE_BUCKETS`), +Inf last, and the sum.
    pub exposure_buckets: [u64; 11],
    pub exposure_sum: f64,
    /// Publishing to git (`settings.publish`): the last commit pushed and the last failure.
    pub publish: Option<PublishStatus>,
    /// With `--state`: whether this replica holds the lease (`None`: no shared state, the
    /// one daemon leads).
    pub leader: Option<bool>,
    /// The operator's policy (`--policy`): its path and SHA-256, never its content.
    pub policy: Option<PolicyStatus>,
    /// Violations of the policy in the file as last read (0 when it passes, or fails for
    /// another reason).
    pub policy_violations: usize,
}

/// The policy as `/status` shows it: where it is and which bytes, never what it says (an
/// allow-list of recipients and names is the operator's, not every reader's).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyStatus {
    pub path: String,
    pub sha256: String,
    /// The last SIGHUP's reload error, when it failed (the policy above is still in force).
    pub reload_error: Option<String>,
}

impl PolicyStatus {
    pub fn of(policy: &crate::config::policy::Policy, reload_error: Option<String>) -> Self {
        PolicyStatus {
            path: policy.file.clone(),
            sha256: policy.sha256.clone(),
            reload_error,
        }
    }
}

/// What the daemon knows of its publishing: never a value (commits hold ciphertext only).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PublishStatus {
    pub branch: String,
    /// The clone's directory name.
    pub repository: String,
    /// The last commit this daemon pushed (40 hex), and when.
    pub last_commit: Option<String>,
    pub last_commit_at: Option<OffsetDateTime>,
    /// The last attempt, and its error when it failed (`None`: it succeeded).
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub commits: u64,
    pub unchanged: u64,
    pub failures: u64,
}

impl PublishStatus {
    /// Record one attempt's outcome.
    pub fn record(
        &mut self,
        at: OffsetDateTime,
        outcome: &Result<crate::publish::Published, String>,
    ) {
        self.last_attempt_at = Some(at);
        match outcome {
            Ok(crate::publish::Published::Commit { commit, .. }) => {
                self.commits += 1;
                self.last_commit = Some(commit.clone());
                self.last_commit_at = Some(at);
                self.last_error = None;
            }
            Ok(crate::publish::Published::Unchanged) => {
                self.unchanged += 1;
                self.last_error = None;
            }
            Err(e) => {
                self.failures += 1;
                self.last_error = Some(e.clone());
            }
        }
    }

    fn json(&self) -> Value {
        json!({
            "branch": self.branch,
            "repository": self.repository,
            "last_commit": self.last_commit,
            "last_commit_at": self.last_commit_at.map(timestamp),
            "last_attempt_at": self.last_attempt_at.map(timestamp),
            "error": self.last_error,
        })
    }

    fn prometheus(&self, o: &mut String) {
        let c = "r2gitops_publish_total";
        header(o, c, "counter", "Publishes to git after a pass, by result.");
        for (result, n) in [
            ("commit", self.commits),
            ("unchanged", self.unchanged),
            ("failure", self.failures),
        ] {
            let _ = writeln!(o, "{c}{{result=\"{result}\"}} {n}");
        }
        let g = "r2gitops_publish_failing";
        header(o, g, "gauge", "1 when the last publish to git failed.");
        let _ = writeln!(o, "{g} {}", u8::from(self.last_error.is_some()));
        let g = "r2gitops_publish_last_commit_timestamp_seconds";
        header(
            o,
            g,
            "gauge",
            "Unix time of the last commit pushed (0: never).",
        );
        let at = self.last_commit_at.map_or(0, |t| t.unix_timestamp());
        let _ = writeln!(o, "{g} {at}");
    }

    /// The last commit pushed, as a label: an id, so only where `/status` is open (as the
    /// temporary credentials' named series).
    pub fn commit_metric(&self) -> String {
        let mut o = String::new();
        if let Some(commit) = self
            .last_commit
            .as_ref()
            .filter(|c| c.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            let g = "r2gitops_publish_last_commit_info";
            header(&mut o, g, "gauge", "The last commit pushed, as a label.");
            let _ = writeln!(o, "{g}{{commit=\"{commit}\"}} 1");
        }
        o
    }
}

/// Why the daemon is not ready: a fixed class, and the error behind it when there is one.
/// The detail names files, ids and tokens, so it is shown only where `/status` is open; a
/// probe on a listener facing the network gets the class alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub class: &'static str,
    pub detail: Option<String>,
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.detail {
            Some(d) => write!(f, "{}: {d}", self.class),
            None => f.write_str(self.class),
        }
    }
}

impl Status {
    /// Ready: the file is valid and the last pass succeeded (a suspended pass counts: it
    /// observed and planned without error).
    pub fn readiness(&self) -> Result<(), NotReady> {
        let not = |class, detail| Err(NotReady { class, detail });
        if !self.config_valid && self.policy_violations > 0 {
            return not(
                "policy",
                Some(format!(
                    "the desired-state file violates the operator's policy ({} violation{})",
                    self.policy_violations,
                    if self.policy_violations == 1 { "" } else { "s" }
                )),
            );
        }
        if !self.config_valid {
            return not("the desired-state file is not valid", None);
        }
        match &self.last_pass {
            None => not("no pass has completed yet", None),
            Some(p) if p.result == PassResult::Failure => not(
                "the last pass failed",
                Some(p.error.clone().unwrap_or_else(|| "see the logs".into())),
            ),
            Some(_) => Ok(()),
        }
    }

    /// `readiness` with its detail, as `/status` and a loopback `/readyz` show it.
    pub fn ready(&self) -> Result<(), String> {
        self.readiness().map_err(|n| n.to_string())
    }

    /// One rotation's readiness probe that passed, after `secs`.
    pub fn record_readiness(&mut self, secs: f64) {
        let slot = READINESS_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(READINESS_BUCKETS.len());
        for b in &mut self.readiness_buckets[slot..] {
            *b += 1;
        }
        self.readiness_sum += secs;
    }

    /// One dead credential whose new output was written `secs` after it was first seen.
    pub fn record_exposure(&mut self, secs: f64) {
        let slot = EXPOSURE_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(EXPOSURE_BUCKETS.len());
        for b in &mut self.exposure_buckets[slot..] {
            *b += 1;
        }
        self.exposure_sum += secs;
    }

    pub fn record_pass(&mut self, pass: LastPass) {
        *self.passes.entry(pass.result).or_default() += 1;
        let slot = DURATION_BUCKETS
            .iter()
            .position(|b| pass.duration_secs <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        for b in &mut self.duration_buckets[slot..] {
            *b += 1;
        }
        self.duration_sum += pass.duration_secs;
        if matches!(pass.result, PassResult::Success | PassResult::Suspended) {
            self.last_success = Some(pass.started_at);
        }
        self.last_pass = Some(pass);
    }

    pub fn json(&self) -> Value {
        let ready = self.ready();
        json!({
            "ready": ready.is_ok(),
            "not_ready_reason": ready.err(),
            "file": self.file,
            "file_revision": self.file_revision,
            "applied_revision": self.applied_revision,
            "config_valid": self.config_valid,
            "config_errors": self.config_errors,
            "suspended": self.suspended,
            "role": match self.leader {
                Some(false) => "standby",
                _ => "leader",
            },
            "pass_running": self.pass_running,
            "last_success": self.last_success.map(timestamp),
            "managed": {"buckets": self.managed_buckets, "tokens": self.managed_tokens},
            "custom_domains": self.custom_domains.iter().map(crate::plan::render::domain_json).collect::<Vec<_>>(),
            "rotations": self.rotations.iter().map(crate::plan::render::rotation_json).collect::<Vec<_>>(),
            "token_watch": self.token_watch.map(|w| json!({
                "declared_seconds": w.declared.as_secs(),
                "interval_seconds": w.every.as_secs(),
                "pages": w.pages,
                "stretched": w.every > w.declared,
                "note": (w.every > w.declared).then(|| format!(
                    "stretched from {}s to {}s: listing {} pages more often would spend more than 5% of Cloudflare's budget",
                    w.declared.as_secs(), w.every.as_secs(), w.pages
                )),
            })),
            "retiring": self.retiring.iter().map(|r| json!({
                "token": r.token, "id": r.id, "retire_at": timestamp(r.retire_at),
            })).collect::<Vec<_>>(),
            "publish": self.publish.as_ref().map(PublishStatus::json),
            "policy": self.policy.as_ref().map(|p| json!({
                "path": p.path,
                "sha256": p.sha256,
                "reload_error": p.reload_error,
                "violations": self.policy_violations,
            })),
            "last_pass": self.last_pass.as_ref().map(|p| json!({
                "trigger": p.trigger,
                "started_at": timestamp(p.started_at),
                "duration_seconds": p.duration_secs,
                "result": p.result.as_str(),
                "error": p.error,
                "plan": p.plan_lines,
                "summary": p.summary.map(|s| json!({
                    "create": s.create, "update": s.update, "roll": s.roll, "delete": s.delete,
                    "rotate": s.rotate, "retire": s.retire, "issue": s.issue,
                    "blocked": s.blocked, "orphans": s.orphans, "unchanged": s.unchanged,
                })),
            })),
        })
    }

    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let o = &mut out;
        self.passes_total(o);
        histogram(
            o,
            "r2gitops_pass_duration_seconds",
            "Duration of reconcile passes.",
            &DURATION_BUCKETS,
            &self.duration_buckets,
            self.duration_sum,
        );
        histogram(
            o,
            "r2gitops_rotation_readiness_seconds",
            "How long a rotated token's new key took to pass its signed S3 probe.",
            &READINESS_BUCKETS,
            &self.readiness_buckets,
            self.readiness_sum,
        );
        histogram(
            o,
            "r2gitops_exposure_to_delivery_seconds",
            "From first seeing a managed token exposed, expired or missing to its new output written.",
            &EXPOSURE_BUCKETS,
            &self.exposure_buckets,
            self.exposure_sum,
        );
        self.gauges(o);
        self.planned_changes(o);
        self.api_counters(o);
        if self.policy.is_some() {
            let g = "r2gitops_policy_violations";
            header(
                o,
                g,
                "gauge",
                "Violations of the operator's policy in the desired-state file as last read.",
            );
            let _ = writeln!(o, "{g} {}", self.policy_violations);
        }
        if let Some(p) = &self.publish {
            p.prometheus(o);
        }
        out
    }

    fn passes_total(&self, o: &mut String) {
        header(
            o,
            "r2gitops_passes_total",
            "counter",
            "Reconcile passes, by result.",
        );
        for r in [
            PassResult::Success,
            PassResult::Failure,
            PassResult::Suspended,
            PassResult::Standby,
        ] {
            let n = self.passes.get(&r).copied().unwrap_or(0);
            let _ = writeln!(o, "r2gitops_passes_total{{result=\"{}\"}} {n}", r.as_str());
        }
    }

    fn gauges(&self, o: &mut String) {
        let g = "r2gitops_tokens_retiring";
        header(
            o,
            g,
            "gauge",
            "Old keys of rotated tokens still working through their overlap.",
        );
        let _ = writeln!(o, "{g} {}", self.retiring.len());

        let gauges: [(&str, &str, f64); 6] = [
            (
                "r2gitops_leader",
                "1 on the replica that holds the state lease and reconciles (always, without --state); 0 on a standby.",
                f64::from(u8::from(self.leader.unwrap_or(true))),
            ),
            (
                "r2gitops_last_success_timestamp_seconds",
                "Unix time of the last pass that succeeded (0: never).",
                self.last_success
                    .map(|t| t.unix_timestamp() as f64)
                    .unwrap_or(0.0),
            ),
            (
                "r2gitops_config_valid",
                "1 when the desired-state file as last read is valid.",
                f64::from(u8::from(self.config_valid)),
            ),
            (
                "r2gitops_managed_buckets",
                "Buckets r2gitops manages (from its inventory).",
                self.managed_buckets as f64,
            ),
            (
                "r2gitops_managed_tokens",
                "Tokens r2gitops manages (from its inventory).",
                self.managed_tokens as f64,
            ),
            (
                "r2gitops_suspended",
                "1 when settings.suspend is set: drift is reported, nothing applied.",
                f64::from(u8::from(self.suspended)),
            ),
        ];
        for (name, help, value) in gauges {
            header(o, name, "gauge", help);
            let _ = writeln!(o, "{name} {value}");
        }
    }

    fn planned_changes(&self, o: &mut String) {
        let g = "r2gitops_planned_changes";
        header(o, g, "gauge", "Changes in the last plan, by kind.");
        let s = self
            .last_pass
            .as_ref()
            .and_then(|p| p.summary)
            .unwrap_or_default();
        for (kind, v) in [
            ("create", s.create),
            ("update", s.update),
            ("roll", s.roll),
            ("replace", s.replace),
            ("rotate", s.rotate),
            ("retire", s.retire),
            ("delete", s.delete),
            ("issue", s.issue),
            ("blocked", s.blocked),
            ("orphan", s.orphans),
        ] {
            let _ = writeln!(o, "{g}{{kind=\"{kind}\"}} {v}");
        }
    }

    /// The Cloudflare API counters: answers by status, retries, rate-limit pauses.
    fn api_counters(&self, o: &mut String) {
        let c = "r2gitops_api_requests_total";
        header(
            o,
            c,
            "counter",
            "Cloudflare API answers, by HTTP status (0: no answer).",
        );
        for (status, v) in &self.api.requests_by_status {
            let _ = writeln!(o, "{c}{{status=\"{status}\"}} {v}");
        }
        let c = "r2gitops_api_retries_total";
        header(o, c, "counter", "Cloudflare API calls retried.");
        let _ = writeln!(o, "{c} {}", self.api.retries);
        let c = "r2gitops_rate_limit_pauses_total";
        header(o, c, "counter", "Times a rate limit paused every API call.");
        let _ = writeln!(o, "{c} {}", self.api.rate_limit_pauses);
    }
}

/// A Prometheus histogram from cumulative `counts` per bound of `bounds` (+Inf last).
fn histogram(o: &mut String, h: &str, help: &str, bounds: &[f64], counts: &[u64], sum: f64) {
    header(o, h, "histogram", help);
    for (i, b) in bounds.iter().enumerate() {
        let _ = writeln!(o, "{h}_bucket{{le=\"{b}\"}} {}", counts[i]);
    }
    let count = counts[bounds.len()];
    let _ = writeln!(o, "{h}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(o, "{h}_sum {sum}");
    let _ = writeln!(o, "{h}_count {count}");
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Add one client's counters to a running total (a client is rebuilt when the account
/// changes; the exported counters must never go down).
pub fn add_metrics(total: &mut ClientMetrics, more: &ClientMetrics) {
    for (status, n) in &more.requests_by_status {
        *total.requests_by_status.entry(*status).or_default() += n;
    }
    total.retries += more.retries;
    total.rate_limit_pauses += more.rate_limit_pauses;
}

#[cfg(test)]
mod tests;
