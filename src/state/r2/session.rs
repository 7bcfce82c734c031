//! One run's use of the R2 state: the cursor of its reads and saves, the lease it holds (if
//! it applies), the renewals, and the rule that a holder whose renewal is overdue saves
//! nothing more. A dry run has a session without a lease, and never writes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use time::{Duration, OffsetDateTime};

use super::{Cursor, Held, R2State, StateError};
use crate::state::lease::{self, Standing};

pub struct Session {
    pub state: R2State,
    cursor: tokio::sync::Mutex<Cursor>,
    held: Mutex<Option<Held>>,
    ttl: Duration,
    lost: AtomicBool,
    /// The state bucket's jurisdiction (for the guard on what the file may do to it).
    pub jurisdiction: crate::config::Jurisdiction,
}

impl Session {
    pub fn new(state: R2State, ttl: Duration) -> Session {
        Session {
            state,
            cursor: tokio::sync::Mutex::new(Cursor::default()),
            held: Mutex::new(None),
            ttl,
            lost: AtomicBool::new(false),
            jurisdiction: crate::config::Jurisdiction::Default,
        }
    }

    /// The session of a bucket in jurisdiction `j`.
    pub fn in_jurisdiction(mut self, j: crate::config::Jurisdiction) -> Session {
        self.jurisdiction = j;
        self
    }

    pub fn url(&self) -> String {
        self.state.url.to_string()
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Take the lease as `holder`, waiting up to `timeout`.
    pub async fn take_lease(&self, holder: &str, timeout: Duration) -> Result<(), StateError> {
        let poll = lease::renew_every(self.ttl).min(Duration::seconds(2));
        let held = self.state.acquire(holder, self.ttl, timeout, poll).await?;
        tracing::info!(
            state = %self.url(),
            holder,
            epoch = held.lease.epoch,
            "took the state lease"
        );
        *self.held.lock().unwrap() = Some(held);
        self.lost.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Drop a lease that can no longer be used (lost or overdue), without writing: another
    /// runner may hold it already. The next `take_lease` starts afresh.
    pub fn forget(&self) {
        self.held.lock().unwrap().take();
    }

    /// The lease held now, if any.
    pub fn held(&self) -> Option<Held> {
        self.held.lock().unwrap().clone()
    }

    /// The epoch this session writes under (0: no lease).
    pub fn epoch(&self) -> u64 {
        self.held().map(|h| h.lease.epoch).unwrap_or(0)
    }

    /// Whether a lease is held and may still be used to start a step.
    pub fn may_mutate(&self) -> bool {
        if self.lost.load(Ordering::SeqCst) {
            return false;
        }
        match self.held() {
            Some(h) => {
                lease::standing(h.renewed_at, OffsetDateTime::now_utc(), self.ttl)
                    == Standing::Mutate
            }
            None => false,
        }
    }

    fn lost_error(&self) -> StateError {
        StateError::LeaseLost { url: self.url() }
    }

    /// Read the inventory's JSON (`None`: no object yet). Under a lease, an inventory
    /// written at an older epoch is re-saved at ours at once, so that the ETag an earlier
    /// holder read is dead and its late writes answer 412; one written at a newer epoch means
    /// this lease was taken over.
    pub async fn load(&self) -> Result<Option<String>, StateError> {
        let (doc, read) = self.state.read().await?;
        let mut cursor = self.cursor.lock().await;
        *cursor = read;
        let Some(doc) = doc else { return Ok(None) };
        if let Some(h) = self.held() {
            let mine = h.lease.epoch;
            lease::fence(Some(doc.epoch), mine).map_err(|source| StateError::Fenced {
                url: self.url(),
                source,
            })?;
            if doc.epoch < mine {
                self.state
                    .save(&doc.inventory_json, mine, &mut cursor)
                    .await?;
            }
        }
        Ok(Some(doc.inventory_json))
    }

    /// Save the inventory's JSON on top of what this session read or saved last. Refused
    /// without a usable lease; a 412 marks the session lost, so that nothing more is tried.
    pub async fn save(&self, inventory_json: &str) -> Result<(), StateError> {
        if !self.may_mutate() {
            return Err(self.lost_error());
        }
        let mut cursor = self.cursor.lock().await;
        let saved = self
            .state
            .save(inventory_json, self.epoch(), &mut cursor)
            .await;
        if let Err(e) = &saved
            && e.is_conflict()
        {
            self.lost.store(true, Ordering::SeqCst);
        }
        saved
    }

    /// Renew when due (TTL/3 since the last renewal). A failure leaves the lease to expire:
    /// `may_mutate` turns false once the renewal is overdue, and a takeover marks it lost.
    pub async fn renew_if_due(&self) -> Result<(), StateError> {
        let Some(mut held) = self.held() else {
            return Ok(());
        };
        if !lease::renew_due(held.renewed_at, OffsetDateTime::now_utc(), self.ttl) {
            return Ok(());
        }
        // Bounded by the lease's expiry: a renewal that hangs (a partition that swallows
        // packets) must not keep this holder believing it holds a lease others may take.
        let left = (held.lease.expires_at - OffsetDateTime::now_utc())
            .max(Duration::ZERO)
            .unsigned_abs();
        let renewed = match tokio::time::timeout(left, self.state.renew(&mut held, self.ttl)).await
        {
            Ok(r) => r,
            Err(_) => Err(StateError::Unreachable {
                url: self.url(),
                reason: "the lease renewal did not finish before the lease expired".into(),
            }),
        };
        match renewed {
            Ok(()) => {
                *self.held.lock().unwrap() = Some(held);
                Ok(())
            }
            Err(e) => {
                if e.is_conflict() {
                    self.lost.store(true, Ordering::SeqCst);
                }
                tracing::warn!(state = %self.url(), error = %crate::error::error_chain(&e), "renewing the state lease failed");
                Err(e)
            }
        }
    }

    /// Release the lease (a conditional DELETE), if one is held.
    pub async fn release(&self) {
        let held = self.held.lock().unwrap().take();
        if let Some(h) = held
            && let Err(e) = self.state.release(&h).await
        {
            tracing::warn!(state = %self.url(), error = %crate::error::error_chain(&e), "releasing the state lease failed; it expires at its expires_at");
        }
    }
}

/// A unique holder name: host, pid and a random suffix (two runs on one host differ).
pub fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.len() <= 64 && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "host".into());
    format!(
        "{host}/{}/{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}
