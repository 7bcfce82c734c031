//! One pass, as `r2gitops reconcile` and the daemon both run it. `Pass` is what it works
//! with: where the inventory lives, the desired state, and the endpoints the outputs name.
//! `plan` is the read-only half (`plan_renewals`: the temporary credentials alone), `apply`
//! the writing half, `publish` what follows the outputs to git. Each half returns a named
//! struct that the caller takes apart by name.
//!
//! The callers keep what differs between them: the command prints and checks a reviewed
//! plan between the halves; the daemon keeps its read cache, a suspended state and
//! `/status`.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::outputs::{Outputs, from_branch};
use super::{PassError, Recovery};
use crate::apply::{Applier, Progress, Report, Stop};
use crate::cloudflare::Client;
use crate::config::Desired;
use crate::inventory::Inventory;
use crate::observe::Reads;
use crate::plan::diff::Input;
use crate::plan::{Plan, PublishPreview};
use crate::publish::{GitAuth, Published};
use crate::secrets::{OutputWriter, S3Endpoints};
use crate::state::Store;

/// What one pass works with.
#[derive(Clone)]
pub struct Pass<'a> {
    /// Where the inventory is loaded from and saved to.
    pub store: Store,
    pub desired: &'a Desired,
    /// What the outputs would show, so that a changed endpoint rolls the tokens whose
    /// files name the old one.
    pub endpoints: &'a S3Endpoints,
}

/// How the read-only half reads. The default reads everything, outputs from `output_dir`
/// alone.
pub struct Observe<'a> {
    /// Plan as if every output were in place (`--skip-outputs`).
    pub skip_outputs: bool,
    /// Bucket configuration read afresh, or through the daemon's cache (unchanged
    /// sub-resources are re-read once per `settings.config_resync`).
    pub reads: Reads<'a>,
    /// Where an output missing from `output_dir` but recorded in the inventory is looked
    /// for: the publish branch, or (`None`) nowhere.
    pub recovery: Option<&'a Recovery>,
}

impl Default for Observe<'_> {
    fn default() -> Self {
        Observe {
            skip_outputs: false,
            reads: Reads::All,
            recovery: None,
        }
    }
}

/// The read-only half's result: the plan, and the inventory it was computed from (to be
/// handed to `apply`).
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub inventory: Inventory,
}

/// How the writing half runs.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    /// Steps in flight at once.
    pub concurrency: usize,
    /// Asked to stop: no new step starts (a signal, or a lease that lapsed).
    pub stop: &'a Stop,
    /// Told of each step as it starts and ends (a terminal's progress, the daemon's log).
    pub progress: Option<&'a dyn Progress>,
}

/// The writing half's result: what each step came to, and the inventory after them.
pub struct Applied {
    pub report: Report,
    pub inventory: Inventory,
}

impl<'a> Pass<'a> {
    /// A pass on the local inventory file (`settings.state_file`).
    pub fn local(desired: &'a Desired, endpoints: &'a S3Endpoints) -> Self {
        Pass {
            store: Store::File(desired.settings.state_file.clone()),
            desired,
            endpoints,
        }
    }

    fn writer(&self, client: &Client) -> OutputWriter {
        OutputWriter::new(
            &self.desired.settings.output_dir,
            client.account_id(),
            self.endpoints.clone(),
        )
    }

    /// Observe and diff. A file that fails to load never gets here, let alone to a
    /// deletion; a plan that would manage the bucket holding the R2 state is refused.
    pub async fn plan(&self, client: &Client, how: Observe<'_>) -> Result<Planned, PassError> {
        let Observe {
            skip_outputs,
            reads,
            recovery,
        } = how;
        let desired = self.desired;
        let inventory = self.store.load().await?;
        let d = Outputs::of(desired);
        let writer = self.writer(client);
        let w = writer.clone();
        let (mut outputs, mut temporary) = tokio::task::spawn_blocking(move || {
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
        if let Store::R2(session) = &self.store
            && plan.refused.is_none()
        {
            plan.refused = crate::state::r2::guard::refusal(
                desired,
                &plan.steps,
                &session.state.url.bucket,
                session.jurisdiction,
            );
        }
        Ok(Planned { plan, inventory })
    }

    /// The plan of a renewal between the daemon's full passes: the temporary credentials
    /// alone, under the parents the last full pass of this same desired state found usable
    /// (`plan::diff::renewals`). It reads the inventory and the credentials' outputs, and
    /// makes no API call: what it plans costs one issue call per credential due.
    pub async fn plan_renewals(
        &self,
        client: &Client,
        parents: &BTreeSet<String>,
    ) -> Result<Planned, PassError> {
        let desired = self.desired;
        let inventory = self.store.load().await?;
        let d = Outputs {
            tokens: Vec::new(),
            ..Outputs::of(desired)
        };
        let writer = self.writer(client);
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
        Ok(Planned { plan, inventory })
    }

    /// The writing half. Takes the client by value: the write capability is made here and
    /// dropped on return, so a dry run, which never calls this, cannot mutate.
    pub async fn apply(
        &self,
        client: Client,
        plan: &Plan,
        inventory: Inventory,
        run: Run<'_>,
    ) -> Applied {
        let writer = self.writer(&client);
        let api = client.into_writer();
        let (report, inventory) = Applier {
            api: &api,
            desired: self.desired,
            writer: &writer,
            concurrency: run.concurrency,
            stop: run.stop,
            progress: run.progress,
        }
        .apply_in(plan, inventory, &self.store)
        .await;
        Applied { report, inventory }
    }

    /// What the plan would publish (`↗ publish …`), read from the clone on a blocking
    /// thread.
    pub async fn publish_preview(
        &self,
        inventory: &Inventory,
        plan: &Plan,
        auth: &GitAuth,
    ) -> Option<PublishPreview> {
        self.desired.settings.publish.as_ref()?;
        let (d, i, p, a) = (
            self.desired.clone(),
            inventory.clone(),
            plan.clone(),
            auth.clone(),
        );
        tokio::task::spawn_blocking(move || crate::publish::preview(&d, &i, &p, &a))
            .await
            .ok()
            .flatten()
    }

    /// Publish after an apply (`settings.publish`): right after the outputs are written, in
    /// the same pass, so that a retirement in a later pass finds the new Secret on the
    /// branch. `None` without publishing. A runner whose lease on the R2 state lapsed
    /// publishes nothing: the branch may hold the new holder's outputs already.
    pub async fn publish(
        &self,
        inventory: &Inventory,
        plan: &Plan,
        auth: &GitAuth,
    ) -> Option<Result<Published, String>> {
        self.desired.settings.publish.as_ref()?;
        if self.store.fenced() {
            let e = format!(
                "not published: the lease on the state {} is no longer held",
                self.store.describe()
            );
            tracing::warn!("{e}");
            return Some(Err(e));
        }
        let reasons = crate::publish::reasons(plan);
        let (d, i, a) = (self.desired.clone(), inventory.clone(), auth.clone());
        let done =
            tokio::task::spawn_blocking(move || crate::publish::after_pass(&d, &i, &reasons, &a))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| crate::error::error_chain(&e)));
        match &done {
            Ok(Published::Commit { commit, files }) => {
                tracing::info!(commit = %commit, files, "published")
            }
            Ok(Published::Unchanged) => tracing::debug!("nothing to publish"),
            Err(e) => tracing::warn!(error = %e, "publishing failed; the next pass tries again"),
        }
        Some(done)
    }
}
