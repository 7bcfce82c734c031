//! Bucket steps: create (adopting an existing one only after proving it is ours in that
//! jurisdiction), storage-class update, delete.

use super::{Applier, Outcome, Shared, StepReport, error_chain, report};
use crate::cloudflare::ReadApi;
use crate::cloudflare::WriteApi;
use time::OffsetDateTime;

use crate::config::{LocationHint, StorageClass};
use crate::inventory::{BucketRecord, Refusal};
use crate::observed::ObservedBucket;
use crate::plan::{BucketRef, Step};

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
                self.create_bucket(bucket, *location_hint, *storage_class, *protect, shared)
                    .await
            }
            Step::UpdateBucket { bucket, to, .. } => {
                self.update_storage_class(bucket, *to, shared).await
            }
            Step::DeleteBucket { bucket } => self.delete_bucket(bucket, shared).await,
            _ => unreachable!("bucket_step gets bucket steps"),
        };
        let r = report(step, outcome);
        self.log(&r);
        r
    }

    /// Create the bucket, or adopt the one of that name in its jurisdiction; either way
    /// it is recorded, with its protection.
    async fn create_bucket(
        &self,
        bucket: &BucketRef,
        location_hint: Option<LocationHint>,
        storage_class: StorageClass,
        protect: bool,
        shared: &Shared,
    ) -> Outcome {
        let result = self
            .api
            .create_bucket(
                bucket.jurisdiction,
                &bucket.name,
                location_hint,
                storage_class,
            )
            .await;
        let (outcome, exists) = match result {
            Ok(b) => (created(bucket, location_hint, storage_class, &b), true),
            // A 409 says the name is taken, not where: R2 may keep names unique
            // per account across jurisdictions (docs of code 10073). Adopt only
            // what a GET in the declared jurisdiction shows.
            Err(e) if e.is_already_exists() => self.name_taken(bucket).await,
            Err(e) => (Outcome::Failed(error_chain(&e)), false),
        };
        if exists {
            shared
                .update(|inv| {
                    inv.buckets
                        .entry((bucket.jurisdiction, bucket.name.clone()))
                        .or_insert_with(|| BucketRecord::new(protect))
                        .protect = protect;
                })
                .await;
        }
        outcome
    }

    /// The bucket's name is taken: ours in the declared jurisdiction (adopted, true), or
    /// someone else's or elsewhere (failed, false).
    async fn name_taken(&self, bucket: &BucketRef) -> (Outcome, bool) {
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

    async fn update_storage_class(
        &self,
        bucket: &BucketRef,
        to: StorageClass,
        shared: &Shared,
    ) -> Outcome {
        match self
            .api
            .set_storage_class(bucket.jurisdiction, &bucket.name, to)
            .await
        {
            Ok(b) if b.storage_class == to => Outcome::Done,
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
                        to,
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
        }
    }

    async fn delete_bucket(&self, bucket: &BucketRef, shared: &Shared) -> Outcome {
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
}

/// What a created bucket's answer says: a hint Cloudflare did not follow is only logged,
/// a storage class it did not store fails the step.
fn created(
    bucket: &BucketRef,
    location_hint: Option<LocationHint>,
    storage_class: StorageClass,
    b: &ObservedBucket,
) -> Outcome {
    if let (Some(want), Some(have)) = (location_hint, b.location)
        && want != have
    {
        tracing::warn!(
            bucket = %bucket.name,
            "Cloudflare placed the bucket in {} rather than the hinted {} (a hint is best effort)",
            have.as_str(),
            want.as_str()
        );
    }
    if b.storage_class == storage_class {
        Outcome::Done
    } else {
        Outcome::Failed(format!(
            "Cloudflare did not store the storage class of bucket {} (sent {}, read back {}); the next pass updates it",
            bucket.name,
            storage_class.as_str(),
            b.storage_class.as_str()
        ))
    }
}
