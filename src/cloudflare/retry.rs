//! When to retry a call, and how long to wait first: pure functions (STYLE.md rule 4).
//! Only transient failures retry: 408, 429, 5xx, timeouts and connection errors. Never a
//! 409 (here it means "exists" or "not empty") nor any other 4xx.

use std::time::Duration;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Cloudflare answered with this HTTP status.
    Answered(u16),
    /// No connection could be made: the request was certainly not sent.
    ConnectFailed,
    /// Timed out or the connection broke after the request may have been sent.
    Lost,
}

/// Whether attempt number `attempt` (0-based) may be followed by another.
/// `replay_safe` says whether sending the request twice is harmless: false for a token
/// create, since token names are not unique and a lost answer may hide a created token.
pub fn should_retry(outcome: Attempt, attempt: u32, max_retries: u32, replay_safe: bool) -> bool {
    if attempt >= max_retries {
        return false;
    }
    match outcome {
        Attempt::Answered(status) => status == 408 || status == 429 || (500..600).contains(&status),
        Attempt::ConnectFailed => true,
        Attempt::Lost => replay_safe,
    }
}

/// Capped exponential backoff (0.5 s doubling to 8 s) with up to 25 % jitter, or the
/// server's `Retry-After` when it gave one. `jitter` is a number in [0, 1).
pub fn backoff(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    if let Some(wait) = retry_after {
        return wait;
    }
    let base = Duration::from_millis(500).saturating_mul(1u32 << attempt.min(4));
    let base = base.min(Duration::from_secs(8));
    base + base.mul_f64(0.25 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        let cases = [
            (Attempt::Answered(200), true, false),
            (Attempt::Answered(400), true, false),
            (Attempt::Answered(403), true, false),
            (Attempt::Answered(404), true, false),
            (Attempt::Answered(409), true, false),
            (Attempt::Answered(408), true, true),
            (Attempt::Answered(429), false, true),
            (Attempt::Answered(500), false, true),
            (Attempt::Answered(503), true, true),
            (Attempt::ConnectFailed, false, true),
            (Attempt::Lost, true, true),
            (Attempt::Lost, false, false),
        ];
        for (outcome, replay_safe, want) in cases {
            assert_eq!(
                should_retry(outcome, 0, 3, replay_safe),
                want,
                "{outcome:?} replay_safe={replay_safe}"
            );
        }
    }

    #[test]
    fn retries_stop_at_the_limit() {
        assert!(should_retry(Attempt::Answered(500), 2, 3, true));
        assert!(!should_retry(Attempt::Answered(500), 3, 3, true));
    }

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        assert_eq!(backoff(0, None, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, None, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(4, None, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(9, None, 0.0), Duration::from_secs(8));
        assert_eq!(
            backoff(0, None, 0.999),
            Duration::from_millis(500).mul_f64(1.0 + 0.25 * 0.999)
        );
        assert_eq!(
            backoff(3, Some(Duration::from_secs(2)), 0.5),
            Duration::from_secs(2)
        );
    }
}
