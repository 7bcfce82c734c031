//! Waiting out Cloudflare catching up with a write it already took, written once for every
//! kind: the retry decision is pure (`Backoff`), the wait is `Applier::settle`.
//!
//! - The post-create lag: the configuration, custom-domain and notification endpoints can
//!   answer NoSuchBucket (10006) or BucketNotFound (10085) for a bucket created moments ago
//!   (alchemy-run/alchemy `Bucket.ts` and `BucketEventNotification.ts` retry both, for about
//!   3 s and 16 s). For a bucket this pass created, every call of a configuration step (CORS,
//!   lifecycle, lock, r2.dev, custom domains, notifications: its write and its read-back) goes
//!   through `after_create`, which retries those answers with `Backoff::POST_CREATE`. They
//!   are never read as "the bucket is gone" or "no rules".
//! - The hostname release: a hostname just removed answers 409 "in use" for a few seconds
//!   (alchemy `Bucket.ts` retries it 2 s × 8); a zone change retries its add with
//!   `Backoff::RELEASE` (`custom_domain`).
//!
//! Must not retry anything else, nor for a bucket this pass did not create: there, an
//! unknown bucket is one that is gone. A stop request ends the wait with the last answer.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use super::Applier;
use crate::cloudflare::{ApiError, WriteApi};
use crate::observed::bucket_config::ConfigValue;
use crate::observed::custom_domain::CustomDomain;
use crate::plan::BucketRef;

/// Waits between attempts: `first`, doubling up to `cap`, at most `retries` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    pub retries: u32,
}

impl Backoff {
    /// 0.25 s doubling to 4 s, 7 retries: 15.75 s in all, as long as alchemy waits for a
    /// new bucket's notification endpoint (0.25 s × 2^n, 6 retries) and longer than for its
    /// configuration endpoints (0.1 s × 2^n, 5 retries).
    pub const POST_CREATE: Backoff = Backoff {
        first: Duration::from_millis(250),
        cap: Duration::from_secs(4),
        retries: 7,
    };

    /// 0.5 s doubling to 4 s, 6 retries: 15.5 s in all, about alchemy's 2 s × 8 for a
    /// hostname still in use after its removal.
    pub const RELEASE: Backoff = Backoff {
        first: Duration::from_millis(500),
        cap: Duration::from_secs(4),
        retries: 6,
    };

    /// The wait before retry number `retry` (0-based), or `None` when none is left.
    pub fn delay(&self, retry: u32) -> Option<Duration> {
        (retry < self.retries).then(|| {
            self.first
                .saturating_mul(1u32 << retry.min(16))
                .min(self.cap)
        })
    }

    /// Every wait added up: how long a caller waits at most.
    pub fn total(&self) -> Duration {
        (0..self.retries).filter_map(|r| self.delay(r)).sum()
    }
}

/// What the bucket phase of an apply left for the configuration steps.
#[derive(Debug, Default)]
pub(super) struct Buckets {
    /// Buckets whose create failed: their steps are skipped.
    pub failed: BTreeSet<BucketRef>,
    /// Buckets this pass created (or adopted on a 409): their steps ride out the lag.
    pub created: BTreeSet<BucketRef>,
}

/// An answer that says Cloudflare does not know the bucket at that endpoint.
pub(super) trait BucketAnswer {
    fn bucket_unknown(&self) -> bool;
}

impl BucketAnswer for Result<(), ApiError> {
    fn bucket_unknown(&self) -> bool {
        matches!(self, Err(e) if e.is_bucket_missing())
    }
}

/// `read_config` answers `None` for a bucket it does not find.
impl BucketAnswer for Result<Option<ConfigValue>, ApiError> {
    fn bucket_unknown(&self) -> bool {
        match self {
            Ok(v) => v.is_none(),
            Err(e) => e.is_bucket_missing(),
        }
    }
}

/// `get_custom_domain`: `None` is a domain not attached; the bucket unknown is an error.
impl BucketAnswer for Result<Option<CustomDomain>, ApiError> {
    fn bucket_unknown(&self) -> bool {
        matches!(self, Err(e) if e.is_bucket_missing())
    }
}

