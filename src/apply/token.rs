//! Token steps: delete, create, update, roll and replace, each write read back and compared
//! with what was sent before anything trusts it.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::{Applier, Fresh, Outcome, Rolled, Shared, StepReport, error_chain, report};
use crate::cloudflare::WriteApi;
use crate::config::TokenSpec;
use crate::inventory::TokenRecord;
use crate::plan::{BucketRef, RollReason, Step};

impl<W: WriteApi> Applier<'_, W> {
    pub(super) async fn delete_token(&self, step: &Step, shared: &Shared) -> StepReport {
        if let Some(r) = self.stopped(step) {
            return r;
        }
        let Step::DeleteToken { id, owner, .. } = step else {
            unreachable!("delete_token gets token deletes");
        };
        let outcome = match self.api.delete_token(*owner, id).await {
            Ok(()) => Outcome::Done,
            Err(e) if e.is_not_found() => Outcome::AlreadyDone("already gone".into()),
            Err(e) => Outcome::Failed(error_chain(&e)),
        };
        if outcome.succeeded() {
            shared
                .update(|inv| inv.tokens.retain(|_, t| &t.id != id))
                .await;
        }
        let r = report(step, outcome);
        self.log(&r);
        r
    }

    fn spec(&self, name: &str) -> &TokenSpec {
        self.desired
            .tokens
            .iter()
            .find(|t| t.name == name)
            .expect("the plan only names declared tokens")
    }

    pub(super) async fn token_step(
        &self,
        step: &Step,
        failed_buckets: &BTreeSet<BucketRef>,
        shared: &Shared,
    ) -> StepReport {
        if let Some(r) = self.stopped(step) {
            return r;
        }
        let needs = match step {
            Step::CreateToken { buckets, .. } | Step::UpdateToken { buckets, .. } => {
                buckets.as_slice()
            }
            _ => &[],
        };
        if let Some(b) = needs.iter().find(|b| failed_buckets.contains(b)) {
            let r = report(
                step,
                Outcome::Skipped(format!("bucket {} was not created", b.name)),
            );
            self.log(&r);
            return r;
        }
        let r = match step {
            Step::CreateToken {
                token,
                owner,
                request,
                ..
            } => match self.api.create_token(*owner, request).await {
                Err(e) => report(step, Outcome::Failed(error_chain(&e))),
                Ok(created) => {
                    let fresh = Fresh {
                        token,
                        owner: *owner,
                        id: &created.token.id,
                        value: created.value,
                        rolled: None,
                    };
                    self.deliver(step, fresh, shared).await
                }
            },
            Step::UpdateToken {
                id, owner, request, ..
            } => match self.api.update_token(*owner, id, request).await {
                Ok(_) => report(step, Outcome::Done),
                Err(e) => report(step, Outcome::Failed(error_chain(&e))),
            },
            Step::RollToken {
                token,
                id,
                owner,
                reason,
            } => match self.api.roll_token(*owner, id).await {
                Err(e) => report(step, Outcome::Failed(error_chain(&e))),
                Ok(value) => {
                    let moved_from = match reason {
                        RollReason::OutputMoved { from } => Some(from.as_path()),
                        _ => None,
                    };
                    let fresh = Fresh {
                        token,
                        owner: *owner,
                        id,
                        value,
                        rolled: Some(Rolled { moved_from }),
                    };
                    self.deliver(step, fresh, shared).await
                }
            },
            _ => unreachable!("token_step gets token creates, updates and rolls"),
        };
        self.log(&r);
        r
    }

    /// Write a fresh value's output, record it, and run the output's self-test.
    async fn deliver(&self, step: &Step, fresh: Fresh<'_>, shared: &Shared) -> StepReport {
        let Fresh {
            token,
            owner,
            id,
            value,
            rolled,
        } = fresh;
        let spec = self.spec(token).clone();
        let now = OffsetDateTime::now_utc();
        let written = {
            let (writer, spec, id, value) = (
                self.writer.clone(),
                spec.clone(),
                id.to_string(),
                value.clone(),
            );
            tokio::task::spawn_blocking(move || writer.write(&spec, &id, &value, now)).await
        };
        let written = match written {
            Ok(Ok(record)) => Ok(record),
            Ok(Err(e)) => Err(error_chain(&e)),
            Err(e) => Err(e.to_string()),
        };
        let previous = shared
            .inventory
            .lock()
            .await
            .tokens
            .get(token)
            .filter(|t| t.id == id)
            .cloned();
        let record = TokenRecord {
            id: id.to_string(),
            owner,
            created_at: match (&rolled, &previous) {
                (Some(_), Some(p)) => p.created_at,
                _ => now,
            },
            rolled_at: rolled.is_some().then_some(now),
            output: written.as_ref().ok().cloned(),
        };
        shared
            .update(|inv| {
                inv.tokens.insert(token.to_string(), record);
            })
            .await;
        let mut r = match &written {
            Ok(_) => report(step, Outcome::Done),
            Err(e) => {
                let what = if rolled.is_some() {
                    "rolled"
                } else {
                    "created"
                };
                report(
                    step,
                    Outcome::Failed(format!(
                        "token {what} ({id}), but its output could not be written: {e}; the next pass rolls it again"
                    )),
                )
            }
        };
        if written.is_ok() {
            if let (
                Some(Rolled {
                    moved_from: Some(from),
                }),
                Some(prev),
            ) = (&rolled, &previous)
            {
                self.remove_moved_output(from, prev);
            }
            r.verify = self.writer.verify(&spec, id, &value).await;
        }
        r
    }

    /// After a roll for a moved output: the old file holds a dead value; remove it if it is
    /// still exactly what r2gitops wrote (anything else is left alone).
    fn remove_moved_output(&self, from: &std::path::Path, previous: &TokenRecord) {
        let Some(out) = &previous.output else { return };
        let dir = self.writer.output_dir();
        if let Ok(Some(sha)) = crate::secrets::file_sha256(dir, from)
            && sha == out.ciphertext_sha256
            && std::fs::remove_file(dir.join(from)).is_ok()
        {
            tracing::info!(file = %from.display(), "removed the output's previous file");
        }
    }
}
