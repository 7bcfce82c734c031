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
mod tests;
