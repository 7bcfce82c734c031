//! The progress line of a long apply on a terminal: `12/400 steps, 3 in flight, ETA 40s`,
//! redrawn in place on stderr. Only `reconcile` in text mode on a terminal uses it, for
//! plans of more than `MIN_STEPS` steps; logs, JSON and pipes never see it.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::apply::Progress;

/// Below this, an apply is over before a progress line would help.
pub const MIN_STEPS: usize = 20;

/// How often the line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);

pub struct TermProgress {
    total: usize,
    start: Instant,
    state: Mutex<State>,
}

struct State {
    done: usize,
    in_flight: usize,
    drawn: Option<Instant>,
}

impl TermProgress {
    /// A progress line for `total` steps, when stderr is a terminal and the plan is long
    /// enough to want one.
    pub fn for_terminal(total: usize) -> Option<TermProgress> {
        (total > MIN_STEPS && std::io::stderr().is_terminal()).then(|| TermProgress {
            total,
            start: Instant::now(),
            state: Mutex::new(State {
                done: 0,
                in_flight: 0,
                drawn: None,
            }),
        })
    }

    /// Erase the line, once the apply is over.
    pub fn finish(&self) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        let mut s = self.state.lock().unwrap();
        change(&mut s);
        let now = Instant::now();
        let last = s.done == self.total;
        if !last && s.drawn.is_some_and(|d| now.duration_since(d) < REDRAW) {
            return;
        }
        s.drawn = Some(now);
        let text = line(s.done, self.total, s.in_flight, now - self.start);
        drop(s);
        let mut err = std::io::stderr().lock();
        // Carriage return after the text: a log line written meanwhile starts at column 0
        // and overwrites it, and the next redraw comes back below.
        let _ = write!(err, "\x1b[2K{text}\r");
        let _ = err.flush();
    }
}

impl Progress for TermProgress {
    fn step_started(&self) {
        self.update(|s| s.in_flight += 1);
    }

    fn step_finished(&self, _: &crate::apply::StepReport) {
        self.update(|s| {
            s.in_flight = s.in_flight.saturating_sub(1);
            s.done += 1;
        });
    }
}

/// `12/400 steps, 3 in flight, ETA 40s` (pure).
pub fn line(done: usize, total: usize, in_flight: usize, elapsed: Duration) -> String {
    let eta = if done == 0 {
        "ETA -".to_string()
    } else {
        let left = elapsed.mul_f64((total - done.min(total)) as f64 / done as f64);
        format!("ETA {}", human(left))
    };
    format!("{done}/{total} steps, {in_flight} in flight, {eta}")
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_steps_in_flight_and_the_time_left() {
        let cases = [
            (0, 400, 0, 0, "0/400 steps, 0 in flight, ETA -"),
            (12, 400, 3, 1200, "12/400 steps, 3 in flight, ETA 38s"),
            (100, 400, 4, 20_000, "100/400 steps, 4 in flight, ETA 1m00s"),
            (1, 400, 4, 20_000, "1/400 steps, 4 in flight, ETA 2h13m"),
            (400, 400, 0, 9_000, "400/400 steps, 0 in flight, ETA 0s"),
        ];
        for (done, total, flying, ms, want) in cases {
            assert_eq!(line(done, total, flying, Duration::from_millis(ms)), want);
        }
    }
}
