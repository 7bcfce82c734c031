//! Custom-domain steps: each write of the step in order (a zone change is a removal then an
//! add), then the domain's GET, compared with what was sent (`read_back`). A POST answered
//! 409 reads the domain back: attached to this bucket, it is adopted (and patched if its
//! settings differ); otherwise the step is blocked, "attached to another bucket" (Terraform
//! users meet this 409 intermittently: TF #6837). After the removal of a zone change, the
//! hostname is "in use" (409) for a few seconds: the add is asked again with
//! `Backoff::RELEASE` before anything is concluded. A domain the step removed and did not put
//! back is detached: the step fails (exit 1), it is never blocked. A step of a bucket whose
//! create failed is skipped; on a bucket this pass created, every call rides out the
//! post-create lag (`settle`). Every other step runs on its own.

use super::settle::{Backoff, Buckets};
use super::{Applier, Outcome, StepReport, error_chain, report};
use crate::cloudflare::ReadApi;
use crate::cloudflare::custom_domain::DOMAIN_NOT_FOUND;
use crate::cloudflare::{ApiError, WriteApi};
use crate::observed::custom_domain::CustomDomain;
use crate::plan::DomainWrite;
use crate::plan::{BucketRef, Step};

impl<W: WriteApi> Applier<'_, W> {
    pub(super) async fn domain_step(&self, step: &Step, buckets: &Buckets) -> StepReport {
        let Step::ConfigureDomain { bucket, writes, .. } = step else {
            unreachable!("domain_step gets custom-domain steps")
        };
        if let Some(r) = self.bucket_gate(step, bucket, &buckets.failed) {
            return r;
        }
        let mut outcome = Outcome::Done;
        let mut removed = false;
        for write in writes {
            outcome = self.one(buckets, bucket, write, removed).await;
            if !outcome.succeeded() {
                break;
            }
            removed |= matches!(write, DomainWrite::Remove { .. });
        }
        if removed && !outcome.succeeded() {
            outcome = detached(bucket, writes, outcome);
        }
        let r = report(step, outcome);
        self.log(&r);
        r
    }

    /// One write and its read-back. `after_removal`: this step removed the domain just
    /// before (a zone change), so a 409 on its add is the hostname not yet released.
    async fn one(
        &self,
        buckets: &Buckets,
        bucket: &BucketRef,
        write: &DomainWrite,
        after_removal: bool,
    ) -> Outcome {
        let (j, name) = (bucket.jurisdiction, bucket.name.as_str());
        let domain = write.domain();
        let send = || {
            self.after_create(buckets, bucket, || {
                self.api.write_custom_domain(j, name, write)
            })
        };
        let written = if after_removal && matches!(write, DomainWrite::Add { .. }) {
            self.settle(Backoff::RELEASE, in_use, send).await
        } else {
            send().await
        };
        match written {
            Ok(()) => self.read_back(buckets, bucket, write, Outcome::Done).await,
            Err(e) if matches!(write, DomainWrite::Add { .. }) && e.status == Some(409) => {
                let found = self
                    .after_create(buckets, bucket, || {
                        self.api.reader().get_custom_domain(j, name, domain)
                    })
                    .await;
                match found {
                    Ok(Some(found)) => self.adopt(buckets, bucket, write, &found).await,
                    Ok(None) if after_removal => Outcome::Failed(format!(
                        "Cloudflare still refused to add custom domain {domain} again as in use (409) {} s after its removal",
                        Backoff::RELEASE.total().as_secs()
                    )),
                    Ok(None) => Outcome::Blocked(format!(
                        "custom domain {domain} is attached to another bucket (Cloudflare answered 409); remove it there, or declare it on that bucket"
                    )),
                    Err(e) => Outcome::Failed(format!(
                        "the add was refused as a conflict, and reading the domain failed: {}",
                        error_chain(&e)
                    )),
                }
            }
            Err(e)
                if matches!(write, DomainWrite::Remove { .. })
                    && (e.is_code(DOMAIN_NOT_FOUND)
                        || (e.status == Some(404) && !e.is_bucket_missing())) =>
            {
                Outcome::AlreadyDone(format!("custom domain {domain} was already removed"))
            }
            Err(e) => Outcome::Failed(error_chain(&e)),
        }
    }

    /// A 409 for a domain that turns out to be this bucket's (a planned add raced an
    /// out-of-band one, or a list missed it): keep it, patched to the declared settings.
    async fn adopt(
        &self,
        buckets: &Buckets,
        bucket: &BucketRef,
        write: &DomainWrite,
        found: &CustomDomain,
    ) -> Outcome {
        let (j, name) = (bucket.jurisdiction, bucket.name.as_str());
        let DomainWrite::Add {
            domain,
            enabled,
            min_tls,
            ..
        } = write
        else {
            unreachable!("only an add is adopted")
        };
        let want = write.expected().expect("an add expects a domain");
        if !want.same_zone(found) {
            return Outcome::Failed(format!(
                "custom domain {domain} is already attached to bucket {name}, but in zone {} (the next pass replaces it)",
                found.zone_label()
            ));
        }
        if want.settings_match(found) {
            return Outcome::AlreadyDone(format!(
                "custom domain {domain} was already attached to bucket {name}; adopted"
            ));
        }
        let patch = DomainWrite::Update {
            domain: domain.clone(),
            enabled: *enabled,
            min_tls: *min_tls,
        };
        let patched = self
            .after_create(buckets, bucket, || {
                self.api.write_custom_domain(j, name, &patch)
            })
            .await;
        match patched {
            Ok(()) => {
                self.read_back(
                    buckets,
                    bucket,
                    &patch,
                    Outcome::AlreadyDone(format!(
                        "custom domain {domain} was already attached to bucket {name}; adopted and updated"
                    )),
                )
                .await
            }
            Err(e) => Outcome::Failed(error_chain(&e)),
        }
    }
}

/// A 409 on an add: after a removal, the hostname not yet released.
fn in_use(answer: &Result<(), ApiError>) -> bool {
    matches!(answer, Err(e) if e.status == Some(409))
}

/// What a step that removed its domain and did not put it back reports: a failure, whatever
/// stopped it (a blocked add included), since the domain no longer serves the bucket.
fn detached(bucket: &BucketRef, writes: &[DomainWrite], outcome: Outcome) -> Outcome {
    let domain = writes.first().map(DomainWrite::domain).unwrap_or_default();
    let why = outcome.detail().unwrap_or("the add did not complete");
    Outcome::Failed(format!(
        "{why}; custom domain {domain} was removed from bucket {} for its zone change and is detached now; the next pass adds it again",
        bucket.name
    ))
}
