//! What a desired-state file costs the daemon in Cloudflare API calls, and the bounds that
//! keep a committed file from setting the daemon's API rate. One pure model: `validate`
//! reports it (the `cost:` line) and applies its bounds, and the daemon's scheduler runs by
//! the bounded values (`settings.config_resync` as validated, renewals no closer than the
//! cadence bound). Pure: no I/O, no clock.
//!
//! Cloudflare allows a user 1,200 calls per 5 minutes, shared by every client of that user
//! (dashboard, Terraform, wrangler, CI). In steady state the daemon spends calls on
//! - list pages: each full pass lists the buckets of every jurisdiction and the tokens of
//!   every owner family the file uses (the account may hold more tokens than the file
//!   declares, so the token pages are a lower bound);
//! - configuration re-reads: one GET per declared block and bucket, one lookup per zone
//!   that custom domains name and one queue list, once per `config_resync`;
//! - renewals: one issue call per temporary credential every `ttl - refresh_before`
//!   (a renewal issues without observing anything else);
//! - the token watch: the token pages of every owner family in use, every
//!   `settings.token_watch` (the daemon's poll for tokens revoked as exposed, expired or
//!   missing, between full passes).
//! - rotations: a roll and its read-back (or a rotation's create and its retirement) per
//!   token every `rotate_every` (at least `1h`).
//!
//! Three of these a committer controls: `config_resync` is raised to what a quarter of the
//! limit can pay for, `token_watch` (at least 15s) to what 5% of it pays for, and
//! renewals are bounded by `ttl >= min_temporary_ttl`,
//! `ttl - refresh_before >= min_temporary_ttl / 3` and at most `MAX_TEMPORARY_CREDENTIALS`.
//! Only the operator lowers `min_temporary_ttl` (`--min-temporary-ttl`), never the file.

use std::time::Duration;

use super::model::temporary::{MIN_TEMPORARY_TTL, TemporarySpec, short_duration};
use super::model::{BucketSpec, Desired, Owner, TokenSpec};
use super::model::{MIN_CONFIG_RESYNC, MIN_TOKEN_WATCH};

/// Cloudflare's limit per user: 1,200 calls per 5 minutes.
pub const CLOUDFLARE_CALLS_PER_HOUR: u64 = 14_400;

/// What configuration re-reads may spend in steady state: a quarter of the limit, leaving
/// the rest to passes, applies and the user's other clients.
pub const CONFIG_READS_PER_HOUR: u64 = CLOUDFLARE_CALLS_PER_HOUR / 4;

/// What the token watch may spend: 5% of the limit. With many tokens its cadence stretches.
pub const TOKEN_WATCH_CALLS_PER_HOUR: u64 = CLOUDFLARE_CALLS_PER_HOUR / 20;

/// The `per_page` the client asks of the bucket and token lists: `cloudflare::client` sends
/// these, so the model and the calls cannot drift apart.
pub const BUCKETS_PER_PAGE: u64 = 1000;
pub const TOKENS_PER_PAGE: u64 = 50;

/// `watch --interval` when not given; what `validate` assumes unless told.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// At most this many temporary credentials in one file: each is renewed on a schedule of
/// its own, and at the cadence bound 100 of them cost 1,200 calls an hour.
pub const MAX_TEMPORARY_CREDENTIALS: usize = 100;

/// `--min-temporary-ttl` when not given.
pub const DEFAULT_MIN_TEMPORARY_TTL: Duration = Duration::from_secs(15 * 60);

/// What only the operator decides, on the command line: the file cannot change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorLimits {
    /// The shortest `ttl` a file may declare (at least `MIN_TEMPORARY_TTL`, 1m).
    pub min_temporary_ttl: Duration,
}

impl Default for OperatorLimits {
    fn default() -> Self {
        OperatorLimits {
            min_temporary_ttl: DEFAULT_MIN_TEMPORARY_TTL,
        }
    }
}

