//! Reading the desired state and the operator's policy for a pass, the inventory's
//! one-daemon lock, and the API client (re-verified when the token file changes).

use super::*;

impl Daemon {
    /// Read and validate the file; keep the last valid state when it fails.
    pub(super) async fn load(&mut self) -> Result<(), Failed> {
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
    pub(super) fn ensure_lock(&mut self, state_file: &Path) -> Result<(), Failed> {
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
    pub(super) async fn client(&mut self, desired: &Desired) -> Result<Client, Failed> {
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
}
