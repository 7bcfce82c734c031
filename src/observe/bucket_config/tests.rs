//! Unit tests of `observe::bucket_config`.

use super::*;
use crate::observed::bucket_config::ManagedDomain;

fn key(n: usize) -> BucketKey {
    (Jurisdiction::Default, format!("b{n:04}"))
}

fn cors() -> BucketConfig {
    BucketConfig {
        cors: Some(Vec::new()),
        ..BucketConfig::default()
    }
}

fn values() -> BucketReads {
    BucketReads::from([(
        ConfigKind::PublicDevUrl,
        ConfigValue::PublicDevUrl(ManagedDomain {
            enabled: false,
            domain: None,
        }),
    )])
}

const HOUR: Duration = Duration::from_secs(3600);

/// Simulate passes every `interval` for `span` after a first pass at `t0` that reads
/// `n` buckets; returns the reads per pass after the first.
fn passes(n: usize, interval: Duration, span: Duration) -> Vec<usize> {
    let decl = cors();
    let wanted: Vec<(BucketKey, &BucketConfig)> = (0..n).map(|i| (key(i), &decl)).collect();
    let t0 = Instant::now();
    let mut cache = ConfigCache::new(HOUR);
    let first = cache.plan(&wanted, t0);
    assert_eq!(first.len(), n, "the first pass reads everything");
    cache.record(
        first
            .into_iter()
            .map(|(k, w)| (k, decl.clone(), w, values()))
            .collect(),
        t0,
    );
    let mut out = Vec::new();
    let mut last_read: BTreeMap<BucketKey, Instant> =
        wanted.iter().map(|(k, _)| (k.clone(), t0)).collect();
    let mut t = t0;
    while t + interval <= t0 + span {
        t += interval;
        let due = cache.plan(&wanted, t);
        for (k, why) in &due {
            assert_eq!(*why, Why::Due);
            let since = t - last_read[k];
            assert!(
                since >= HOUR,
                "{k:?} re-read after {since:?}, within config_resync"
            );
            last_read.insert(k.clone(), t);
        }
        out.push(due.len());
        cache.record(
            due.into_iter()
                .map(|(k, w)| (k, decl.clone(), w, values()))
                .collect(),
            t,
        );
    }
    out
}

#[test]
fn nothing_is_re_read_within_config_resync() {
    let per_pass = passes(500, Duration::from_secs(600), HOUR - Duration::from_secs(1));
    assert!(per_pass.iter().all(|n| *n == 0), "{per_pass:?}");
}

#[test]
fn re_reads_are_spread_evenly_over_the_passes_of_each_period() {
    // 500 buckets, a pass every 10 minutes: 6 passes an hour share the 500 re-reads.
    let per_pass = passes(500, Duration::from_secs(600), 4 * HOUR);
    let steady: Vec<usize> = per_pass[6..].to_vec();
    let per_hour: usize = steady[..6].iter().sum();
    assert_eq!(per_hour, 500, "each bucket once an hour: {per_pass:?}");
    let (lo, hi) = (steady.iter().min().unwrap(), steady.iter().max().unwrap());
    assert!(*hi - *lo <= 2, "not even: {per_pass:?}");
    assert!(*hi <= 500 / 6 + 2, "a burst: {per_pass:?}");
}

#[test]
fn a_changed_declaration_or_a_write_reads_the_bucket_at_once() {
    let t0 = Instant::now();
    let (a, b) = (cors(), BucketConfig::default());
    let mut cache = ConfigCache::new(HOUR);
    cache.record(
        vec![
            (key(0), a.clone(), Why::Fresh, values()),
            (key(1), a.clone(), Why::Fresh, values()),
        ],
        t0,
    );
    let t = t0 + Duration::from_secs(60);
    let changed = BucketConfig {
        public_dev_url: Some(true),
        ..a.clone()
    };
    assert_eq!(
        cache.plan(&[(key(0), &changed), (key(1), &a)], t),
        [(key(0), Why::Fresh)],
        "a file change reads that bucket, and only that one"
    );
    cache.invalidate(&key(1));
    assert_eq!(
        cache.plan(&[(key(0), &a), (key(1), &a)], t),
        [(key(1), Why::Fresh)]
    );
    assert_eq!(cache.plan(&[(key(2), &b)], t), [(key(2), Why::Fresh)]);
}