impl OperatorLimits {
    /// `--min-temporary-ttl` as given: a duration of at least 1m.
    pub fn parse_min_temporary_ttl(text: &str) -> Result<OperatorLimits, String> {
        match super::model::parse_duration(text.trim()) {
            Some(d) if d >= MIN_TEMPORARY_TTL => Ok(OperatorLimits {
                min_temporary_ttl: d,
            }),
            Some(_) => Err(format!(
                "--min-temporary-ttl '{text}': at least 1m (a shorter credential would do nothing but churn its file)"
            )),
            None => Err(format!(
                "--min-temporary-ttl '{text}': expected a duration such as 15m, 5m or 1m"
            )),
        }
    }

    /// The shortest time between two issues of one credential (`ttl - refresh_before`):
    /// a third of the shortest ttl, 5m by default.
    pub fn min_renewal_interval(&self) -> Duration {
        self.min_temporary_ttl / 3
    }
}

/// Calls one configuration re-read of the whole file costs: every declared block of every
/// bucket, a lookup per distinct zone, and one queue list (one page) when rules are declared.
pub fn config_reads_per_resync(buckets: &[BucketSpec]) -> u64 {
    let blocks: u64 = buckets
        .iter()
        .map(|b| b.config.declared_blocks() as u64)
        .sum();
    let zones: std::collections::BTreeSet<_> = buckets
        .iter()
        .flat_map(|b| b.config.custom_domains.iter().flatten())
        .map(|d| &d.zone)
        .collect();
    let queues = buckets.iter().any(|b| {
        b.config
            .notifications
            .as_ref()
            .is_some_and(|n| !n.is_empty())
    });
    blocks + zones.len() as u64 + u64::from(queues)
}

/// The shortest `config_resync` at which `reads` calls per re-read stay within
/// `CONFIG_READS_PER_HOUR`, in whole minutes, and never below `MIN_CONFIG_RESYNC`.
pub fn config_resync_floor(reads: u64) -> Duration {
    let secs = reads.saturating_mul(3600).div_ceil(CONFIG_READS_PER_HOUR);
    Duration::from_secs(secs.div_ceil(60).saturating_mul(60)).max(MIN_CONFIG_RESYNC)
}

/// List pages one full pass reads: the buckets of each jurisdiction and the tokens of
/// each owner family the file uses, at least one page each.
pub fn list_pages_per_pass(desired: &Desired) -> u64 {
    let mut per_jurisdiction = std::collections::BTreeMap::new();
    for b in &desired.buckets {
        *per_jurisdiction.entry(b.jurisdiction).or_insert(0u64) += 1;
    }
    let pages = |n: u64, per: u64| n.div_ceil(per).max(1);
    let buckets: u64 = per_jurisdiction
        .values()
        .map(|n| pages(*n, BUCKETS_PER_PAGE))
        .sum();
    buckets + token_pages(&desired.tokens)
}

/// Token list pages one look at the declared tokens reads: one family's pages per owner
/// family in use, at least one each (a lower bound: the account may hold more).
pub fn token_pages(tokens: &[TokenSpec]) -> u64 {
    [Owner::Account, Owner::User]
        .into_iter()
        .map(|o| tokens.iter().filter(|t| t.owner == o).count() as u64)
        .filter(|n| *n > 0)
        .map(|n| n.div_ceil(TOKENS_PER_PAGE).max(1))
        .sum()
}

/// The shortest token watch at which listing `pages` pages stays within
/// `TOKEN_WATCH_CALLS_PER_HOUR`, in whole seconds, never below `MIN_TOKEN_WATCH`.
pub fn token_watch_floor(pages: u64) -> Duration {
    let secs = pages
        .saturating_mul(3600)
        .div_ceil(TOKEN_WATCH_CALLS_PER_HOUR);
    Duration::from_secs(secs).max(MIN_TOKEN_WATCH)
}

/// The token watch as the daemon runs it: the declared cadence, stretched to the floor of
/// the pages it really lists (the account may hold more tokens than the file declares).
pub fn token_watch_interval(declared: Duration, pages: u64) -> Duration {
    declared.max(token_watch_floor(pages))
}

/// How often one credential is issued in steady state.
pub fn renewal_interval(t: &TemporarySpec) -> Duration {
    t.scope.ttl.saturating_sub(t.refresh_before)
}

