//! The inventory in R2 (`--state r2://BUCKET/KEY`): one object read with its ETag and saved
//! only with `If-Match: <etag>` (or `If-None-Match: *` for the first save), and its lease
//! `KEY.lease` (`crate::state::lease` decides, this module carries it out). A 412 means another
//! runner wrote: the pass stops and nothing is overwritten. Every error names the URL, and
//! none falls back to an empty inventory.
//!
//! It must not decide lease rules (that is `lease`), parse the inventory (the caller's), or
//! log or return a credential.

pub mod credentials;
pub mod document;
pub mod guard;
pub mod minted;
pub mod object;
pub mod parent;
pub mod session;
pub mod url;

use time::{Duration, OffsetDateTime};

use crate::state::lease::{self, Acquire, Lease, Seen};
pub use credentials::{CredentialsError, StateCredentials};
pub use document::Document;
pub use object::Creds;
use object::{Bucket, Cond, ObjectError};
pub use url::StateUrl;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state {url} cannot be reached ({reason}); nothing was changed")]
    Unreachable { url: String, reason: String },
    #[error(
        "the state {url} has no S3 credentials (--state-credentials temporary): {reason}; nothing was changed"
    )]
    NoCredentials { url: String, reason: String },
    #[error("the state {url}: S3 refused {what} (HTTP {status} {code}){hint}; nothing was changed")]
    Refused {
        url: String,
        what: &'static str,
        status: u16,
        code: String,
        hint: &'static str,
    },
    #[error(
        "the state {url} is not a valid r2gitops state object ({reason}); nothing was changed (it is never replaced by an empty inventory: restore it, or remove it to have the inventory rebuilt from Cloudflare)"
    )]
    Corrupt { url: String, reason: String },
    #[error(
        "the state {url} was written by another runner since this one read it (412 PreconditionFailed); nothing was overwritten: the pass stops, and the next one re-reads and re-plans"
    )]
    Conflict { url: String },
    #[error(
        "the state {url} is locked: its lease is held by '{holder}' until {expires_at}; nothing was changed (wait, or pass --lock-timeout to wait for it)"
    )]
    Held {
        url: String,
        holder: String,
        expires_at: String,
    },
    #[error(
        "the lease on the state {url} was lost (not renewed in time, or taken over at a newer epoch); no further step starts"
    )]
    LeaseLost { url: String },
    #[error("the state {url}: {source}")]
    Fenced {
        url: String,
        #[source]
        source: lease::Fenced,
    },
}

impl StateError {
    /// A 412 or a lost lease: someone else is the writer now.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            StateError::Conflict { .. } | StateError::LeaseLost { .. } | StateError::Fenced { .. }
        )
    }
}

/// What this runner last read or wrote of the state object: the ETag its next save must
/// match, the serial to increment, the epoch it writes under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// `None`: the object did not exist (the first save creates it).
    pub etag: Option<String>,
    pub serial: u64,
    /// The epoch the object carries now.
    pub stored_epoch: u64,
}

/// A lease this runner holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub lease: Lease,
    pub etag: String,
    /// When the last successful write of the lease happened (this runner's clock).
    pub renewed_at: OffsetDateTime,
}

pub struct R2State {
    pub url: StateUrl,
    bucket: Bucket,
    /// `--state-credentials temporary` (for the hints of a refusal).
    minted: bool,
}

fn text(url: &StateUrl) -> String {
    url.to_string()
}

impl R2State {
    pub fn new(
        url: StateUrl,
        endpoint: String,
        creds: impl Into<Creds>,
    ) -> Result<R2State, StateError> {
        let creds = creds.into();
        let minted = matches!(creds, Creds::Minted(_));
        let bucket = Bucket::new(endpoint, url.bucket.clone(), creds).map_err(|e| {
            StateError::Unreachable {
                url: text(&url),
                reason: e.to_string(),
            }
        })?;
        Ok(R2State {
            url,
            bucket,
            minted,
        })
    }

