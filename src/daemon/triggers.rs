//! What starts a pass: coalescing triggers, the backoff after failures, the jittered
//! interval, and the shutdown input the loop, the server and the applier wait on.

use super::*;

/// Backoff after failed passes: 5 s, doubling, capped at 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(5);
    base.saturating_mul(1u32 << failures.saturating_sub(1).min(10))
        .min(Duration::from_secs(300))
}

/// `500ms`, `30s`, `10m`, `1h`, `1d`.
pub fn parse_flag_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    crate::config::parse_duration(text)
}

/// The interval with +/-10% jitter, so that many daemons do not poll in step.
pub(super) fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.9..=1.1))
}

/// Coalescing triggers: the first reason since the last pass is kept, later ones merge.
#[derive(Default)]
pub struct Triggers {
    pending: Mutex<Option<Fired>>,
    pub(super) wake: Notify,
}

/// What the next pass is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The first reason since the last pass.
    pub why: String,
    /// Every trigger merged into it was a temporary credential's renewal: the pass may
    /// renew without observing the account (`Daemon::renewal_basis`).
    pub renewal_only: bool,
}

impl Triggers {
    /// A trigger for a full pass (start, file change, interval, signal, retry).
    pub fn fire(&self, why: &str) {
        self.push(why, false);
    }

    /// A temporary credential's renewal (or its retry) is due.
    pub fn fire_renewal(&self, why: &str) {
        self.push(why, true);
    }

    fn push(&self, why: &str, renewal: bool) {
        let mut p = self.pending.lock().unwrap();
        match p.as_mut() {
            None => {
                *p = Some(Fired {
                    why: why.to_string(),
                    renewal_only: renewal,
                })
            }
            Some(f) => f.renewal_only &= renewal,
        }
        drop(p);
        self.wake.notify_one();
    }

    pub(super) fn take(&self) -> Option<Fired> {
        self.pending.lock().unwrap().take()
    }
}

/// The daemon's shutdown input: `Stop` for the applier (checked between steps) and a
/// channel the loop and the server wait on.
#[derive(Clone)]
pub struct Shutdown {
    pub stop: Stop,
    tx: Arc<tokio_watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            stop: Stop::new(),
            tx: Arc::new(tokio_watch::channel(false).0),
        }
    }
}

impl Shutdown {
    pub fn request(&self) {
        self.stop.request();
        self.tx.send_replace(true);
    }

    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_5s_and_caps_at_5min() {
        let got: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn flag_durations() {
        let cases = [
            ("500ms", Some(Duration::from_millis(500))),
            ("30s", Some(Duration::from_secs(30))),
            ("10m", Some(Duration::from_secs(600))),
            ("1h", Some(Duration::from_secs(3600))),
            ("10", None),
            ("m", None),
            ("1.5s", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_flag_duration(text), want, "{text}");
        }
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(600)).as_secs_f64();
            assert!((540.0..=660.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn triggers_coalesce_into_one_pass_keeping_the_first_reason() {
        let t = Triggers::default();
        t.fire("file change");
        t.fire("interval");
        t.fire("signal");
        assert_eq!(t.take().map(|f| f.why).as_deref(), Some("file change"));
        assert_eq!(t.take(), None);
    }

    #[test]
    fn a_pass_is_for_renewals_only_while_every_merged_trigger_is_a_renewal() {
        let t = Triggers::default();
        t.fire_renewal("renewal");
        t.fire_renewal("renewal retry");
        let f = t.take().unwrap();
        assert_eq!((f.why.as_str(), f.renewal_only), ("renewal", true));
        t.fire_renewal("renewal");
        t.fire("file change");
        let f = t.take().unwrap();
        assert_eq!((f.why.as_str(), f.renewal_only), ("renewal", false));
        t.fire("interval");
        t.fire_renewal("renewal");
        assert!(!t.take().unwrap().renewal_only);
    }
}
