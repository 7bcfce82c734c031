//! The lease on a shared inventory (`KEY.lease` beside an `r2://` state object): its record
//! `{holder, epoch, acquired_at, expires_at}` and every decision about it, pure (no clock,
//! no I/O: `now` and what was read are arguments). The state backend carries the decisions
//! out with conditional writes (`If-None-Match: *`, `If-Match: <etag>`); this module must
//! not read, write, sleep or look at the clock.
//!
//! The rules (the same as Terraform's S3 `use_lockfile` and Kubernetes' Lease, with epochs):
//! - acquire an absent lease by creating it, with the epoch after the one the inventory
//!   carries (a released lease is deleted, so the inventory keeps the epochs monotonic);
//! - take over an expired one by replacing the ETag that was read, with `epoch + 1` (or
//!   the inventory's + 1, if that is higher);
//! - renew every TTL/3 by replacing our own ETag (same epoch, new `expires_at`);
//! - a holder whose last renewal is older than 2·TTL/3 (one renewal missed) starts no new
//!   step: the remaining TTL/3 is the margin for a step in flight and for clock skew between
//!   runners;
//! - fencing: every inventory write carries the writer's epoch, and a write under an epoch
//!   older than the one the inventory already carries is refused.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The lease object's content, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    /// Who holds it: `host/pid/random`, unique per process.
    pub holder: String,
    /// Incremented by every takeover; inventory writes carry it.
    pub epoch: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A lease object that is not valid JSON of that shape; a reason, never its content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a lease record ({0})")]
pub struct BadLease(String);

/// The largest lease object accepted (a record is about 150 bytes).
pub const MAX_LEASE_BYTES: usize = 4096;

impl Lease {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a lease serializes") + "\n"
    }

    pub fn from_json(bytes: &[u8]) -> Result<Lease, BadLease> {
        if bytes.len() > MAX_LEASE_BYTES {
            return Err(BadLease(format!("larger than {MAX_LEASE_BYTES} bytes")));
        }
        let lease: Lease = serde_json::from_slice(bytes).map_err(|e| {
            // serde_json's message can quote a value; keep only where it failed.
            BadLease(format!(
                "invalid at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        if lease.holder.is_empty()
            || lease.holder.len() > 256
            || lease.holder.chars().any(char::is_control)
        {
            return Err(BadLease(
                "the holder is empty, too long or has control characters".into(),
            ));
        }
        if lease.epoch == 0 || lease.expires_at < lease.acquired_at {
            return Err(BadLease(
                "epoch 0, or expires before it was acquired".into(),
            ));
        }
        Ok(lease)
    }

    pub fn expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

/// What a read of `KEY.lease` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Absent,
    Present { lease: Lease, etag: String },
}

/// The write that acquires the lease, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// `PutObject` with `If-None-Match: *`.
    Create(Lease),
    /// `PutObject` with `If-Match: etag`: an expired lease, with the next epoch.
    TakeOver { lease: Lease, if_match: String },
    /// Someone else holds it until `expires_at`.
    Held {
        holder: String,
        expires_at: OffsetDateTime,
    },
}

/// Decide how `me` acquires the lease given what was read; `floor` is the epoch the
/// inventory carries (0: none).
pub fn acquire(seen: &Seen, floor: u64, me: &str, now: OffsetDateTime, ttl: Duration) -> Acquire {
    let fresh = |epoch| Lease {
        holder: me.to_string(),
        epoch,
        acquired_at: whole_second_before(now),
        expires_at: whole_second_after(now) + ttl,
    };
    match seen {
        Seen::Absent => Acquire::Create(fresh(floor + 1)),
        Seen::Present { lease, etag } if lease.expired(now) => Acquire::TakeOver {
            lease: fresh(lease.epoch.max(floor) + 1),
            if_match: etag.clone(),
        },
        Seen::Present { lease, .. } => Acquire::Held {
            holder: lease.holder.clone(),
            expires_at: lease.expires_at,
        },
    }
}

/// The record keeps whole seconds (readable in a refusal; the TTL is seconds long). Its
/// expiry is rounded up: the holder counts its standing from its own unrounded clock, and
/// an expiry rounded down would let another runner take over while the holder still
/// believed itself a third of the TTL from losing the lease (with a 3 s TTL, all of it).
/// A taker waits at most a second longer instead.
fn whole_second_before(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).expect("0 is a valid nanosecond")
}

fn whole_second_after(t: OffsetDateTime) -> OffsetDateTime {
    let down = whole_second_before(t);
    if down == t {
        t
    } else {
        down + Duration::SECOND
    }
}

/// The interval between renewals: TTL/3, so that one missed renewal still leaves a third.
pub fn renew_every(ttl: Duration) -> Duration {
    ttl / 3
}

/// Whether a renewal is due, `renewed_at` being the time of the last successful one (or the
/// acquisition).
pub fn renew_due(renewed_at: OffsetDateTime, now: OffsetDateTime, ttl: Duration) -> bool {
    now - renewed_at >= renew_every(ttl)
}

/// The renewed record: the same holder, epoch and `acquired_at`, expiring a TTL from now.
/// Written with `If-Match` on the ETag of our last write.
pub fn renewed(lease: &Lease, now: OffsetDateTime, ttl: Duration) -> Lease {
    Lease {
        expires_at: whole_second_after(now) + ttl,
        ..lease.clone()
    }
}

/// What a holder may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Start steps.
    Mutate,
    /// A renewal is overdue: start nothing new (a step in flight may finish).
    Overdue,
    /// Expired: another runner may already hold it.
    Lost,
}

/// A holder's standing, from its last successful renewal (the holder's own view; it does not
/// need to read the lease).
pub fn standing(renewed_at: OffsetDateTime, now: OffsetDateTime, ttl: Duration) -> Standing {
    let age = now - renewed_at;
    if age >= ttl {
        Standing::Lost
    } else if age >= renew_every(ttl) * 2 {
        Standing::Overdue
    } else {
        Standing::Mutate
    }
}

/// A write under an older epoch than the inventory carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the inventory was written under lease epoch {stored}, newer than this runner's {mine}: another runner took the lease over; nothing was written"
)]
pub struct Fenced {
    pub stored: u64,
    pub mine: u64,
}

/// The fence on every inventory write: `stored` is the epoch the inventory carries (`None`:
/// written without a lease, or not yet written).
pub fn fence(stored: Option<u64>, mine: u64) -> Result<(), Fenced> {
    match stored {
        Some(stored) if stored > mine => Err(Fenced { stored, mine }),
        _ => Ok(()),
    }
}

/// How long a runner waiting for `--lock-timeout` sleeps before the next attempt: until the
/// holder's lease expires, but at most `poll`, and never past the deadline. `None`: the
/// deadline has passed, give up.
pub fn wait_for(
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    deadline: OffsetDateTime,
    poll: Duration,
) -> Option<Duration> {
    if now >= deadline {
        return None;
    }
    let until_expiry = (expires_at - now).max(Duration::milliseconds(50));
    Some(until_expiry.min(poll).min(deadline - now))
}

#[cfg(test)]
mod tests;
