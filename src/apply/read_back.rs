//! Write, read back, compare: once for every kind of a bucket's configuration (a
//! sub-resource, a custom domain, a queue's notification rules). After a write Cloudflare
//! accepted, the applier reads what it stored and compares it with what was sent; only a
//! match is done, since Cloudflare may normalise or drop what it took silently. On a
//! bucket this pass created the read rides out the post-create lag (`settle`). Each kind
//! says how it is read and compared (`ReadBack`); the outcome and its words are made here.
//!
//! Must not write, nor retry anything `settle` does not.

use std::collections::BTreeSet;
use std::future::Future;

use super::settle::{BucketAnswer, Buckets, bucket_unknown};
use super::{Applier, Outcome, error_chain};
use crate::cloudflare::{ApiError, ReadApi, WriteApi};
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::CustomDomain;
use crate::observed::notification::{NotificationRule, rules_met};
use crate::plan::{BucketRef, ConfigWrite, DomainWrite, QueueWrite};

/// What a read-back found, against what was sent.
pub(super) enum Verdict {
    /// Cloudflare holds what was sent.
    Stored,
    /// It holds something else: what was sent and what it holds, in a few words each.
    Differs { sent: String, stored: String },
    /// The endpoint did not know the bucket.
    BucketUnknown,
    /// A failure in the kind's own words (a domain still listed after its removal).
    Failed(String),
}

/// A write whose effect is read back: how to read it, and how to judge what was read.
pub(super) trait ReadBack: Sync {
    type Stored;
    /// What was written, for messages: `the CORS of bucket b`.
    fn what(&self, bucket: &BucketRef) -> String;
    /// What a bucket-unknown message calls it: `CORS`, `notification rules`.
    fn label(&self) -> &'static str;
    fn read<R: ReadApi>(
        &self,
        api: &R,
        bucket: &BucketRef,
    ) -> impl Future<Output = Result<Self::Stored, ApiError>> + Send;
    fn compare(&self, bucket: &BucketRef, stored: Self::Stored) -> Verdict;
}

impl<W: WriteApi> Applier<'_, W> {
    /// The read-back of a write Cloudflare accepted: `ok` when it holds what was sent.
    pub(super) async fn read_back<K: ReadBack>(
        &self,
        buckets: &Buckets,
        bucket: &BucketRef,
        sent: &K,
        ok: Outcome,
    ) -> Outcome
    where
        Result<K::Stored, ApiError>: BucketAnswer,
    {
        let stored = self
            .after_create(buckets, bucket, || sent.read(self.api.reader(), bucket))
            .await;
        let stored = match stored {
            Ok(stored) => stored,
            Err(e) => {
                return Outcome::Failed(format!(
                    "the write was accepted, but reading it back failed: {}",
                    error_chain(&e)
                ));
            }
        };
        match sent.compare(bucket, stored) {
            Verdict::Stored => ok,
            Verdict::Differs { sent: s, stored } => Outcome::Failed(format!(
                "Cloudflare did not store {} as sent (sent {s}, read back {stored}); the next pass tries again",
                sent.what(bucket)
            )),
            Verdict::BucketUnknown => {
                Outcome::Failed(bucket_unknown(buckets, bucket, sent.label()))
            }
            Verdict::Failed(why) => Outcome::Failed(why),
        }
    }
}

/// A sub-resource: its GET, compared by the diff's own comparison (`ConfigValue::matches`).
impl ReadBack for ConfigWrite {
    type Stored = Option<ConfigValue>;
    fn what(&self, bucket: &BucketRef) -> String {
        format!("the {} of bucket {}", self.kind().label(), bucket.name)
    }
    fn label(&self) -> &'static str {
        self.kind().label()
    }
    fn read<R: ReadApi>(
        &self,
        api: &R,
        bucket: &BucketRef,
    ) -> impl Future<Output = Result<Self::Stored, ApiError>> + Send {
        api.read_config(bucket.jurisdiction, &bucket.name, self.kind())
    }
    fn compare(&self, _: &BucketRef, stored: Self::Stored) -> Verdict {
        let want = self.expected();
        match stored {
            Some(stored) if stored.matches(&want) => Verdict::Stored,
            Some(stored) => Verdict::Differs {
                sent: want.summary(),
                stored: stored.summary(),
            },
            None => Verdict::BucketUnknown,
        }
    }
}

