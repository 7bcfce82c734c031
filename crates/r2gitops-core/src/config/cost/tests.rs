//! Unit tests of `config::cost`.

use super::*;
use crate::config::{Jurisdiction, TemporaryScope};

const MIN: u64 = 60;
const HOUR: u64 = 3600;

/// A bucket declaring its first `blocks` configuration blocks (empty lists).
fn bucket(i: usize, jurisdiction: Jurisdiction, blocks: usize) -> BucketSpec {
    let mut b = crate::fixtures::bucket(&format!("b{i:05}"));
    b.jurisdiction = jurisdiction;
    let c = &mut b.config;
    for n in 0..blocks {
        match n {
            0 => c.cors = Some(Vec::new()),
            1 => c.lifecycle = Some(Vec::new()),
            2 => c.lock = Some(Vec::new()),
            3 => c.public_dev_url = Some(false),
            4 => c.custom_domains = Some(Vec::new()),
            _ => c.notifications = Some(Vec::new()),
        }
    }
    b
}

fn temporary(ttl: u64, refresh_before: u64) -> TemporarySpec {
    TemporarySpec {
        name: "p".into(),
        parent: "uploader".into(),
        jurisdiction: Jurisdiction::Default,
        scope: TemporaryScope {
            bucket: "media".into(),
            access: crate::config::Access::ObjectRead,
            prefixes: Vec::new(),
            objects: Vec::new(),
            ttl: Duration::from_secs(ttl),
        },
        refresh_before: Duration::from_secs(refresh_before),
        output: crate::fixtures::token("p", &[]).output,
    }
}

#[test]
fn the_config_resync_floor_keeps_re_reads_within_a_quarter_of_the_limit() {
    // (configuration reads per re-read, the floor)
    let cases = [
        (0, MIN),
        (1, MIN),
        (60, MIN),
        (61, 2 * MIN),
        (600, 10 * MIN),
        // 300 fully configured buckets: 1,800 blocks, one queue list.
        (1801, 31 * MIN),
        (3600, HOUR),
        // 10,000 buckets with six blocks each.
        (60_000, 1000 * MIN),
    ];
    for (reads, want) in cases {
        let floor = config_resync_floor(reads);
        assert_eq!(floor, Duration::from_secs(want), "{reads} reads");
        let per_hour = reads as f64 * 3600.0 / floor.as_secs_f64();
        assert!(
            per_hour <= CONFIG_READS_PER_HOUR as f64,
            "{reads} reads every {floor:?}: {per_hour}/h"
        );
    }
}

#[test]
fn one_re_read_counts_every_declared_block_each_zone_once_and_one_queue_list() {
    let mut buckets: Vec<BucketSpec> = (0..300)
        .map(|i| bucket(i, Jurisdiction::Default, 6))
        .collect();
    assert_eq!(
        config_reads_per_resync(&buckets),
        1800,
        "empty lists name no zone or queue"
    );
    let domain = |zone: &str| crate::config::CustomDomain {
        domain: format!("cdn.{zone}"),
        zone: crate::config::ZoneRef::Name(zone.into()),
        enabled: true,
        min_tls: None,
    };
    buckets[0].config.custom_domains = Some(vec![domain("example.com")]);
    buckets[1].config.custom_domains = Some(vec![domain("example.com"), domain("example.org")]);
    buckets[2].config.notifications = Some(vec![crate::config::Notification {
        queue: "q".into(),
        actions: [crate::config::NotificationAction::PutObject].into(),
        prefix: String::new(),
        suffix: String::new(),
        description: String::new(),
    }]);
    assert_eq!(config_reads_per_resync(&buckets), 1800 + 2 + 1);
    let plain: Vec<BucketSpec> = (0..10).map(|i| bucket(i, Jurisdiction::Eu, 0)).collect();
    assert_eq!(config_reads_per_resync(&plain), 0);
}

#[test]
fn list_pages_count_each_jurisdiction_and_owner_family_in_use() {
    let mut d = crate::fixtures::desired();
    d.buckets = (0..2500)
        .map(|i| bucket(i, Jurisdiction::Default, 0))
        .chain((0..3).map(|i| bucket(i, Jurisdiction::Eu, 0)))
        .collect();
    d.tokens = (0..120)
        .map(|i| crate::fixtures::token(&format!("t{i}"), &[]))
        .collect();
    assert_eq!(
        list_pages_per_pass(&d),
        3 + 1 + 3,
        "2,500 default, 3 eu, 120 tokens"
    );
    d.tokens[0].owner = Owner::User;
    assert_eq!(list_pages_per_pass(&d), 3 + 1 + 3 + 1);
    d.buckets.clear();
    d.tokens.clear();
    assert_eq!(list_pages_per_pass(&d), 0);
}

