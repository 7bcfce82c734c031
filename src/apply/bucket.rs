//! Bucket steps: create (adopting an existing one only after proving it is ours in that
//! jurisdiction), storage-class update, delete.

use super::{Applier, Outcome, Shared, StepReport, error_chain, report};
use crate::cloudflare::ReadApi;
use crate::cloudflare::WriteApi;
use time::OffsetDateTime;

use crate::inventory::{BucketRecord, Refusal};
use crate::plan::Step;

impl<W: WriteApi> Applier<'_, W> {
    pub(super) async fn bucket_step(&self, step: &Step, shared: &Shared) -> StepReport {
        if let Some(r) = self.stopped(step) {
            return r;
        }
        let outcome = match step {
            Step::CreateBucket {
                bucket,
                location_hint,
                storage_class,
                protect,
            } => {
                let result = self
                    .api
                    .create_bucket(
                        bucket.jurisdiction,
                        &bucket.name,
                        *location_hint,
                        *storage_class,
                    )
                    .await;
                let (outcome, exists) = match result {
                    Ok(b) => {
                        if let (Some(want), Some(have)) = (location_hint, b.location)
                            && *want != have
                        {
                            tracing::warn!(
                                bucket = %bucket.name,
                                "Cloudflare placed the bucket in {} rather than the hinted {} (a hint is best effort)",
                                have.as_str(),
                                want.as_str()
                            );
                        }
                        let outcome = if b.storage_class == *storage_class {
                            Outcome::Done
                        } else {
                            Outcome::Failed(format!(
                                "Cloudflare did not store the storage class of bucket {} (sent {}, read back {}); the next pass updates it",
                                bucket.name,
                                storage_class.as_str(),
                                b.storage_class.as_str()
                            ))
                        };
                        (outcome, true)
                    }
                    // A 409 says the name is taken, not where: R2 may keep names unique
                    // per account across jurisdictions (docs of code 10073). Adopt only
                    // what a GET in the declared jurisdiction shows.
                    Err(e) if e.is_already_exists() => {
                        match self
                            .api
                            .reader()
                            .get_bucket(bucket.jurisdiction, &bucket.name)
                            .await
                        {
                            Ok(Some(_)) => (
                                Outcome::AlreadyDone("it already existed; adopted".into()),
                                true,
                            ),
                            Ok(None) => (
                                Outcome::Failed(format!(
                                    "bucket name {} is taken (another jurisdiction or another account); R2 names are unique per account",
                                    bucket.name
                                )),
                                false,
                            ),
                            Err(e) => (
                                Outcome::Failed(format!(
                                    "the name is taken, and reading the bucket back failed: {}",
                                    error_chain(&e)
                                )),
                                false,
                            ),
                        }
                    }
                    Err(e) => (Outcome::Failed(error_chain(&e)), false),
                };
                if exists {
                    shared
                        .update(|inv| {
                            inv.buckets
                                .entry((bucket.jurisdiction, bucket.name.clone()))
                                .or_insert_with(|| BucketRecord::new(*protect))
                                .protect = *protect;
                        })
                        .await;
                }
                outcome
            }
            Step::UpdateBucket { bucket, to, .. } => match self
                .api
                .set_storage_class(bucket.jurisdiction, &bucket.name, *to)
                .await
            {
                Ok(b) if b.storage_class == *to => Outcome::Done,
                Ok(b) => Outcome::Failed(format!(
                    "Cloudflare did not store the storage class of bucket {} (sent {}, read back {}); the next pass tries again",
                    bucket.name,
                    to.as_str(),
                    b.storage_class.as_str()
                )),
                Err(e) => match e.refusal() {
                    // Refused for good (405/7001 was seen live): say so, and do not ask
                    // again on every pass.
                    Some(detail) => {
                        let refusal = Refusal {
                            to: *to,
                            at: OffsetDateTime::now_utc(),
                            detail: detail.clone(),
                        };
                        shared
                            .update(|inv| {
                                if let Some(r) = inv
                                    .buckets
                                    .get_mut(&(bucket.jurisdiction, bucket.name.clone()))
                                {
                                    r.storage_class_refused = Some(refusal);
                                }
                            })
                            .await;
                        Outcome::Blocked(format!(
                            "Cloudflare refused to change the storage class ({detail}); not asked again for 24h"
                        ))
                    }
                    None => Outcome::Failed(error_chain(&e)),
                },
            },
            Step::DeleteBucket { bucket } => {
                let outcome = match self
                    .api
                    .delete_bucket(bucket.jurisdiction, &bucket.name)
                    .await
                {
                    Ok(()) => Outcome::Done,
                    Err(e) if e.is_not_empty() => {
                        Outcome::Blocked("it holds objects; r2gitops never empties a bucket".into())
                    }
                    Err(e) if e.is_not_found() => Outcome::AlreadyDone("already gone".into()),
                    Err(e) => Outcome::Failed(error_chain(&e)),
                };
                if outcome.succeeded() {
                    shared
                        .update(|inv| {
                            inv.buckets
                                .remove(&(bucket.jurisdiction, bucket.name.clone()));
                        })
                        .await;
                }
                outcome
            }
            _ => unreachable!("bucket_step gets bucket steps"),
        };
        let r = report(step, outcome);
        self.log(&r);
        r
    }
}