/// A queue's rules: the bucket's notification configuration, the queue's rules in it met
/// by what was put (`rules_met`: a description the file leaves out is Cloudflare's to make
/// up).
impl ReadBack for QueueWrite {
    type Stored = Option<ConfigValue>;
    fn what(&self, bucket: &BucketRef) -> String {
        format!(
            "the notification rules of queue {} on bucket {}",
            self.queue_name, bucket.name
        )
    }
    fn label(&self) -> &'static str {
        "notification rules"
    }
    fn read<R: ReadApi>(
        &self,
        api: &R,
        bucket: &BucketRef,
    ) -> impl Future<Output = Result<Self::Stored, ApiError>> + Send {
        api.read_config(bucket.jurisdiction, &bucket.name, ConfigKind::Notifications)
    }
    fn compare(&self, _: &BucketRef, stored: Self::Stored) -> Verdict {
        let Some(ConfigValue::Notifications(queues)) = stored else {
            return Verdict::BucketUnknown;
        };
        let stored: BTreeSet<&NotificationRule> = queues
            .iter()
            .filter(|q| q.queue_id.as_ref() == Some(&self.queue_id))
            .flat_map(|q| q.rules.iter())
            .collect();
        let stored: Vec<&NotificationRule> = stored.into_iter().collect();
        let want: Vec<&NotificationRule> = self.rules.iter().collect();
        if rules_met(&want, &stored) {
            return Verdict::Stored;
        }
        let show = |s: &[&NotificationRule]| {
            if s.is_empty() {
                "no rule".to_string()
            } else {
                s.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")
            }
        };
        Verdict::Differs {
            sent: show(&want),
            stored: show(&stored),
        }
    }
}

/// A custom domain: its GET, the same zone and settings as sent, or nothing after a
/// removal.
impl ReadBack for DomainWrite {
    type Stored = Option<CustomDomain>;
    fn what(&self, bucket: &BucketRef) -> String {
        format!("custom domain {} of bucket {}", self.domain(), bucket.name)
    }
    fn label(&self) -> &'static str {
        "custom domain"
    }
    fn read<R: ReadApi>(
        &self,
        api: &R,
        bucket: &BucketRef,
    ) -> impl Future<Output = Result<Self::Stored, ApiError>> + Send {
        api.get_custom_domain(bucket.jurisdiction, &bucket.name, self.domain())
    }
    fn compare(&self, bucket: &BucketRef, stored: Self::Stored) -> Verdict {
        let (domain, name) = (self.domain(), &bucket.name);
        match (self.expected(), stored) {
            (None, None) => Verdict::Stored,
            (None, Some(_)) => Verdict::Failed(format!(
                "Cloudflare still lists custom domain {domain} on bucket {name} after removing it; the next pass tries again"
            )),
            (Some(_), None) => Verdict::Failed(format!(
                "custom domain {domain} is not on bucket {name} after the {} was accepted; the next pass tries again",
                self.method()
            )),
            (Some(want), Some(got)) if want.same_zone(&got) && want.settings_match(&got) => {
                Verdict::Stored
            }
            (Some(want), Some(got)) => Verdict::Differs {
                sent: words(&want),
                stored: words(&got),
            },
        }
    }
}

/// A domain in a few words, for a failed read-back: `zone z1, enabled, min_tls 1.2`.
fn words(d: &CustomDomain) -> String {
    let mut out = Vec::new();
    if d.zone_id.is_some() || d.zone_name.is_some() {
        out.push(format!("zone {}", d.zone_label()));
    }
    out.push(if d.enabled { "enabled" } else { "disabled" }.into());
    if let Some(t) = d.min_tls {
        out.push(format!("min_tls {}", t.as_str()));
    }
    out.join(", ")
}
