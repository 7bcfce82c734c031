//! Token steps: delete, create, update, roll and replace, each write read back and
//! compared with what was sent before anything trusts it. Rotation and retirement are
//! `rotate`'s, writing a fresh value's output `deliver`'s.

use std::collections::BTreeSet;

use super::{Applier, Fresh, Outcome, Rolled, Shared, StepReport, error_chain, report};
use crate::cloudflare::ReadApi;
use crate::cloudflare::{CreatedToken, WriteApi};
use crate::config::{Owner, TokenSpec};
use crate::observed::{TokenField, TokenRequest};
use crate::plan::readback::{self, Mismatch};
use crate::plan::{BucketRef, DeleteReason, ReplaceReason, RollReason, Step};

impl<W: WriteApi> Applier<'_, W> {
    pub(super) async fn delete_token(&self, step: &Step, shared: &Shared) -> StepReport {
        if let Some(r) = self.stopped(step) {
            return r;
        }
        let Step::DeleteToken {
            id, owner, reason, ..
        } = step
        else {
            unreachable!("delete_token gets token deletes");
        };
        let outcome = match self.api.delete_token(*owner, id).await {
            Ok(()) => Outcome::Done,
            Err(e) if e.is_not_found() => Outcome::AlreadyDone("already gone".into()),
            Err(e) => Outcome::Failed(error_chain(&e)),
        };
        if outcome.succeeded() {
            let record = shared
                .inventory
                .lock()
                .await
                .tokens
                .values()
                .find(|t| &t.id == id)
                .cloned();
            // The file holds credentials of a token that no longer exists: it goes too,
            // once the delete has succeeded, if it is still what r2gitops wrote.
            if let (DeleteReason::Pruned { output: Some(path) }, Some(record)) = (reason, &record)
                && let Some(why) = self.remove_recorded_output(path, record)
            {
                tracing::warn!(file = %path.display(), "the output of a deleted token was left alone: {why}");
            }
            shared
                .update(|inv| inv.tokens.retain(|_, t| &t.id != id))
                .await;
        }
        let r = report(step, outcome);
        self.log(&r);
        r
    }

    pub(super) fn spec(&self, name: &str) -> &TokenSpec {
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
            Step::CreateToken { buckets, .. }
            | Step::UpdateToken { buckets, .. }
            | Step::ReplaceToken { buckets, .. }
            | Step::RotateToken { buckets, .. } => buckets.as_slice(),
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
            } => match self.create_verified(token, *owner, request, shared).await {
                Err(e) => report(step, Outcome::Failed(e)),
                Ok(created) => {
                    let fresh = Fresh {
                        token,
                        owner: *owner,
                        id: &created.token.id,
                        value: created.value,
                        rolled: None,
                        modified_on: created.token.modified_on,
                    };
                    self.deliver(step, fresh, shared).await
                }
            },
            Step::UpdateToken {
                token,
                id,
                owner,
                request,
                fallback,
                ..
            } => match self
                .update_recorded(token, *owner, id, request, shared)
                .await
            {
                Err(e) => report(step, Outcome::Failed(e)),
                Ok(updated) => {
                    let found =
                        readback::compare(request, &updated.token, updated.condition_sent_as);
                    if found.is_empty() {
                        report(step, Outcome::Done)
                    } else if fallback.is_some() && readback::only_kept(&found) {
                        self.learn_kept(&found, shared).await;
                        let reason = match found[0].field {
                            TokenField::Status => ReplaceReason::StaysExpired,
                            field => ReplaceReason::KeepsRemoved(field),
                        };
                        self.replace(step, token, id, *owner, request, reason, shared)
                            .await
                    } else {
                        let mut text = readback::message(token, &found);
                        if readback::loosens(&found) {
                            tracing::error!(token = %token, id = %id, "{text}: the token may be LESS restricted than the file declares");
                            text.push_str(
                                "; the token may be less restricted than the file declares",
                            );
                        }
                        text.push_str("; the next pass tries again");
                        report(step, Outcome::Failed(text))
                    }
                }
            },
            Step::ReplaceToken {
                token,
                old_id,
                owner,
                request,
                reason,
                ..
            } => {
                self.replace(step, token, old_id, *owner, request, *reason, shared)
                    .await
            }
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
                    // A roll answers with the value alone: read the token back for the
                    // `modified_on` the roll gave it (one call per roll; rolls are rare).
                    let modified_on = match self.api.reader().get_token(*owner, id).await {
                        Ok(t) => t.and_then(|t| t.modified_on),
                        Err(_) => None,
                    };
                    let fresh = Fresh {
                        token,
                        owner: *owner,
                        id,
                        value,
                        rolled: Some(Rolled { moved_from }),
                        modified_on,
                    };
                    self.deliver(step, fresh, shared).await
                }
            },
            Step::RotateToken { .. } => self.rotate(step, shared).await,
            _ => unreachable!(
                "token_step gets token creates, updates, replaces, rolls and rotations"
            ),
        };
        self.log(&r);
        r
    }

    /// Update a token, marked in flight before the call and its new `modified_on` recorded
    /// after it: our own change must not look like one made elsewhere to the next pass (a
    /// roll, cutting the working value off), even if this process dies in between.
    async fn update_recorded(
        &self,
        token: &str,
        owner: Owner,
        id: &str,
        request: &TokenRequest,
        shared: &Shared,
    ) -> Result<crate::cloudflare::UpdatedToken, String> {
        shared
            .record(|inv| {
                inv.updating.insert(token.to_string());
            })
            .await
            .map_err(|e| format!("not updated: its in-flight record could not be saved ({e})"))?;
        // A failed call keeps the mark: one that timed out may have taken effect.
        let updated = self
            .api
            .update_token(owner, id, request)
            .await
            .map_err(|e| error_chain(&e))?;
        let modified_on = updated.token.modified_on;
        shared
            .update(|inv| {
                if let Some(r) = inv.tokens.values_mut().find(|r| r.id == id) {
                    r.modified_on = modified_on;
                }
                inv.updating.remove(token);
            })
            .await;
        Ok(updated)
    }

    /// Create a token and prove Cloudflare stored what was sent. A token that came back
    /// different (a dropped IP condition, a lost expiry) may be less restricted than
    /// declared: it is deleted at once, before its value goes anywhere.
    pub(super) async fn create_verified(
        &self,
        token: &str,
        owner: Owner,
        request: &TokenRequest,
        shared: &Shared,
    ) -> Result<CreatedToken, String> {
        // Before the call: a crash after Cloudflare made the token and before it is recorded
        // leaves a token whose value nobody holds, and the next pass must know it.
        // Not saved (the state changed under this pass, or cannot be written): no create,
        // since a token nobody recorded would be adopted by the next pass and rolled.
        shared
            .record(|inv| {
                inv.pending.insert(token.to_string());
            })
            .await
            .map_err(|e| format!("not created: its pending record could not be saved ({e})"))?;
        let created = match self.api.create_token(owner, request).await {
            Ok(c) => c,
            Err(e) => {
                shared
                    .update(|inv| {
                        inv.pending.remove(token);
                    })
                    .await;
                return Err(error_chain(&e));
            }
        };
        let found = readback::compare(request, &created.token, created.condition_sent_as);
        if found.is_empty() {
            return Ok(created);
        }
        let id = created.token.id.clone();
        // The value dies here, never written anywhere.
        drop(created);
        shared
            .update(|inv| {
                inv.pending.remove(token);
            })
            .await;
        let text = readback::message(token, &found);
        tracing::error!(token = %token, id = %id, "{text}: deleting the new token");
        match self.api.delete_token(owner, &id).await {
            Ok(()) => Err(format!(
                "{text}; the new token {id} was deleted at once and its value never written"
            )),
            Err(e) if e.is_not_found() => Err(format!(
                "{text}; the new token {id} is gone and its value was never written"
            )),
            Err(e) => Err(format!(
                "{text}; deleting the new token {id} failed ({}); its value was never written, and the next pass corrects or replaces it",
                error_chain(&e)
            )),
        }
    }

    /// Remember which removed restrictions Cloudflare keeps, so that later plans show a
    /// replacement instead of an update that cannot work.
    async fn learn_kept(&self, found: &[Mismatch], shared: &Shared) {
        let fields: Vec<TokenField> = found
            .iter()
            .filter(|m| m.kept && m.field != TokenField::Status)
            .map(|m| m.field)
            .collect();
        if fields.is_empty() {
            return;
        }
        tracing::info!(
            fields = ?fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "Cloudflare keeps token restrictions that an update leaves out; removing them now replaces the token"
        );
        shared
            .update(|inv| inv.learned.keeps_removed.extend(fields))
            .await;
    }

    /// Create the replacement, write its output, then delete the old token: consumers
    /// always have a working credential. If anything before the delete fails, the old
    /// token stays.
    #[allow(clippy::too_many_arguments)]
    async fn replace(
        &self,
        step: &Step,
        token: &str,
        old_id: &str,
        owner: Owner,
        request: &TokenRequest,
        reason: ReplaceReason,
        shared: &Shared,
    ) -> StepReport {
        let create = TokenRequest {
            status: None,
            ..request.clone()
        };
        let created = match self.create_verified(token, owner, &create, shared).await {
            Ok(c) => c,
            Err(e) => {
                return report(
                    step,
                    Outcome::Failed(format!(
                        "{}; creating its replacement failed: {e}; the old token {old_id} is kept",
                        reason.describe()
                    )),
                );
            }
        };
        let new_id = created.token.id.clone();
        let fresh = Fresh {
            token,
            owner,
            id: &new_id,
            value: created.value,
            rolled: None,
            modified_on: created.token.modified_on,
        };
        let mut r = self.deliver(step, fresh, shared).await;
        if !r.outcome.succeeded() {
            // The old token keeps serving its consumers; the next pass finds two tokens of
            // this name, keeps the recorded (new) one and deletes the old as a duplicate.
            return r;
        }
        r.outcome = match self.api.delete_token(owner, old_id).await {
            Ok(()) => Outcome::Replaced(format!(
                "{}; replaced by {new_id}, output written, old token {old_id} deleted",
                reason.describe()
            )),
            Err(e) if e.is_not_found() => Outcome::Replaced(format!(
                "{}; replaced by {new_id}, output written, old token {old_id} already gone",
                reason.describe()
            )),
            Err(e) => Outcome::Failed(format!(
                "replacement {new_id} created and its output written, but deleting the old token {old_id} failed: {}; the next pass deletes it as a duplicate",
                error_chain(&e)
            )),
        };
        r
    }
}
