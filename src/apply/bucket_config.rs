//! Configuration steps: one PUT (or the CORS DELETE) per sub-resource, then its GET, and
//! the two compared (`read_back`, by the diff's own comparison). Cloudflare may
//! normalise or refuse silently, so a write is only done when the read-back says so. A
//! step of a bucket whose create failed is skipped; every other step runs on its own. On a
//! bucket this pass created, both calls ride out the post-create lag (`settle`).

use super::settle::Buckets;
use super::{Applier, Outcome, StepReport, error_chain, report};
use crate::cloudflare::WriteApi;
use crate::plan::Step;

impl<W: WriteApi> Applier<'_, W> {
    pub(super) async fn config_step(&self, step: &Step, buckets: &Buckets) -> StepReport {
        let Step::ConfigureBucket { bucket, write, .. } = step else {
            unreachable!("config_step gets configuration steps")
        };
        if let Some(r) = self.bucket_gate(step, bucket, &buckets.failed) {
            return r;
        }
        let (j, name) = (bucket.jurisdiction, bucket.name.as_str());
        let written = self
            .after_create(buckets, bucket, || self.api.write_config(j, name, write))
            .await;
        let outcome = match written {
            Err(e) => Outcome::Failed(error_chain(&e)),
            Ok(()) => self.read_back(buckets, bucket, write, Outcome::Done).await,
        };
        let r = report(step, outcome);
        self.log(&r);
        r
    }
}
