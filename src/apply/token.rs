//! Token steps: delete, create, update, roll, replace, rotate and retire, each write read
//! back and compared with what was sent before anything trusts it. A rotation's new key is
//! proven with a signed S3 call before its output is written.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::{Applier, Fresh, Outcome, Rolled, Shared, StepReport, error_chain, report};
use crate::cloudflare::ReadApi;
use crate::cloudflare::{CreatedToken, WriteApi};
use crate::config::{Owner, TokenSpec};
use crate::inventory::{RetiringRecord, TokenRecord};
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
            } => match self.api.update_token(*owner, id, request).await {
                Err(e) => report(step, Outcome::Failed(error_chain(&e))),
                Ok(updated) => {
                    // Our own change moved `modified_on`: recorded, so that the next pass
                    // does not take it for a change made elsewhere (and roll).
                    let modified_on = updated.token.modified_on;
                    shared
                        .update(|inv| {
                            if let Some(r) = inv.tokens.values_mut().find(|r| &r.id == id) {
                                r.modified_on = modified_on;
                            }
                        })
                        .await;
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

    /// Create a token and prove Cloudflare stored what was sent. A token that came back
    /// different (a dropped IP condition, a lost expiry) may be less restricted than
    /// declared: it is deleted at once, before its value goes anywhere.
    async fn create_verified(
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

    /// Rotation with overlap: create the new token (read back), prove it with a signed S3
    /// call, record it with the old one as retiring (one save: a crash after it leaves a
    /// new token that was never delivered, which the next pass rolls, and the old key in
    /// the output still working), write its output, then revoke the old key at once only
    /// with `--revoke-old`. Not proven in time: the new token is deleted, the old one and
    /// the output are untouched.
    async fn rotate(&self, step: &Step, shared: &Shared) -> StepReport {
        let Step::RotateToken {
            token,
            old_id,
            owner,
            request,
            reason,
            overlap,
            revoke_old,
            ..
        } = step
        else {
            unreachable!("rotate gets rotations");
        };
        let owner = *owner;
        let created = match self.create_verified(token, owner, request, shared).await {
            Ok(c) => c,
            Err(e) => {
                return report(
                    step,
                    Outcome::Failed(format!(
                        "{}; creating the new key failed: {e}; the old key {old_id} is kept",
                        reason.describe()
                    )),
                );
            }
        };
        let new_id = created.token.id.clone();
        let spec = self.spec(token).clone();
        let timeout = self.desired.settings.readiness_timeout;
        let ready = match self
            .writer
            .ready(&spec, &new_id, &created.value, timeout)
            .await
        {
            Ok(ready) => ready,
            Err(why) => {
                drop(created);
                shared
                    .update(|inv| {
                        inv.pending.remove(token.as_str());
                    })
                    .await;
                let gone = match self.api.delete_token(owner, &new_id).await {
                    Ok(()) => "it was deleted".to_string(),
                    Err(e) if e.is_not_found() => "it is gone".to_string(),
                    Err(e) => format!(
                        "deleting it failed ({}), so the next pass deletes it as a duplicate",
                        error_chain(&e)
                    ),
                };
                tracing::error!(token = %token, id = %new_id, "the new key did not pass its readiness probe: {why}");
                return report(
                    step,
                    Outcome::Failed(format!(
                        "the new key {new_id} was not ready: {why}; {gone}, and the old key {old_id} and the output are untouched; the next pass tries again"
                    )),
                );
            }
        };
        let now = OffsetDateTime::now_utc();
        let retire_at = if *revoke_old { now } else { now + *overlap };
        let record = TokenRecord {
            id: new_id.clone(),
            owner,
            created_at: now,
            rolled_at: None,
            modified_on: created.token.modified_on,
            output: None,
            unheld: false,
        };
        shared
            .update(|inv| {
                inv.retiring.retain(|r| r.id != *old_id);
                inv.retiring.push(RetiringRecord {
                    token: token.clone(),
                    id: old_id.clone(),
                    owner,
                    retire_at,
                });
                inv.tokens.insert(token.clone(), record);
                inv.pending.remove(token.as_str());
            })
            .await;
        let fresh = Fresh {
            token,
            owner,
            id: &new_id,
            value: created.value,
            rolled: None,
            modified_on: created.token.modified_on,
        };
        let mut r = self.deliver(step, fresh, shared).await;
        r.readiness = Some(ready.elapsed);
        if !r.outcome.succeeded() {
            return r;
        }
        let proven = format!(
            "new key {new_id} passed its probe in {:.1}s (attempt {}), output written",
            ready.elapsed.as_secs_f64(),
            ready.attempts
        );
        r.outcome = if *revoke_old {
            match self.api.delete_token(owner, old_id).await {
                Ok(()) => {
                    shared
                        .update(|inv| inv.retiring.retain(|r| r.id != *old_id))
                        .await;
                    Outcome::Rotated(format!("{proven}; old key {old_id} revoked"))
                }
                Err(e) if e.is_not_found() => {
                    shared
                        .update(|inv| inv.retiring.retain(|r| r.id != *old_id))
                        .await;
                    Outcome::Rotated(format!("{proven}; old key {old_id} already gone"))
                }
                Err(e) => Outcome::Failed(format!(
                    "{proven}, but revoking the old key {old_id} failed: {}; the next pass retires it",
                    error_chain(&e)
                )),
            }
        } else {
            Outcome::Rotated(format!(
                "{proven}; old key {old_id} retires at {}",
                crate::plan::timestamp(retire_at)
            ))
        };
        r
    }

    /// Delete a rotated token's old key once its overlap has ended, then forget it.
    pub(super) async fn retire_token(&self, step: &Step, shared: &Shared) -> StepReport {
        if let Some(r) = self.stopped(step) {
            return r;
        }
        let Step::RetireToken { id, owner, .. } = step else {
            unreachable!("retire_token gets retirements");
        };
        let outcome = match self.api.delete_token(*owner, id).await {
            Ok(()) => Outcome::Done,
            Err(e) if e.is_not_found() => Outcome::AlreadyDone("already gone".into()),
            Err(e) => Outcome::Failed(error_chain(&e)),
        };
        if outcome.succeeded() {
            shared
                .update(|inv| inv.retiring.retain(|r| &r.id != id))
                .await;
        }
        let r = report(step, outcome);
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
            modified_on,
        } = fresh;
        let spec = self.spec(token).clone();
        if let Some(why) = shared.fenced() {
            let what = if rolled.is_some() {
                "rolled"
            } else {
                "created"
            };
            tracing::error!(token = %token, id = %id, "{why}");
            return report(
                step,
                Outcome::Failed(format!("token {what} ({id}), but {why}")),
            );
        }
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
            modified_on,
            output: written.as_ref().ok().cloned(),
            unheld: false,
        };
        shared
            .update(|inv| {
                inv.tokens.insert(token.to_string(), record);
                inv.pending.remove(token);
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
        let _ = self.remove_recorded_output(from, previous);
    }

    /// Remove `path` if it is exactly the output recorded for `record`. `None` when it is
    /// gone (removed now, or already); otherwise why it was left alone.
    fn remove_recorded_output(
        &self,
        path: &std::path::Path,
        record: &TokenRecord,
    ) -> Option<String> {
        let out = record.output.as_ref().filter(|o| o.path == path)?;
        let dir = self.writer.output_dir();
        match crate::secrets::file_sha256(dir, path) {
            Ok(None) => None,
            Ok(Some(sha)) if sha == out.ciphertext_sha256 => {
                match std::fs::remove_file(dir.join(path)) {
                    Ok(()) => {
                        tracing::info!(file = %path.display(), "removed an output whose credentials are dead");
                        None
                    }
                    Err(e) => Some(format!("removing it failed: {e}")),
                }
            }
            Ok(Some(_)) => Some("it changed since it was written".into()),
            Err(e) => Some(format!("it cannot be checked: {e}")),
        }
    }
}
