//! One pass of the daemon: plan (or only the renewals due), apply under the pass's stop,
//! publish, and what it came to for `/status` and the log.

use super::*;

impl Daemon {
    /// One pass. Returns when its steps in flight are done (or at once if shutdown comes
    /// during observation, which has no side effects), and whether it was a full pass (a
    /// renewal pass observes nothing, so it does not count as the interval's resync).
    pub(super) async fn pass(&mut self, fired: &Fired, shutdown: &Shutdown) -> bool {
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
    pub(super) async fn publish(
        &mut self,
        pass: &reconcile::Pass<'_>,
        inventory: &crate::inventory::Inventory,
        plan: &crate::plan::Plan,
    ) {
        let Some(spec) = &pass.desired.settings.publish else {
            self.update(|s| s.publish = None);
            return;
        };
        let auth = self.opts.api.publish.auth();
        let Some(outcome) = pass.publish(inventory, plan, &auth).await else {
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
    pub(super) fn log_cost(&mut self, desired: &Arc<Desired>) {
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

    /// Load, lead, plan, then apply unless suspended; `Ok(None)` when shutdown came during
    /// observation. `full` tells whether it observed (a renewal pass does not).
    pub(super) async fn run_pass(
        &mut self,
        renewal_only: bool,
        full: &mut bool,
        shutdown: &Shutdown,
    ) -> Result<Option<PassDone>, Failed> {
        self.load().await?;
        let desired = self.desired.clone().expect("load keeps a valid state");
        self.log_cost(&desired);
        let Some(store) = self.store(&desired).await? else {
            return Ok(Some(PassDone::quiet(PassResult::Standby, None, Vec::new())));
        };
        let client = self.client(&desired).await?;
        let basis = self.renewal_parents(renewal_only, &desired);
        *full = basis.is_none();
        let endpoints = self.opts.endpoints.clone();
        let pass = reconcile::Pass {
            store,
            desired: &desired,
            endpoints: &endpoints,
        };
        let Some(reconcile::Planned { plan, inventory }) =
            self.plan(&pass, &client, basis.as_ref(), shutdown).await?
        else {
            return Ok(None);
        };
        let summary = Some(plan.summary());
        if *full {
            let domains = plan.domains.clone();
            self.update(|st| st.custom_domains = domains);
        }
        let basis_after = (*full && !desired.temporary_credentials.is_empty())
            .then(|| RenewalBasis::of(&desired, &plan));
        let lines = self.plan_lines(&pass, &inventory, &plan).await;
        if desired.settings.suspend {
            if plan.has_changes() {
                tracing::info!(
                    changes = plan.steps.len(),
                    "suspended: drift reported, nothing applied"
                );
            }
            self.note_inventory(&desired, &inventory, &Default::default(), &[]);
            return Ok(Some(PassDone::quiet(PassResult::Suspended, summary, lines)));
        }
        if let Some(reason) = &plan.refused {
            return Err(Failed::new(format!("plan refused: {reason}")));
        }
        self.apply(&pass, client, &plan, inventory, shutdown)
            .await?;
        if let Some(b) = basis_after {
            self.renewal_basis = Some(b);
        }
        Ok(Some(PassDone::quiet(PassResult::Success, summary, lines)))
    }

    /// Where this pass keeps the inventory: the local file under its flock, or the R2
    /// state while this replica holds the lease (`None`: it is the standby).
    async fn store(&mut self, desired: &Desired) -> Result<Option<Store>, Failed> {
        Ok(match self.opts.state.clone() {
            None => {
                self.ensure_lock(&desired.settings.state_file)?;
                Some(Store::File(desired.settings.state_file.clone()))
            }
            Some(session) => self.lead(&session).await?.then_some(Store::R2(session)),
        })
    }

    /// The parents to renew under without observing, when only renewals are asked and the
    /// desired state is the one the last successful full pass planned from (60 credentials
    /// each renewed by a full observation used several times Cloudflare's budget); `None`
    /// for a full pass, which forgets the old basis.
    fn renewal_parents(
        &mut self,
        renewal_only: bool,
        desired: &Arc<Desired>,
    ) -> Option<std::collections::BTreeSet<String>> {
        let basis = self
            .renewal_basis
            .as_ref()
            .filter(|b| renewal_only && std::ptr::eq(b.desired.as_ptr(), Arc::as_ptr(desired)))
            .map(|b| b.parents.clone());
        if basis.is_none() {
            self.renewal_basis = None;
        }
        basis
    }

    /// The plan: of the renewals alone under `basis`, or of everything through the read
    /// cache. `Ok(None)` when shutdown came during observation.
    async fn plan(
        &mut self,
        pass: &reconcile::Pass<'_>,
        client: &Client,
        basis: Option<&std::collections::BTreeSet<String>>,
        shutdown: &Shutdown,
    ) -> Result<Option<reconcile::Planned>, Failed> {
        let planned = match basis {
            Some(parents) => pass.plan_renewals(client, parents).await,
            None => {
                let reads = crate::observe::Reads::Cached {
                    cache: &mut self.config_cache,
                    now: Instant::now(),
                };
                // A replica that has just taken over finds what its own disk lacks on the
                // publish branch; a suspended daemon writes nothing, not even that.
                let recovery = reconcile::Recovery {
                    auth: self.opts.api.publish.auth(),
                    restore: !pass.desired.settings.suspend,
                };
                let how = reconcile::Observe {
                    skip_outputs: false,
                    reads,
                    recovery: Some(&recovery),
                };
                tokio::select! {
                    p = pass.plan(client, how) => p,
                    _ = shutdown.wait() => return Ok(None),
                }
            }
        };
        planned.map(Some).map_err(|e| Failed {
            retry_after: e.retry_after(),
            ..Failed::new(error_chain(&e))
        })
    }

    /// The plan's lines as `/status` shows them: its steps, what it would publish, and
    /// what it blocked.
    async fn plan_lines(
        &self,
        pass: &reconcile::Pass<'_>,
        inventory: &crate::inventory::Inventory,
        plan: &crate::plan::Plan,
    ) -> Vec<String> {
        let mut lines: Vec<String> = plan.steps.iter().map(step_line).collect();
        let auth = self.opts.api.publish.auth();
        if let Some(p) = pass
            .publish_preview(inventory, plan, &auth)
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
        lines
    }

    /// Apply the plan (when it changes or records anything), note what it came to, and
    /// publish. A step that failed fails the pass, unless only temporary credentials
    /// failed: their renewals retry on their own.
    async fn apply(
        &mut self,
        pass: &reconcile::Pass<'_>,
        client: Client,
        plan: &crate::plan::Plan,
        inventory: crate::inventory::Inventory,
        shutdown: &Shutdown,
    ) -> Result<(), Failed> {
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
        if !plan.has_changes() && plan.bookkeeping.is_empty() {
            self.note_inventory(pass.desired, &inventory, &Default::default(), &[]);
            // Level-triggered: a publish that failed earlier is caught up by a quiet pass.
            self.publish(pass, &inventory, plan).await;
            return Ok(());
        }
        let stop = pass_stop(shutdown, self.opts.state.clone());
        let run = reconcile::Run {
            concurrency: self.opts.api.concurrency.max(1),
            stop: &stop.0,
            progress: Some(&crate::apply::LogSteps),
        };
        let reconcile::Applied { report, inventory } =
            pass.apply(client, plan, inventory, run).await;
        stop.1.abort();
        self.record_timings(&report);
        let (errors, issued, only_temporary) = renewal::from_report(&report);
        self.note_inventory(pass.desired, &inventory, &errors, &issued);
        // Right after the outputs are written, whatever else failed: what was written is on
        // the branch before any later pass (a retirement) depends on it.
        self.publish(pass, &inventory, plan).await;
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
        Ok(())
    }

    /// The readiness of each step that succeeded, and for each credential seen dead, the
    /// time from seeing it to its new output written.
    fn record_timings(&mut self, report: &crate::apply::Report) {
        let readiness: Vec<f64> = report
            .steps
            .iter()
            .filter(|s| s.outcome.succeeded())
            .filter_map(|s| s.readiness.map(|d| d.as_secs_f64()))
            .collect();
        self.update(|st| readiness.iter().for_each(|secs| st.record_readiness(*secs)));
        let delivered: Vec<f64> = report
            .steps
            .iter()
            .filter(|s| s.kind == "token" && s.outcome.succeeded())
            .filter_map(|s| self.dead_since.remove(&s.name))
            .map(|seen| seen.elapsed().as_secs_f64())
            .collect();
        self.update(|st| delivered.iter().for_each(|secs| st.record_exposure(*secs)));
    }
}

impl RenewalBasis {
    /// The parents `plan` can issue under, for the renewals until the next full pass.
    fn of(desired: &Arc<Desired>, plan: &crate::plan::Plan) -> Self {
        let blocked = |p: &String| {
            plan.blocked
                .iter()
                .any(|b| b.kind == crate::plan::Kind::Token && b.name == *p)
        };
        RenewalBasis {
            desired: Arc::downgrade(desired),
            parents: desired
                .temporary_credentials
                .iter()
                .map(|t| t.parent.clone())
                .filter(|p| !blocked(p))
                .collect(),
        }
    }
}

/// What one pass came to, for its log line and `/status`.
pub(super) struct PassDone {
    result: PassResult,
    /// The plan's counts (none when the pass failed before it had a plan).
    summary: Option<crate::plan::Summary>,
    /// The plan's lines, as `/status` shows them.
    lines: Vec<String>,
    /// Why it failed.
    error: Option<String>,
}

impl PassDone {
    /// A pass that came to `result` without an error.
    fn quiet(
        result: PassResult,
        summary: Option<crate::plan::Summary>,
        lines: Vec<String>,
    ) -> Self {
        PassDone {
            result,
            summary,
            lines,
            error: None,
        }
    }
}
