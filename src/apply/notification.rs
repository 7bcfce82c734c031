//! Notification steps: the queue's rules deleted, the whole list put (one call each,
//! `WriteApi::write_notifications`), then read back (`read_back`: the bucket's notification
//! configuration, the queue's rules in it met by what was put). A step of a bucket whose
//! create failed is skipped; on a bucket this pass created, each call rides out the
//! post-create lag (`settle`); every other step runs on its own.
//!
//! A PUT refused after the DELETE went through would leave the queue without rules, and its
//! events unsent, until a pass puts them. Cloudflare's overlap rule is in doubt (only rules
//! sharing an action clash, cloudflare-docs PR #19130; any overlapping key range does,
//! alchemy), so a file may hold a pair it refuses: the rules the queue held are put back at
//! once, and the step fails saying so.

use super::settle::Buckets;
use super::{Applier, Outcome, StepReport, error_chain, report};
use crate::cloudflare::{ApiError, WriteApi};
use crate::plan::QueueWrite;
use crate::plan::{BucketRef, Step};

impl<W: WriteApi> Applier<'_, W> {
    pub(super) async fn notification_step(&self, step: &Step, buckets: &Buckets) -> StepReport {
        let Step::ConfigureNotifications { bucket, write, .. } = step else {
            unreachable!("notification_step gets notification steps")
        };
        if let Some(r) = self.bucket_gate(step, bucket, &buckets.failed) {
            return r;
        }
        let outcome = match self.replace_rules(buckets, bucket, write).await {
            Err(outcome) => outcome,
            Ok(()) => self.read_back(buckets, bucket, write, Outcome::Done).await,
        };
        let r = report(step, outcome);
        self.log(&r);
        r
    }

    /// The DELETE (when the queue holds rules), then the PUT (when there is a list), then,
    /// should Cloudflare refuse the PUT, the held rules put back.
    async fn replace_rules(
        &self,
        buckets: &Buckets,
        bucket: &BucketRef,
        write: &QueueWrite,
    ) -> Result<(), Outcome> {
        let (j, name) = (bucket.jurisdiction, bucket.name.as_str());
        let send = |w: &QueueWrite| {
            let w = w.clone();
            async move {
                self.after_create(buckets, bucket, || {
                    self.api.write_notifications(j, name, &w)
                })
                .await
            }
        };
        if write.clear_first {
            let delete = QueueWrite {
                rules: Vec::new(),
                ..write.clone()
            };
            send(&delete)
                .await
                .map_err(|e| Outcome::Failed(error_chain(&e)))?;
        }
        if write.rules.is_empty() {
            return Ok(());
        }
        let put = QueueWrite {
            clear_first: false,
            ..write.clone()
        };
        let Err(e) = send(&put).await else {
            return Ok(());
        };
        if !write.clear_first || write.held.is_empty() {
            return Err(Outcome::Failed(error_chain(&e)));
        }
        if !refused(&e) {
            // No answer, or a server error: the PUT may have gone through. The next pass
            // reads what the queue holds and puts what is missing.
            return Err(Outcome::Failed(format!(
                "{}; its rules had been deleted first, so queue {} may hold none on bucket {name} until the next pass",
                error_chain(&e),
                write.queue_name
            )));
        }
        let back = QueueWrite {
            clear_first: false,
            rules: write.held.clone(),
            ..write.clone()
        };
        let n = write.held.len();
        let q = &write.queue_name;
        Err(Outcome::Failed(match send(&back).await {
            Ok(()) => format!(
                "Cloudflare refused the new rules after their DELETE ({}); the {n} rule(s) queue {q} held were put back. Rules of one queue whose keys overlap, even for different actions, may be what it refuses: see the warnings of `r2gitops validate`",
                error_chain(&e)
            ),
            Err(again) => format!(
                "Cloudflare refused the new rules after their DELETE ({}), and putting back the {n} rule(s) queue {q} held failed too ({}): queue {q} has no rules on bucket {name} now, and its events are not sent until a pass puts them",
                error_chain(&e),
                error_chain(&again)
            ),
        }))
    }
}

/// Cloudflare answered, and said no (4xx): the PUT did not go through.
fn refused(e: &ApiError) -> bool {
    e.status.is_some_and(|s| (400..500).contains(&s))
}
