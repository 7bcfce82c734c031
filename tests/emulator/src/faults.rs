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
    window_start: Option<Instant>,
    window_count: u32,
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
            window_start: None,
            window_count: 0,
        }
    }

    pub fn set(&mut self, faults: Faults) {
        self.rng = StdRng::seed_from_u64(faults.seed);
        self.faults = faults;
        self.window_start = None;
        self.window_count = 0;
    }

    pub fn decide(&mut self, now: Instant) -> Verdict {
        if let Some((n, window)) = self.faults.rate_limit {
            let start = match self.window_start {
                Some(s) if now.duration_since(s) < window => s,
                _ => {
                    self.window_start = Some(now);
                    self.window_count = 0;
                    now
                }
            };
            self.window_count += 1;
            if self.window_count > n {
                let left = window.saturating_sub(now.duration_since(start));
                return Verdict::RateLimited {
                    retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
                };
            }
        }
        if self.faults.fail_rate > 0.0
            && self.rng.random_bool(self.faults.fail_rate.clamp(0.0, 1.0))
        {
            return Verdict::Fail500;
        }
        Verdict::Pass
    }

    /// `Ratelimit` and `Ratelimit-Policy` header values (API-NOTES §5), when a budget is set.
    pub fn headers(&self, now: Instant) -> Option<(String, String)> {
        let (n, window) = self.faults.rate_limit?;
        let (remaining, reset) = match self.window_start {
            Some(s) if now.duration_since(s) < window => (
                n.saturating_sub(self.window_count),
                window
                    .saturating_sub(now.duration_since(s))
                    .as_secs_f64()
                    .ceil() as u64,
            ),
            _ => (n, window.as_secs()),
        };
        Some((
            format!("\"default\";r={remaining};t={reset}"),
            format!("\"default\";q={n};w={}", window.as_secs()),
        ))
    }
}