#[test]
fn the_estimate_adds_list_pages_configuration_reads_renewals_and_the_token_watch() {
    let mut d = crate::fixtures::desired();
    d.buckets = (0..300)
        .map(|i| bucket(i, Jurisdiction::Default, 6))
        .collect();
    d.tokens = vec![crate::fixtures::token("uploader", &[])];
    d.settings.config_resync = Duration::from_secs(30 * MIN);
    // 60 credentials renewed every 5 minutes: 720 calls an hour.
    d.temporary_credentials = (0..60).map(|_| temporary(15 * MIN, 10 * MIN)).collect();
    let c = estimate(&d, Duration::from_secs(10 * MIN));
    assert_eq!(c.list_pages_per_pass, 2);
    assert_eq!(c.list_calls_per_hour(), 12.0);
    assert_eq!(c.config_reads_per_resync, 1800);
    assert_eq!(c.config_calls_per_hour(), 3600.0);
    assert_eq!(c.renewals_per_hour, 720.0);
    // One token page every minute (the default token watch).
    assert_eq!(c.token_watch_calls_per_hour(), 60.0);
    assert_eq!(c.calls_per_hour(), 4392.0);
    assert_eq!(
        c.line(),
        "cost: about 4,392 API calls an hour in the daemon at --interval 10m: 12 list pages (6 passes of 2), 3,600 configuration reads (1800 every 30m), 720 renewals, 60 token watch pages (1 every 1m); 31% of Cloudflare's 14,400 an hour (1,200 per 5 minutes per user)"
    );
    // What the issue measured: 60 credentials with ttl 1m and refresh_before 59s.
    d.temporary_credentials = (0..60).map(|_| temporary(MIN, 59)).collect();
    assert_eq!(estimate(&d, DEFAULT_INTERVAL).renewals_per_hour, 216_000.0);
    // Rates below ten keep a decimal.
    d.buckets.clear();
    d.temporary_credentials = vec![temporary(12 * HOUR, 4 * HOUR)];
    d.settings.config_resync = Duration::from_secs(HOUR);
    d.settings.token_watch = Duration::from_secs(HOUR);
    let c = estimate(&d, Duration::from_secs(HOUR));
    assert_eq!(
        c.line(),
        "cost: about 2.1 API calls an hour in the daemon at --interval 1h: 1 list pages (1 passes of 1), 0 configuration reads (0 every 1h), 0.1 renewals, 1 token watch pages (1 every 1h); 0% of Cloudflare's 14,400 an hour (1,200 per 5 minutes per user)"
    );
}

#[test]
fn a_rotating_token_costs_a_roll_and_its_read_back_every_rotate_every() {
    let mut d = crate::fixtures::desired();
    d.tokens = (0..3)
        .map(|i| crate::fixtures::token(&format!("t{i}"), &[]))
        .collect();
    d.tokens[0].rotate_every = Some(Duration::from_secs(HOUR));
    d.tokens[1].rotate_every = Some(Duration::from_secs(2 * HOUR));
    d.settings.token_watch = Duration::from_secs(HOUR);
    let c = estimate(&d, Duration::from_secs(HOUR));
    assert_eq!(c.rotations_per_hour, 3.0);
    // One list page a pass, one token watch page an hour.
    assert_eq!(c.calls_per_hour(), 1.0 + 3.0 + 1.0);
    assert!(
        c.line()
            .contains(", 0 renewals, 3 rotations, 1 token watch pages (1 every 1h); "),
        "{}",
        c.line()
    );
    // Without rotate_every the line keeps its form.
    d.tokens.iter_mut().for_each(|t| t.rotate_every = None);
    assert!(!estimate(&d, DEFAULT_INTERVAL).line().contains("rotations"));
}

#[test]
fn the_operator_sets_the_ttl_floor_and_the_renewal_interval_follows() {
    let cases = [
        ("15m", Ok((15 * MIN, 5 * MIN))),
        ("1m", Ok((MIN, 20))),
        ("1h", Ok((HOUR, 20 * MIN))),
        ("59s", Err("at least 1m")),
        ("soon", Err("expected a duration")),
    ];
    for (flag, want) in cases {
        match (OperatorLimits::parse_min_temporary_ttl(flag), want) {
            (Ok(l), Ok((ttl, interval))) => {
                assert_eq!(l.min_temporary_ttl, Duration::from_secs(ttl), "{flag}");
                assert_eq!(
                    l.min_renewal_interval(),
                    Duration::from_secs(interval),
                    "{flag}"
                );
            }
            (Err(e), Err(part)) => assert!(e.contains(part), "{flag}: {e}"),
            (got, want) => panic!("{flag}: {got:?} against {want:?}"),
        }
    }
    let default = OperatorLimits::default();
    assert_eq!(default.min_temporary_ttl, Duration::from_secs(15 * MIN));
    assert_eq!(default.min_renewal_interval(), Duration::from_secs(5 * MIN));
}
