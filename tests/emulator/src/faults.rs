//! Injected faults (latency, random 500s, a request budget answering 429) and the request
//! statistics tests read. Deterministic for a given seed and request sequence.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Fault knobs; changeable while the emulator runs (`Emulator::set_faults`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Added to every API call.
    pub latency_ms: u64,
    /// Probability in [0, 1] that an API call answers 500 with code 10001.
    pub fail_rate: f64,
    /// At most `n` API calls per window; beyond that 429, code 971, `Retry-After`.
    pub rate_limit: Option<(u32, Duration)>,
    /// A second, shorter window (Cloudflare's `"burst"` item): calls beyond it are refused
    /// the same way. Both appear as items of one `Ratelimit` header.
    pub burst_limit: Option<(u32, Duration)>,
    /// Seed of the fault dice.
    pub seed: u64,
}

/// One API call as the emulator saw it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Call {
    /// Milliseconds since the emulator started.
    pub at_ms: u64,
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Stats {
    pub total: u64,
    pub mutating: u64,
    pub by_route: BTreeMap<String, u64>,
    /// Every call in order (for tests that prove pauses and retries).
    pub calls: Vec<Call>,
}

pub(crate) struct FaultState {
    pub faults: Faults,
    rng: StdRng,
    windows: [Window; 2],
}

/// One counting window: `"default"` (the rate limit) or `"burst"`.
#[derive(Default)]
struct Window {
    start: Option<Instant>,
    count: u32,
}

impl Window {
    /// Count one call; the seconds to wait when it is beyond the limit.
    fn count(&mut self, (n, length): (u32, Duration), now: Instant) -> Option<u64> {
        let start = match self.start {
            Some(s) if now.duration_since(s) < length => s,
            _ => {
                self.start = Some(now);
                self.count = 0;
                now
            }
        };
        self.count += 1;
        (self.count > n).then(|| {
            let left = length.saturating_sub(now.duration_since(start));
            left.as_secs_f64().ceil().max(1.0) as u64
        })
    }

    /// (remaining, seconds to reset) for the header.
    fn state(&self, (n, length): (u32, Duration), now: Instant) -> (u32, u64) {
        match self.start {
            Some(s) if now.duration_since(s) < length => (
                n.saturating_sub(self.count),
                length
                    .saturating_sub(now.duration_since(s))
                    .as_secs_f64()
                    .ceil() as u64,
            ),
            _ => (n, length.as_secs()),
        }
    }
}

/// What the fault layer decided for one call.
pub(crate) enum Verdict {
    Pass,
    Fail500,
    RateLimited { retry_after_secs: u64 },
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        let rng = StdRng::seed_from_u64(faults.seed);
        FaultState {
            faults,
            rng,
            windows: Default::default(),
        }
    }

    pub fn set(&mut self, faults: Faults) {
        self.rng = StdRng::seed_from_u64(faults.seed);
        self.faults = faults;
        self.windows = Default::default();
    }

    fn limits(&self) -> [Option<(u32, Duration)>; 2] {
        [self.faults.rate_limit, self.faults.burst_limit]
    }

    pub fn decide(&mut self, now: Instant) -> Verdict {
        let limits = self.limits();
        let mut wait = None;
        for (w, limit) in self.windows.iter_mut().zip(limits) {
            if let Some(limit) = limit
                && let Some(secs) = w.count(limit, now)
            {
                wait = wait.max(Some(secs));
            }
        }
        if let Some(retry_after_secs) = wait {
            return Verdict::RateLimited { retry_after_secs };
        }
        if self.faults.fail_rate > 0.0
            && self.rng.random_bool(self.faults.fail_rate.clamp(0.0, 1.0))
        {
            return Verdict::Fail500;
        }
        Verdict::Pass
    }

    /// `Ratelimit` and `Ratelimit-Policy` header values (Cloudflare's changelog of 2025-09-03,
    /// https://developers.cloudflare.com/fundamentals/api/reference/limits/), one
    /// structured-field item per configured window: `"default";r=50;t=30, "burst";r=0;t=4`.
    pub fn headers(&self, now: Instant) -> Option<(String, String)> {
        let mut items = Vec::new();
        let mut policies = Vec::new();
        for ((w, limit), name) in self
            .windows
            .iter()
            .zip(self.limits())
            .zip(["default", "burst"])
        {
            let Some(limit) = limit else { continue };
            let (remaining, reset) = w.state(limit, now);
            items.push(format!("\"{name}\";r={remaining};t={reset}"));
            policies.push(format!("\"{name}\";q={};w={}", limit.0, limit.1.as_secs()));
        }
        (!items.is_empty()).then(|| (items.join(", "), policies.join(", ")))
    }
}
