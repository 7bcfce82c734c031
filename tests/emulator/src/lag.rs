//! The live API catching up with a write it already took, each behind a `Behaviour` switch
//! (off by default):
//!
//! - the post-create lag: for `post_create_lag` after a bucket's create, its configuration
//!   and custom-domain routes answer 404 / 10006 (NoSuchBucket) and its notification routes
//!   404 / 10085 (BucketNotFound), though the bucket routes already list and show it
//!   (alchemy `Bucket.ts`, `r2BucketEndpointConsistencySchedule`, and
//!   `BucketEventNotification.ts`, `r2EventNotificationConsistencySchedule`);
//! - the hostname release: for `domain_release` after a custom domain's removal, a POST of
//!   that hostname, to any bucket, answers 409 "Domain already in use" (alchemy `Bucket.ts`,
//!   `r2CustomDomainConflictSchedule`, 2 s × 8).

use std::time::Instant;

use axum::http::StatusCode;
use time::OffsetDateTime;

use crate::api::{Reply, err};
use crate::behaviour::Behaviour;
use crate::state::Bucket;

/// Which routes of a new bucket lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routes {
    /// CORS, lifecycle, lock, r2.dev, custom domains: 10006.
    Config,
    /// Event notifications: 10085.
    Notifications,
}

/// The answer a route of `bucket` gives while its create has not reached it, if it has not.
pub(crate) fn new_bucket(behaviour: &Behaviour, bucket: &Bucket, routes: Routes) -> Option<Reply> {
    let lag = behaviour.post_create_lag?;
    let age = OffsetDateTime::now_utc() - bucket.creation_date;
    if age >= lag {
        return None;
    }
    Some(match routes {
        Routes::Config => crate::api::no_bucket(),
        Routes::Notifications => err(
            StatusCode::NOT_FOUND,
            10085,
            "workers.api.error.bucket_not_found",
        ),
    })
}

/// Whether `domain`, removed at `removed`, is still held at `now`.
pub(crate) fn still_in_use(behaviour: &Behaviour, removed: Option<Instant>, now: Instant) -> bool {
    match (behaviour.domain_release, removed) {
        (Some(release), Some(at)) => now.duration_since(at) < release,
        _ => false,
    }
}

/// The 409 a POST of a hostname still held answers. The live code is not documented;
/// 10080 is the emulator's, as for a hostname attached elsewhere.
pub(crate) fn in_use(domain: &str) -> Reply {
    err(
        StatusCode::CONFLICT,
        10080,
        &format!("Domain already in use: {domain}"),
    )
}