impl<W: WriteApi> Applier<'_, W> {
    /// `call` again after each wait `backoff` allows while `lagging` says its answer is one
    /// Cloudflare gives only until it catches up; the last answer.
    pub(super) async fn settle<T, F, Fut>(
        &self,
        backoff: Backoff,
        lagging: impl Fn(&T) -> bool,
        mut call: F,
    ) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = T>,
    {
        let mut answer = call().await;
        let mut retry = 0;
        while lagging(&answer) && !self.stop.requested() {
            let Some(wait) = backoff.delay(retry) else {
                break;
            };
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                retry,
                "Cloudflare has not caught up yet; asking again"
            );
            tokio::time::sleep(wait).await;
            retry += 1;
            answer = call().await;
        }
        answer
    }

    /// A call on `bucket`'s configuration: for a bucket this pass created, asked again while
    /// Cloudflare does not know the bucket there yet (the post-create lag).
    pub(super) async fn after_create<T, F, Fut>(
        &self,
        buckets: &Buckets,
        bucket: &BucketRef,
        call: F,
    ) -> T
    where
        T: BucketAnswer,
        F: FnMut() -> Fut,
        Fut: Future<Output = T>,
    {
        if buckets.created.contains(bucket) {
            self.settle(Backoff::POST_CREATE, T::bucket_unknown, call)
                .await
        } else {
            let mut call = call;
            call().await
        }
    }
}

/// Why a bucket's configuration endpoint did not know it, for a step that failed so.
pub(super) fn bucket_unknown(buckets: &Buckets, bucket: &BucketRef, what: &str) -> String {
    if buckets.created.contains(bucket) {
        format!(
            "bucket {} was created in this pass, and reading its {what} back still found no such bucket after {} s (Cloudflare's post-create lag); the next pass tries again",
            bucket.name,
            Backoff::POST_CREATE.total().as_secs()
        )
    } else {
        format!(
            "bucket {} was gone when its {what} were read back",
            bucket.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_their_cap_and_stop_after_the_last_retry() {
        let ms = |b: Backoff| -> Vec<u64> {
            (0..=b.retries)
                .map(|r| b.delay(r).map_or(0, |d| d.as_millis() as u64))
                .collect()
        };
        assert_eq!(
            ms(Backoff::POST_CREATE),
            [250, 500, 1000, 2000, 4000, 4000, 4000, 0]
        );
        assert_eq!(ms(Backoff::RELEASE), [500, 1000, 2000, 4000, 4000, 4000, 0]);
        assert_eq!(Backoff::POST_CREATE.total(), Duration::from_millis(15_750));
        assert_eq!(Backoff::RELEASE.total(), Duration::from_millis(15_500));
        let huge = Backoff {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(3),
            retries: 40,
        };
        assert_eq!(huge.delay(39), Some(Duration::from_secs(3)), "no overflow");
    }

    #[test]
    fn only_an_unknown_bucket_is_waited_out() {
        let e = |status, code| {
            ApiError::from_answer(
                "x",
                status,
                vec![crate::cloudflare::CfError {
                    code,
                    message: "m".into(),
                }],
            )
        };
        let write = |r: Result<(), ApiError>| r.bucket_unknown();
        assert!(write(Err(e(404, 10006))));
        assert!(write(Err(e(404, 10085))));
        assert!(!write(Ok(())));
        assert!(!write(Err(e(404, 10053))), "a domain not found");
        assert!(!write(Err(e(409, 10080))));
        assert!(
            !write(Err(e(500, 10001))),
            "the client retries those itself"
        );
        let read = |r: Result<Option<ConfigValue>, ApiError>| r.bucket_unknown();
        assert!(read(Ok(None)), "read_config found no bucket");
        assert!(!read(Ok(Some(ConfigValue::Cors(Vec::new())))), "no rules");
        assert!(read(Err(e(404, 10085))));
        let domain = |r: Result<Option<CustomDomain>, ApiError>| r.bucket_unknown();
        assert!(!domain(Ok(None)), "not attached");
        assert!(domain(Err(e(404, 10006))));
    }
}
