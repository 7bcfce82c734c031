//! `--state-credentials temporary`: the state's S3 credentials minted by r2gitops itself
//! through `POST /accounts/{id}/r2/temp-access-credentials`, with the Cloudflare API token it
//! already uses, under its managed parent token `r2gitops:state` (`parent`), scoped to the
//! state bucket and the two objects it needs (`KEY` and `KEY.lease`), and minted again
//! before they expire. No long-lived S3 secret exists anywhere: the parent's value is
//! dropped when it is created (the call takes the parent's id), and a minted secret lives
//! in memory only.
//!
//! Renewal is on use: every S3 call of the state (a read, a save, each lease renewal every
//! TTL/3) asks for the credentials first, and starts a new mint in the background once two
//! thirds of the old ones' life is gone. A renewal that fails keeps the old ones while they
//! are valid (tried again after a pause), so that one failed API call does not stop a
//! daemon; past their expiry the state's calls fail with the URL named, and nothing is
//! written.
//!
//! Must not log, format or return a secret; must not touch any token but the parent.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::credentials::StateCredentials;
use super::parent::{self, PARENT_NAME};
use crate::cloudflare::{ClientConfig, ReadApi, TemporaryRequest, WriteApi, WriteClient};
use crate::config::{Jurisdiction, Owner};

/// A failed renewal is not retried sooner than this while the credentials in hand are valid.
const RETRY_PAUSE: Duration = Duration::seconds(5);
/// Credentials this close to their expiry are not used.
const SKEW: Duration = Duration::seconds(2);

pub struct Minter {
    api: WriteClient,
    bucket: String,
    jurisdiction: Jurisdiction,
    objects: Vec<String>,
    ttl: Duration,
    /// Whether the parent may be created when absent (not by a dry run or `state show`).
    create_parent: bool,
    /// Short critical sections only: never held across an await.
    cell: std::sync::Mutex<Cell>,
    /// One mint at a time.
    minting: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cell {
    parent: Option<String>,
    minted: Option<Minted>,
    failed_at: Option<OffsetDateTime>,
    /// A renewal runs in the background.
    renewing: bool,
}

struct Minted {
    creds: Arc<StateCredentials>,
    renew_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

impl Minter {
    /// The minter of the state object `key` in `bucket` (no network yet).
    pub fn new(
        config: ClientConfig,
        bucket: &str,
        jurisdiction: Jurisdiction,
        key: &str,
        ttl: std::time::Duration,
        create_parent: bool,
    ) -> Result<Minter, String> {
        let api = crate::cloudflare::Client::new(config)
            .map_err(|e| crate::error::error_chain(&e))?
            .into_writer();
        Ok(Minter {
            api,
            bucket: bucket.to_string(),
            jurisdiction,
            objects: vec![key.to_string(), format!("{key}.lease")],
            ttl: Duration::try_from(ttl).unwrap_or(Duration::hours(1)),
            create_parent,
            cell: std::sync::Mutex::new(Cell::default()),
            minting: tokio::sync::Mutex::new(()),
        })
    }

    /// The credentials to sign the next S3 call with. Once they are due for renewal, a new
    /// mint starts in the background and the current ones are returned meanwhile: a lease
    /// renewal never waits on the Cloudflare API while it has valid credentials. Only
    /// without any (the first call, or after they expired) does the caller wait for a mint.
    pub async fn current(self: &Arc<Self>) -> Result<Arc<StateCredentials>, String> {
        let now = OffsetDateTime::now_utc();
        {
            let mut cell = self.cell.lock().unwrap();
            let usable = cell
                .minted
                .as_ref()
                .filter(|m| now + SKEW < m.expires_at)
                .map(|m| (m.creds.clone(), m.renew_at));
            if let Some((creds, renew_at)) = usable {
                let paused = cell.failed_at.is_some_and(|t| now < t + RETRY_PAUSE);
                if now >= renew_at && !cell.renewing && !paused {
                    cell.renewing = true;
                    let me = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = me.renew().await {
                            tracing::warn!(error = %e, "renewing the state's temporary credentials failed; the current ones are used until they expire");
                        }
                    });
                }
                return Ok(creds);
            }
        }
        self.renew().await
    }

