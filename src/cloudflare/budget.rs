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
/// for t seconds; with several items, the latest reset among the exhausted ones), or the
/// older `x-ratelimit-remaining: 0` with `x-ratelimit-reset`. An item counts as exhausted
/// when what remains is no more than `in_flight`, the calls already sent that the answer
/// may not have counted: they will spend it, and a new call would be the one refused.
pub fn wait_from_headers(
    headers: &reqwest::header::HeaderMap,
    now: std::time::SystemTime,
    in_flight: u64,
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
        let exhausted = ratelimit_items(v)
            .into_iter()
            .filter(|i| i.remaining.is_some_and(|r| r <= in_flight))
            .filter_map(|i| i.reset)
            .max();
        if let Some(t) = exhausted {
            return Some(Duration::from_secs(t));
        }
    }
    if get("x-ratelimit-remaining")
        .and_then(|r| r.trim().parse::<u64>().ok())
        .is_some_and(|r| r <= in_flight)
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

/// One item of a `Ratelimit` header: a name (`"default"`, `"burst"`), `r` (requests
/// remaining) and `t` (seconds until the window resets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateItem {
    pub name: String,
    pub remaining: Option<u64>,
    pub reset: Option<u64>,
}

/// Parse `Ratelimit`, a structured-field list (RFC 9651 §3.1): items separated by commas,
/// each a token or quoted string followed by `;key=value` parameters, e.g.
/// `"default";r=50;t=30, "burst";r=0;t=4`. Unknown parameters and malformed items are
/// skipped, never fatal: a header we half understand must not stop every call.
pub fn ratelimit_items(header: &str) -> Vec<RateItem> {
    split_outside_quotes(header, ',')
        .into_iter()
        .filter_map(|item| {
            let mut parts = split_outside_quotes(item, ';').into_iter();
            let name = parts.next()?.trim().trim_matches('"').to_string();
            let mut out = RateItem {
                name,
                remaining: None,
                reset: None,
            };
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"').parse::<u64>().ok();
                match k.trim() {
                    "r" => out.remaining = v,
                    "t" => out.reset = v,
                    _ => {}
                }
            }
            Some(out)
        })
        .collect()
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
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
mod tests;