/// What a file costs the daemon an hour, at a pass interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub interval: Duration,
    pub list_pages_per_pass: u64,
    pub config_reads_per_resync: u64,
    /// As the daemon runs it (`settings.config_resync`, bounded by `validate`).
    pub config_resync: Duration,
    pub renewals_per_hour: f64,
    /// Token pages one watch poll lists (0 without tokens: nothing is watched).
    pub token_watch_pages: u64,
    /// As the daemon runs it (`settings.token_watch`, bounded by `validate`).
    pub token_watch: Duration,
    /// Rolls of tokens with `rotate_every`, and their read-backs.
    pub rotations_per_hour: f64,
}

impl Cost {
    pub fn passes_per_hour(&self) -> f64 {
        3600.0 / self.interval.as_secs_f64().max(1.0)
    }

    pub fn list_calls_per_hour(&self) -> f64 {
        self.passes_per_hour() * self.list_pages_per_pass as f64
    }

    pub fn config_calls_per_hour(&self) -> f64 {
        self.config_reads_per_resync as f64 * 3600.0 / self.config_resync.as_secs_f64().max(1.0)
    }

    pub fn token_watch_calls_per_hour(&self) -> f64 {
        self.token_watch_pages as f64 * 3600.0 / self.token_watch.as_secs_f64().max(1.0)
    }

    pub fn calls_per_hour(&self) -> f64 {
        self.list_calls_per_hour()
            + self.config_calls_per_hour()
            + self.renewals_per_hour
            + self.token_watch_calls_per_hour()
            + self.rotations_per_hour
    }

    /// The share of Cloudflare's limit, in percent.
    pub fn percent_of_limit(&self) -> f64 {
        100.0 * self.calls_per_hour() / CLOUDFLARE_CALLS_PER_HOUR as f64
    }

    /// `validate`'s line.
    pub fn line(&self) -> String {
        format!(
            "cost: about {} API calls an hour in the daemon at --interval {}: {} list pages ({} passes of {}), {} configuration reads ({} every {}), {} renewals{}, {} token watch pages ({} every {}); {}% of Cloudflare's {} an hour (1,200 per 5 minutes per user)",
            num(self.calls_per_hour()),
            short_duration(self.interval),
            num(self.list_calls_per_hour()),
            num(self.passes_per_hour()),
            self.list_pages_per_pass,
            num(self.config_calls_per_hour()),
            self.config_reads_per_resync,
            short_duration(self.config_resync),
            num(self.renewals_per_hour),
            self.rotations(),
            num(self.token_watch_calls_per_hour()),
            self.token_watch_pages,
            short_duration(self.token_watch),
            num(self.percent_of_limit()),
            thousands(CLOUDFLARE_CALLS_PER_HOUR),
        )
    }
}

impl Cost {
    /// `, N rotations` for a file whose tokens rotate, else nothing (the common line keeps
    /// its form).
    pub fn rotations(&self) -> String {
        if self.rotations_per_hour > 0.0 {
            format!(", {} rotations", num(self.rotations_per_hour))
        } else {
            String::new()
        }
    }
}

/// A rate as a reader wants it: whole from 10 up, else to one decimal (`0.3`, `6`, `12`).
pub fn num(x: f64) -> String {
    let tenth = (x * 10.0).round() / 10.0;
    if x >= 10.0 || tenth.fract() == 0.0 {
        thousands(x.round() as u64)
    } else {
        format!("{tenth:.1}")
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The model: what `desired` costs the daemon an hour with passes every `interval`.
pub fn estimate(desired: &Desired, interval: Duration) -> Cost {
    Cost {
        interval,
        list_pages_per_pass: list_pages_per_pass(desired),
        config_reads_per_resync: config_reads_per_resync(&desired.buckets),
        config_resync: desired.settings.config_resync,
        renewals_per_hour: desired
            .temporary_credentials
            .iter()
            .map(|t| 3600.0 / renewal_interval(t).as_secs_f64().max(1.0))
            .sum(),
        token_watch_pages: token_pages(&desired.tokens),
        token_watch: desired.settings.token_watch,
        // A roll, then the GET that reads its `modified_on` back.
        rotations_per_hour: desired
            .tokens
            .iter()
            .filter_map(|t| t.rotate_every)
            .map(|every| 2.0 * 3600.0 / every.as_secs_f64().max(1.0))
            .sum(),
    }
}

#[cfg(test)]
mod tests {
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
}
