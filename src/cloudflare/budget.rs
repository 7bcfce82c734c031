//! The client-side request budget and the account-wide pause after a 429. Cloudflare allows
//! 1,200 requests per 5 minutes per user across every client, and a caller that exceeds it is
//! blocked for the next five minutes: staying under it beats recovering from it. Shared by
//! every clone of the client, so one 429 pauses all calls.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::Mutex;

#[derive(Debug)]
pub struct Budget {
    limit: u32,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Budget {
    pub fn new(limit: u32, window: Duration) -> Self {
        Budget {
            limit: limit.max(1),
            window,
            state: Mutex::new(State::default()),
        }
    }

    /// Wait until one more request fits in the window and no pause is in force, then count it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                while s
                    .sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    s.sent.pop_front();
                }
                let pause = s.paused_until.filter(|p| *p > now).map(|p| p - now);
                let full = (s.sent.len() as u32 >= self.limit)
                    .then(|| self.window - now.duration_since(*s.sent.front().unwrap()));
                match pause.max(full) {
                    Some(wait) => wait,
                    None => {
                        s.sent.push_back(now);
                        return;
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Stop every call until `wait` has passed (a 429's `Retry-After`, or `Ratelimit` saying
    /// nothing remains). A later, longer pause wins over an earlier, shorter one.
    pub async fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut s = self.state.lock().await;
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
    }
}

/// Seconds to wait according to the rate-limit headers of an answer, if they ask for any:
/// `Retry-After` (seconds or an HTTP date), `Ratelimit: "default";r=0;t=30` (nothing remains
/// for t seconds), or the older `x-ratelimit-remaining: 0` with `x-ratelimit-reset`.
pub fn wait_from_headers(
    headers: &reqwest::header::HeaderMap,
    now: std::time::SystemTime,
) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(v) = get("retry-after") {
        if let Ok(secs) = v.trim().parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(when) = httpdate(v) {
            return Some(when.duration_since(now).unwrap_or_default());
        }
    }
    if let Some(v) = get("ratelimit") {
        let field = |key: &str| {
            v.split(';')
                .filter_map(|p| p.trim().strip_prefix(key))
                .find_map(|x| x.parse::<u64>().ok())
        };
        if let (Some(0), Some(t)) = (field("r="), field("t=")) {
            return Some(Duration::from_secs(t));
        }
    }
    if get("x-ratelimit-remaining").map(str::trim) == Some("0")
        && let Some(reset) = get("x-ratelimit-reset")
    {
        if let Ok(secs) = reset.trim().parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(when) = httpdate(reset) {
            return Some(when.duration_since(now).unwrap_or_default());
        }
    }
    None
}

fn httpdate(s: &str) -> Result<std::time::SystemTime, ()> {
    let t = time::PrimitiveDateTime::parse(
        s.trim().trim_end_matches(" GMT"),
        time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second]"
        ),
    )
    .map_err(|_| ())?;
    Ok(t.assume_utc().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limit_headers_say_how_long_to_wait() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        type Case = (Vec<(&'static str, &'static str)>, Option<u64>);
        let cases: Vec<Case> = vec![
            (vec![("retry-after", "2")], Some(2)),
            (
                vec![("retry-after", "Tue, 14 Nov 2023 22:13:40 GMT")],
                Some(20),
            ),
            (vec![("ratelimit", "\"default\";r=0;t=30")], Some(30)),
            (vec![("ratelimit", "\"default\";r=5;t=30")], None),
            (
                vec![("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "7")],
                Some(7),
            ),
            (
                vec![("x-ratelimit-remaining", "3"), ("x-ratelimit-reset", "7")],
                None,
            ),
            (vec![], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                wait_from_headers(&headers(&pairs), now).map(|d| d.as_secs()),
                want,
                "{pairs:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_holds_back_the_request_beyond_the_limit() {
        let budget = Budget::new(2, Duration::from_secs(10));
        let start = tokio::time::Instant::now();
        budget.acquire().await;
        budget.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        budget.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_stops_every_caller() {
        let budget = Budget::new(100, Duration::from_secs(300));
        budget.pause(Duration::from_secs(2)).await;
        let start = tokio::time::Instant::now();
        budget.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(2));
    }
}