    fn err(&self, what: &'static str, e: ObjectError) -> StateError {
        let url = text(&self.url);
        match e {
            ObjectError::Precondition => StateError::Conflict { url },
            ObjectError::Unreachable(reason) => StateError::Unreachable { url, reason },
            ObjectError::Credentials(reason) => StateError::NoCredentials { url, reason },
            ObjectError::TooLarge(_) => StateError::Corrupt {
                url,
                reason: e.to_string(),
            },
            ObjectError::Refused { status, code } => {
                let hint = match (status, code.as_str()) {
                    (_, "NoSuchBucket") => {
                        ": the bucket does not exist in that jurisdiction (check --state-jurisdiction)"
                    }
                    (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch") | (401, _)
                        if self.minted =>
                    {
                        ": R2 refused the minted temporary credentials (was their parent token 'r2gitops:state' changed or deleted?)"
                    }
                    (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch") | (401, _) => {
                        ": the S3 credentials are wrong (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or --state-credentials-file)"
                    }
                    (403, _) => ": the S3 credentials may not read and write that bucket",
                    _ => "",
                };
                StateError::Refused {
                    url,
                    what,
                    status,
                    code,
                    hint,
                }
            }
        }
    }

    /// Read the state object: the document and the cursor for the next save. An absent
    /// object is `None` (a first run); a present one that does not parse is an error.
    pub async fn read(&self) -> Result<(Option<Document>, Cursor), StateError> {
        let got = self
            .bucket
            .get(&self.url.key, document::MAX_STATE_BYTES)
            .await
            .map_err(|e| self.err("reading the inventory", e))?;
        let Some((bytes, etag)) = got else {
            return Ok((None, Cursor::default()));
        };
        let doc = Document::from_bytes(&bytes).map_err(|reason| StateError::Corrupt {
            url: text(&self.url),
            reason,
        })?;
        let cursor = Cursor {
            etag: Some(etag),
            serial: doc.serial,
            stored_epoch: doc.epoch,
        };
        Ok((Some(doc), cursor))
    }

    /// Save `inventory_json` under `epoch` on top of what `cursor` saw, and advance it.
    /// Refused before any request when the object carries a newer epoch (fencing); a 412
    /// is `Conflict` and nothing is written.
    pub async fn save(
        &self,
        inventory_json: &str,
        epoch: u64,
        cursor: &mut Cursor,
    ) -> Result<(), StateError> {
        lease::fence(Some(cursor.stored_epoch), epoch).map_err(|source| StateError::Fenced {
            url: text(&self.url),
            source,
        })?;
        let doc = Document {
            epoch,
            serial: cursor.serial + 1,
            inventory_json: inventory_json.to_string(),
        };
        let bytes = doc.to_bytes().map_err(|reason| StateError::Corrupt {
            url: text(&self.url),
            reason,
        })?;
        let cond = match &cursor.etag {
            Some(etag) => Cond::Matches(etag),
            None => Cond::Absent,
        };
        let etag = self
            .bucket
            .put(&self.url.key, &bytes, cond)
            .await
            .map_err(|e| self.err("saving the inventory", e))?;
        *cursor = Cursor {
            etag: Some(etag),
            serial: doc.serial,
            stored_epoch: epoch,
        };
        Ok(())
    }

    async fn read_lease(&self) -> Result<Seen, StateError> {
        let key = self.url.lease_key();
        match self
            .bucket
            .get(&key, lease::MAX_LEASE_BYTES)
            .await
            .map_err(|e| self.err("reading the lease", e))?
        {
            None => Ok(Seen::Absent),
            Some((bytes, etag)) => {
                let lease = Lease::from_json(&bytes).map_err(|e| StateError::Corrupt {
                    url: format!("{}.lease", text(&self.url)),
                    reason: e.to_string(),
                })?;
                Ok(Seen::Present { lease, etag })
            }
        }
    }

    /// One attempt to take the lease as `holder`: `Ok(Err(..))` when someone else holds it
    /// (their name and expiry) or won the race for it. `floor` is the epoch the inventory
    /// carries.
    pub async fn try_acquire(
        &self,
        holder: &str,
        floor: u64,
        ttl: Duration,
    ) -> Result<Result<Held, (String, OffsetDateTime)>, StateError> {
        let seen = self.read_lease().await?;
        let now = OffsetDateTime::now_utc();
        let (lease, cond) = match lease::acquire(&seen, floor, holder, now, ttl) {
            Acquire::Held { holder, expires_at } => return Ok(Err((holder, expires_at))),
            Acquire::Create(l) => (l, None),
            Acquire::TakeOver { lease, if_match } => (lease, Some(if_match)),
        };
        let cond = match &cond {
            Some(etag) => Cond::Matches(etag),
            None => Cond::Absent,
        };
        match self
            .bucket
            .put(&self.url.lease_key(), lease.to_json().as_bytes(), cond)
            .await
        {
            Ok(etag) => Ok(Ok(Held {
                lease,
                etag,
                renewed_at: now,
            })),
            // Another runner acquired it between our read and write: read who.
            Err(ObjectError::Precondition) => match self.read_lease().await? {
                Seen::Present { lease, .. } => Ok(Err((lease.holder, lease.expires_at))),
                Seen::Absent => Ok(Err(("(released just now)".into(), now))),
            },
            Err(e) => Err(self.err("writing the lease", e)),
        }
    }

    /// Take the lease, waiting up to `timeout` (0: one attempt). A refusal names the holder
    /// and its `expires_at`.
    pub async fn acquire(
        &self,
        holder: &str,
        ttl: Duration,
        timeout: Duration,
        poll: Duration,
    ) -> Result<Held, StateError> {
        let deadline = OffsetDateTime::now_utc() + timeout;
        loop {
            // The inventory's epoch, read each time: a holder that wrote and released
            // meanwhile moved it on.
            let floor = self.read().await?.1.stored_epoch;
            match self.try_acquire(holder, floor, ttl).await? {
                Ok(held) => return Ok(held),
                Err((other, expires_at)) => {
                    let now = OffsetDateTime::now_utc();
                    match lease::wait_for(expires_at, now, deadline, poll) {
                        Some(pause) if timeout > Duration::ZERO => {
                            tokio::time::sleep(pause.unsigned_abs()).await;
                        }
                        _ => {
                            return Err(StateError::Held {
                                url: text(&self.url),
                                holder: other,
                                expires_at: expires_at
                                    .format(&time::format_description::well_known::Rfc3339)
                                    .unwrap_or_default(),
                            });
                        }
                    }
                }
            }
        }
    }

    /// Renew a held lease (`If-Match` on our own last write). A 412 means it was taken
    /// over: the lease is lost.
    pub async fn renew(&self, held: &mut Held, ttl: Duration) -> Result<(), StateError> {
        let now = OffsetDateTime::now_utc();
        let next = lease::renewed(&held.lease, now, ttl);
        match self
            .bucket
            .put(
                &self.url.lease_key(),
                next.to_json().as_bytes(),
                Cond::Matches(&held.etag),
            )
            .await
        {
            Ok(etag) => {
                *held = Held {
                    lease: next,
                    etag,
                    renewed_at: now,
                };
                Ok(())
            }
            Err(ObjectError::Precondition) => Err(StateError::LeaseLost {
                url: text(&self.url),
            }),
            Err(e) => Err(self.err("renewing the lease", e)),
        }
    }

    /// Release the lease at once (a conditional DELETE on our own last write), so that a
    /// standby need not wait for it to expire. A lease taken over meanwhile is left alone.
    pub async fn release(&self, held: &Held) -> Result<(), StateError> {
        match self.bucket.delete(&self.url.lease_key(), &held.etag).await {
            Ok(()) | Err(ObjectError::Precondition) => Ok(()),
            Err(e) => Err(self.err("releasing the lease", e)),
        }
    }
}