    /// Mint now (one at a time), unless another mint just did.
    async fn renew(&self) -> Result<Arc<StateCredentials>, String> {
        let _one = self.minting.lock().await;
        let parent = {
            let cell = self.cell.lock().unwrap();
            if let Some(m) = &cell.minted
                && OffsetDateTime::now_utc() < m.renew_at
            {
                return Ok(m.creds.clone());
            }
            cell.parent.clone()
        };
        let minted = self.mint(parent).await;
        let mut cell = self.cell.lock().unwrap();
        cell.renewing = false;
        match minted {
            Ok((parent, minted)) => {
                let creds = minted.creds.clone();
                cell.parent = Some(parent);
                cell.minted = Some(minted);
                cell.failed_at = None;
                Ok(creds)
            }
            Err(e) => {
                // The parent may have been deleted meanwhile: look it up again next time.
                cell.parent = None;
                cell.failed_at = Some(OffsetDateTime::now_utc());
                Err(e)
            }
        }
    }

    /// One credential under the parent (looked up, or created, when not known yet).
    async fn mint(&self, parent: Option<String>) -> Result<(String, Minted), String> {
        let parent = match parent {
            Some(id) => id,
            None => self.parent().await?,
        };
        let request = TemporaryRequest {
            bucket: self.bucket.clone(),
            parent_access_key_id: parent.clone(),
            permission: "object-read-write",
            ttl_seconds: self.ttl.whole_seconds().max(1) as u64,
            prefixes: Vec::new(),
            objects: self.objects.clone(),
        };
        // Counted from before the request: never later than Cloudflare's own expiry.
        let issued_at = OffsetDateTime::now_utc();
        let issued = self.api.issue_temporary(&request).await.map_err(|e| {
            format!(
                "minting its temporary S3 credentials under '{PARENT_NAME}' failed: {}",
                crate::error::error_chain(&e)
            )
        })?;
        let expires_at = issued_at + self.ttl;
        tracing::info!(
            access_key_id = %issued.access_key_id,
            parent = %parent,
            expires_at = %expires_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "minted the state's temporary S3 credentials"
        );
        let minted = Minted {
            creds: Arc::new(StateCredentials {
                access_key_id: issued.access_key_id,
                secret_access_key: issued.secret_access_key,
                session_token: Some(issued.session_token),
            }),
            renew_at: issued_at + self.ttl * 2 / 3,
            expires_at,
        };
        Ok((parent, minted))
    }

    /// The parent's id: the token named `r2gitops:state`, created when absent (and allowed).
    async fn parent(&self) -> Result<String, String> {
        let reader = self.api.reader();
        let api_err = |what: &str, e: crate::cloudflare::ApiError| {
            format!("{what}: {}", crate::error::error_chain(&e))
        };
        let groups = reader
            .permission_groups(Owner::Account)
            .await
            .map_err(|e| api_err("reading the R2 permission groups", e))?;
        let want = parent::request(
            reader.account_id(),
            &self.bucket,
            self.jurisdiction,
            &groups,
        );
        let listed = reader
            .list_tokens(Owner::Account)
            .await
            .map_err(|e| api_err("listing the account tokens to find its parent token", e))?;
        if let Some(found) = parent::keeper(&listed) {
            if let Some(why) = parent::refusal(found, &want, &self.bucket) {
                return Err(why);
            }
            return Ok(found.id.clone());
        }
        if !self.create_parent {
            return Err(format!(
                "its parent token '{PARENT_NAME}' does not exist yet, and this command creates nothing (an apply, `watch` or `adopt` creates it)"
            ));
        }
        let created = self
            .api
            .create_token(Owner::Account, &want)
            .await
            .map_err(|e| api_err(&format!("creating its parent token '{PARENT_NAME}'"), e))?;
        // Never needed: temp-access-credentials takes the parent's id. Wiped here.
        drop(created.value);
        let ours = created.token.id;
        tracing::info!(id = %ours, "created the parent token '{PARENT_NAME}' of the state's temporary credentials");
        // Two runners starting together may each have created one: the oldest is kept,
        // and a runner whose own is not it deletes its own (and only its own).
        let listed = reader
            .list_tokens(Owner::Account)
            .await
            .map_err(|e| api_err("listing the account tokens after creating the parent", e))?;
        match parent::keeper(&listed) {
            Some(k) if k.id != ours => {
                let keep = k.id.clone();
                if let Err(e) = self.api.delete_token(Owner::Account, &ours).await {
                    tracing::warn!(id = %ours, error = %crate::error::error_chain(&e), "deleting the duplicate parent token this runner created failed");
                }
                Ok(keep)
            }
            _ => Ok(ours),
        }
    }
}
