//! Reading bucket configuration, within Cloudflare's request budget: one GET per
//! declared sub-resource of an existing bucket, never one the file does not manage.
//!
//! A one-shot `reconcile` reads everything the file manages (`Reads::All`). The daemon keeps
//! what it read in a `ConfigCache` and re-reads a bucket's sub-resources when
//! - it has none cached, or the file's declaration of that bucket changed (a file change),
//! - r2gitops wrote to it (`invalidate` after an apply),
//! - or `settings.config_resync` has passed since it was read.
//!
//! so an unchanged sub-resource is read at most once per `config_resync`. Reads that start
//! together (the first pass, an edit touching many buckets) get due times spread evenly over
//! the following period, so that later passes each re-read an even share instead of all at
//! once. The cache logic is pure (time is an argument); only `read` does I/O.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};

use crate::cloudflare::{ApiError, ReadApi};
use crate::config::{BucketConfig, Desired, Jurisdiction};
use crate::observed::ObservedBucket;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};

/// A bucket by jurisdiction and name.
pub type BucketKey = (Jurisdiction, String);

/// What was read of one bucket: every declared kind.
pub type BucketReads = BTreeMap<ConfigKind, ConfigValue>;

/// Which sub-resources a pass reads.
pub enum Reads<'a> {
    /// Everything the file manages (one-shot `reconcile`, the benchmarks).
    All,
    /// What the daemon's cache says is due at `now`; the rest comes from the cache.
    Cached {
        cache: &'a mut ConfigCache,
        now: Instant,
    },
}

/// Reads in flight at once (the client's own limit and budget still apply).
const READ_CONCURRENCY: usize = 8;

#[derive(Debug, Clone)]
struct Entry {
    /// The declaration the values were read for: another one means a fresh read.
    declared: BucketConfig,
    values: BucketReads,
    due: Instant,
}

/// The daemon's memory of configuration it read, per bucket, and of the zones and queues
/// declared custom domains and notification rules name.
#[derive(Debug, Clone)]
pub struct ConfigCache {
    resync: Duration,
    entries: BTreeMap<BucketKey, Entry>,
    pub(super) zones: super::custom_domain::ZoneCache,
    pub(super) queues: super::notification::QueueCache,
}

/// Why a bucket is read this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Nothing cached, or cached for another declaration, or invalidated by a write.
    Fresh,
    /// `config_resync` passed.
    Due,
}

impl ConfigCache {
    pub fn new(resync: Duration) -> Self {
        ConfigCache {
            resync,
            entries: BTreeMap::new(),
            zones: Default::default(),
            queues: Default::default(),
        }
    }

    /// The file's `settings.config_resync`, which may change between passes.
    pub fn set_resync(&mut self, resync: Duration) {
        self.resync = resync;
    }

    /// Forget what was read of a bucket: r2gitops wrote to it, so the next pass reads it.
    pub fn invalidate(&mut self, bucket: &BucketKey) {
        self.entries.remove(bucket);
    }

    /// Forget everything (another account).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.forget_lookups();
    }

    /// Forget the zones and queues looked up: a write that used them failed, so the next
    /// pass asks again.
    pub fn forget_lookups(&mut self) {
        self.zones.clear();
        self.queues.clear();
    }

    /// Which of `wanted` must be read at `now`, and why; the others have cached values.
    pub fn plan(
        &self,
        wanted: &[(BucketKey, &BucketConfig)],
        now: Instant,
    ) -> Vec<(BucketKey, Why)> {
        wanted
            .iter()
            .filter_map(|(key, declared)| match self.entries.get(key) {
                Some(e) if e.declared == **declared => {
                    (e.due <= now).then(|| (key.clone(), Why::Due))
                }
                _ => Some((key.clone(), Why::Fresh)),
            })
            .collect()
    }

    /// Keep what was just read. A bucket read because it was due is next due one period
    /// later; fresh reads taken together are spread evenly over the period after that, so
    /// that none is read twice within `resync` and later passes share the re-reads.
    pub fn record(
        &mut self,
        reads: Vec<(BucketKey, BucketConfig, Why, BucketReads)>,
        now: Instant,
    ) {
        let fresh = reads.iter().filter(|r| r.2 == Why::Fresh).count().max(1);
        let mut slot = 0u32;
        for (key, declared, why, values) in reads {
            let due = match why {
                Why::Due => now + self.resync,
                Why::Fresh => {
                    let offset = self.resync.mul_f64(f64::from(slot) / fresh as f64);
                    slot += 1;
                    now + self.resync + offset
                }
            };
            self.entries.insert(
                key,
                Entry {
                    declared,
                    values,
                    due,
                },
            );
        }
    }

    /// Drop buckets no longer wanted (undeclared, no block managed, gone).
    fn retain(&mut self, wanted: &[(BucketKey, &BucketConfig)]) {
        self.entries
            .retain(|k, _| wanted.iter().any(|(w, _)| w == k));
    }
}

