//! Crash injection: hold back the answer of the k-th mutating call, whose effect has already
//! happened, until the test releases it. A test kills the client while it waits, so the kill
//! lands exactly after call k rather than at a guessed moment.

use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Hold {
    state: Mutex<State>,
    released: Notify,
}

#[derive(Default)]
struct State {
    /// Hold the answer of this mutating call (1-based, as counted in `Stats::mutating`).
    after: Option<u64>,
    /// A call is being held now.
    holding: bool,
}

impl Hold {
    pub fn arm(&self, after: u64) {
        *self.state.lock().unwrap() = State {
            after: Some(after),
            holding: false,
        };
    }

    pub fn holding(&self) -> bool {
        self.state.lock().unwrap().holding
    }

    /// Let a held answer go (and disarm).
    pub fn release(&self) {
        *self.state.lock().unwrap() = State::default();
        self.released.notify_waiters();
    }

    /// Called once per mutating call with its number: waits here if it is the armed one.
    pub async fn maybe_hold(&self, mutating: u64) {
        let notified = self.released.notified();
        {
            let mut s = self.state.lock().unwrap();
            if s.after != Some(mutating) {
                return;
            }
            s.holding = true;
        }
        notified.await;
    }
}
