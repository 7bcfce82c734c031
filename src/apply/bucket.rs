//! Bucket steps: create (adopting an existing one only after proving it is ours in that
//! jurisdiction), storage-class update, delete.

use super::{Applier, Outcome, Shared, StepReport, error_chain, report};
use crate::cloudflare::WriteApi;
use crate::inventory::BucketRecord;
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
                let outcome = match result {
                    Ok(_) => Outcome::Done,
                    Err(e) if e.is_already_exists() => {
                        Outcome::AlreadyDone("it already existed; adopted".into())
                    }
                    Err(e) => Outcome::Failed(error_chain(&e)),
                };
                if outcome.succeeded() {
                    shared
                        .update(|inv| {
                            inv.buckets.insert(
                                (bucket.jurisdiction, bucket.name.clone()),
                                BucketRecord::new(*protect),
                            );
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
                Ok(_) => Outcome::Done,
                Err(e) => Outcome::Failed(error_chain(&e)),
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