/// Every declared bucket that manages a block and exists, with its declaration.
fn wanted<'d>(
    desired: &'d Desired,
    buckets: &[ObservedBucket],
) -> Vec<(BucketKey, &'d BucketConfig)> {
    desired
        .buckets
        .iter()
        .filter(|b| b.config.manages_any())
        .filter(|b| {
            buckets
                .iter()
                .any(|o| o.jurisdiction == b.jurisdiction && o.name == b.name)
        })
        .map(|b| ((b.jurisdiction, b.name.clone()), &b.config))
        .collect()
}

/// The declared kinds of one bucket.
fn kinds(config: &BucketConfig) -> impl Iterator<Item = ConfigKind> + '_ {
    ConfigKind::ALL
        .into_iter()
        .filter(|k| ConfigValue::declared(config, *k).is_some())
}

/// Read (or take from the cache) the declared sub-resources of every existing declared
/// bucket. A bucket whose configuration endpoints do not know it (it vanished between the
/// list and the read, or was created moments ago) is left out; the diff blocks it.
pub async fn read<R: ReadApi>(
    api: &R,
    desired: &Desired,
    buckets: &[ObservedBucket],
    reads: Reads<'_>,
) -> Result<BTreeMap<BucketKey, BucketReads>, ApiError> {
    let wanted = wanted(desired, buckets);
    let (to_read, mut cache) = match reads {
        Reads::All => (
            wanted
                .iter()
                .map(|(k, _)| (k.clone(), Why::Fresh))
                .collect::<Vec<_>>(),
            None,
        ),
        Reads::Cached { cache, now } => {
            cache.set_resync(desired.settings.config_resync);
            cache.retain(&wanted);
            (cache.plan(&wanted, now), Some((cache, now)))
        }
    };
    let declared: BTreeMap<&BucketKey, &BucketConfig> =
        wanted.iter().map(|(k, c)| (k, *c)).collect();
    let calls = to_read.iter().flat_map(|(key, _)| {
        kinds(declared[key]).map(move |kind| async move {
            let value = api.read_config(key.0, &key.1, kind).await?;
            Ok::<_, ApiError>((key, kind, value))
        })
    });
    let answers: Vec<(&BucketKey, ConfigKind, Option<ConfigValue>)> = futures::stream::iter(calls)
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;

    let mut fresh: BTreeMap<BucketKey, Option<BucketReads>> = BTreeMap::new();
    for (key, kind, value) in answers {
        let slot = fresh
            .entry(key.clone())
            .or_insert_with(|| Some(BucketReads::new()));
        match (slot.as_mut(), value) {
            (Some(reads), Some(v)) => {
                reads.insert(kind, v);
            }
            // Gone: nothing can be concluded about any of its kinds.
            _ => *slot = None,
        }
    }
    let mut out: BTreeMap<BucketKey, BucketReads> = BTreeMap::new();
    match cache.as_mut() {
        None => out.extend(fresh.into_iter().filter_map(|(k, v)| Some((k, v?)))),
        Some((cache, now)) => {
            let why: BTreeMap<&BucketKey, Why> = to_read.iter().map(|(k, w)| (k, *w)).collect();
            let mut recorded = Vec::new();
            for (key, values) in fresh {
                match values {
                    Some(values) => {
                        recorded.push((key.clone(), declared[&key].clone(), why[&key], values))
                    }
                    None => cache.invalidate(&key),
                }
            }
            cache.record(recorded, *now);
            for (key, _) in &wanted {
                if let Some(e) = cache.entries.get(key) {
                    out.insert(key.clone(), e.values.clone());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
