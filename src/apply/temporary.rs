//! Temporary credential steps: issue under the parent's current id, write the
//! output at once, record it, and prove it works where `output.verify` asks.
//!
//! There is no read-back: Cloudflare keeps no record of a temporary credential and has no
//! call that shows one. What can be checked is checked: the answer must carry all three
//! values, and `verify: true` makes one signed S3 request with the session token. The
//! expiry recorded is counted from before the request, so it is never later than
//! Cloudflare's own.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::{Applier, Outcome, Shared, StepReport, error_chain, report};
use crate::cloudflare::{IssuedTemporary, TemporaryRequest, WriteApi};
use crate::config::TemporarySpec;
use crate::inventory::TemporaryRecord;
use crate::plan::{BucketRef, IssueReason, Step};
use crate::secrets::temporary::TemporaryCredentials;

/// What a child's issue comes to given its parent's steps in this pass, when it is not
/// to be attempted: `None` to go ahead.
pub(super) fn before_issue(
    reason: &IssueReason,
    group: &[StepReport],
    parent_replaced: bool,
) -> Option<Outcome> {
    let parent_failed = group
        .iter()
        .any(|r| r.kind == "token" && !r.outcome.succeeded());
    if parent_failed {
        // A failed roll or update leaves the parent's value as it was, and with it the
        // credentials issued under it; a failed create leaves no parent at all.
        return Some(Outcome::Skipped(
            "its parent token's step failed; nothing was issued under it".into(),
        ));
    }
    if matches!(reason, IssueReason::ParentMayBeReplaced { .. }) && !parent_replaced {
        return Some(Outcome::AlreadyDone(
            "its parent was updated in place: the credential issued under it still works".into(),
        ));
    }
    None
}

fn borrowed(issued: &IssuedTemporary) -> TemporaryCredentials<'_> {
    TemporaryCredentials {
        access_key_id: &issued.access_key_id,
        secret_access_key: &issued.secret_access_key,
        session_token: &issued.session_token,
    }
}

impl<W: WriteApi> Applier<'_, W> {
    fn temporary_spec(&self, name: &str) -> &TemporarySpec {
        self.desired
            .temporary_credentials
            .iter()
            .find(|t| t.name == name)
            .expect("the plan only names declared temporary credentials")
    }

    pub(super) async fn temporary_step(
        &self,
        step: &Step,
        failed_buckets: &BTreeSet<BucketRef>,
        shared: &Shared,
    ) -> StepReport {
        if let Some(r) = self.stopped(step) {
            return r;
        }
        let Step::IssueTemporary {
            name,
            parent,
            scope,
            jurisdiction,
            ..
        } = step
        else {
            unreachable!("temporary_step gets temporary credential issues");
        };
        let bucket = BucketRef {
            jurisdiction: *jurisdiction,
            name: scope.bucket.clone(),
        };
        if failed_buckets.contains(&bucket) {
            let r = report(
                step,
                Outcome::Skipped(format!("bucket {} was not created", bucket.name)),
            );
            self.log(&r);
            return r;
        }
        // Read now, not when planned: a parent created, rolled or replaced earlier in this
        // pass has its record (and new id) saved by then.
        let parent_id = shared
            .inventory
            .lock()
            .await
            .tokens
            .get(parent)
            .map(|t| t.id.clone());
        let Some(parent_id) = parent_id else {
            let r = report(
                step,
                Outcome::Failed(format!(
                    "its parent token {parent} has no id (it was not created)"
                )),
            );
            self.log(&r);
            return r;
        };
        let spec = self.temporary_spec(name).clone();
        let request = TemporaryRequest {
            bucket: scope.bucket.clone(),
            parent_access_key_id: parent_id.clone(),
            permission: scope.permission(),
            ttl_seconds: scope.ttl.as_secs(),
            prefixes: scope.prefixes.clone(),
            objects: scope.objects.clone(),
        };
        let issued_at = OffsetDateTime::now_utc();
        let issued = match self.api.issue_temporary(&request).await {
            Ok(i) => i,
            Err(e) => {
                let r = report(step, Outcome::Failed(error_chain(&e)));
                self.log(&r);
                return r;
            }
        };
        let expires_at = issued_at + scope.ttl;
        if let Some(why) = shared.fenced() {
            drop(issued);
            let r = report(step, Outcome::Failed(format!("issued, but {why}")));
            self.log(&r);
            return r;
        }
        let (writer, for_writer) = (self.writer.clone(), spec.clone());
        let joined = tokio::task::spawn_blocking(move || {
            let written =
                writer.write_temporary(&for_writer, &borrowed(&issued), issued_at, expires_at);
            (written, issued)
        })
        .await;
        let (written, issued) = match joined {
            Ok((written, issued)) => (written.map_err(|e| error_chain(&e)), Some(issued)),
            Err(e) => (Err(e.to_string()), None),
        };
        let record = TemporaryRecord {
            access_key_id: issued
                .as_ref()
                .map(|i| i.access_key_id.clone())
                .unwrap_or_default(),
            parent: parent.clone(),
            parent_id,
            issued_at,
            expires_at,
            scope: scope.clone(),
            output: written.as_ref().ok().cloned(),
        };
        shared
            .update(|inv| {
                inv.temporary.insert(name.clone(), record);
            })
            .await;
        let mut r = match &written {
            Ok(_) => report(step, Outcome::Done),
            Err(e) => report(
                step,
                Outcome::Failed(format!(
                    "issued, but its output could not be written: {e}; the next pass issues another"
                )),
            ),
        };
        if let (Ok(_), Some(issued)) = (&written, &issued) {
            r.verify = self.writer.verify_temporary(&spec, &borrowed(issued)).await;
        }
        self.log(&r);
        r
    }
}
