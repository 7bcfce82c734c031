//! Rotation with overlap: a new key proven with a signed S3 call and delivered before the
//! old one is revoked, and the retirement of old keys whose overlap has ended.

use time::OffsetDateTime;

use super::{Applier, Fresh, Outcome, Shared, StepReport, error_chain, report};
use crate::cloudflare::WriteApi;
use crate::inventory::{RetiringRecord, TokenRecord};
use crate::plan::Step;

impl<W: WriteApi> Applier<'_, W> {
    /// Rotation with overlap: create the new token (read back), prove it with a signed S3
    /// call, record it with the old one as retiring (one save: a crash after it leaves a
    /// new token that was never delivered, which the next pass rolls, and the old key in
    /// the output still working), write its output, then revoke the old key at once only
    /// with `--revoke-old`. Not proven in time: the new token is deleted, the old one and
    /// the output are untouched.
    pub(super) async fn rotate(&self, step: &Step, shared: &Shared) -> StepReport {
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
}
