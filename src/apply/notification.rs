//! Notification steps (issue 15): the queue's rules deleted, the whole list put (one call
//! each, `WriteApi::write_notifications`), then the bucket's notification configuration read
//! back and the queue's rules compared, as a set, with what was put. A DELETE that went
//! through before a refused PUT leaves the queue without rules: the step fails saying so, and
//! the next pass puts the list (there is nothing left to delete). A step of a bucket whose
//! create failed is skipped; every other step runs on its own.

use std::collections::BTreeSet;

use super::settle::{Buckets, bucket_unknown};
use super::{Applier, Outcome, StepReport, error_chain, report};
use crate::cloudflare::WriteApi;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::notification::NotificationRule;
use crate::plan::Step;

impl<W: WriteApi> Applier<'_, W> {
    pub(super) async fn notification_step(&self, step: &Step, buckets: &Buckets) -> StepReport {
        let Step::ConfigureNotifications { bucket, write, .. } = step else {
            unreachable!("notification_step gets notification steps")
        };
        if let Some(r) = self.bucket_gate(step, bucket, &buckets.failed) {
            return r;
        }
        let (j, name) = (bucket.jurisdiction, bucket.name.as_str());
        let want: BTreeSet<&NotificationRule> = write.rules.iter().collect();
        let written = self
            .after_create(buckets, bucket, || {
                self.api.write_notifications(j, name, write)
            })
            .await;
        let outcome = match written {
            Err(e) => Outcome::Failed(error_chain(&e)),
            Ok(()) => match self
                .after_create(buckets, bucket, || {
                    self.api.read_config(j, name, ConfigKind::Notifications)
                })
                .await
            {
                Ok(Some(ConfigValue::Notifications(queues))) => {
                    let stored: BTreeSet<&NotificationRule> = queues
                        .iter()
                        .filter(|q| q.queue_id.as_deref() == Some(write.queue_id.as_str()))
                        .flat_map(|q| q.rules.iter())
                        .collect();
                    if stored == want {
                        Outcome::Done
                    } else {
                        let show = |s: &BTreeSet<&NotificationRule>| {
                            if s.is_empty() {
                                "no rule".to_string()
                            } else {
                                s.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")
                            }
                        };
                        Outcome::Failed(format!(
                            "Cloudflare did not store the notification rules of queue {} on bucket {name} as sent (sent {}, read back {}); the next pass tries again",
                            write.queue_name,
                            show(&want),
                            show(&stored)
                        ))
                    }
                }
                Ok(_) => Outcome::Failed(bucket_unknown(buckets, bucket, "notification rules")),
                Err(e) => Outcome::Failed(format!(
                    "the write was accepted, but reading it back failed: {}",
                    error_chain(&e)
                )),
            },
        };
        let r = report(step, outcome);
        self.log(&r);
        r
    }
}
