//! The HTTP client: one `send` path that every call takes (budget, concurrency limit,
//! retries, envelope decoding, metrics, redacted logging), and the `ReadApi`/`WriteApi`
//! implementations on top of it. `Client` can only read; `WriteClient`, made from it by
//! `into_writer`, can also change things. A dry run never holds a `WriteClient`.
//!
//! This file holds the client's state and the description of one call; `send` the path
//! every call takes, `read` the reads of buckets, tokens and permission groups (`ReadApi`),
//! `write` the writes (`WriteApi`) and the settling of the IP condition's key.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};

use crate::cloudflare::api::ReadApi;
use crate::cloudflare::budget::Budget;
use crate::cloudflare::config::ClientConfig;
use crate::cloudflare::error::ApiError;
use crate::cloudflare::limits::{ANSWER_LIMIT, PAGE_LIMIT};
use crate::cloudflare::wire::ConditionKey;
use crate::config::{Jurisdiction, Owner};
use crate::observed::PermissionGroupIds;
use crate::secret::TokenValue;

mod read;
mod send;
mod write;

// Temporary credentials: a child module, so that it sends through `send_secret`.
pub mod temporary;

/// Counters for the daemon's `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientMetrics {
    /// Answers by HTTP status; transport failures under 0.
    pub requests_by_status: BTreeMap<u16, u64>,
    pub retries: u64,
    /// Times a 429 (or an exhausted `Ratelimit`) paused every call.
    pub rate_limit_pauses: u64,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    token: TokenValue,
    owner: Owner,
    account_id: String,
    account_source: &'static str,
    budget: Budget,
    in_flight: Semaphore,
    /// The semaphore's size: what is in flight is this less its available permits.
    concurrency: usize,
    max_retries: u32,
    groups: [OnceCell<PermissionGroupIds>; 2],
    metrics: Mutex<ClientMetrics>,
    condition_key: Mutex<KeyState>,
    /// The id `verify` gave for `token`.
    own_id: Mutex<Option<String>>,
}

/// Which key the IP condition is written under. It starts at `request_ip` (the current
/// schema) and is settled by the first write whose read-back shows the condition kept.
#[derive(Debug, Clone, Copy)]
struct KeyState {
    key: ConditionKey,
    settled: bool,
}

/// Read-only access to Cloudflare.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// Read and write access; only `apply` holds one.
#[derive(Clone)]
pub struct WriteClient {
    read: Client,
}

/// One request, described for `send`.
pub(super) struct Call<'a> {
    operation: String,
    method: Method,
    path: String,
    pub(super) query: Vec<(&'a str, String)>,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: Option<Value>,
    /// Whether a lost answer may be replayed (false for token creates).
    replay_safe: bool,
    /// Whether the body of the answer holds a secret (create, roll): never logged.
    secret_answer: bool,
    /// The largest answer body read (`limits`): `ANSWER_LIMIT`, or `PAGE_LIMIT` for a page
    /// of a list.
    pub(super) max_body: usize,
}

impl<'a> Call<'a> {
    pub(super) fn new(operation: String, method: Method, path: String) -> Self {
        Call {
            operation,
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            replay_safe: true,
            secret_answer: false,
            max_body: ANSWER_LIMIT,
        }
    }

    /// The same, for one page of a list: a larger body is allowed.
    pub(super) fn page(operation: String, method: Method, path: String) -> Self {
        Call {
            max_body: PAGE_LIMIT,
            ..Call::new(operation, method, path)
        }
    }
}

impl Client {
    /// Build the client (no network yet).
    pub fn new(config: ClientConfig) -> Result<Client, ApiError> {
        // reqwest is built without a default crypto provider: install ring's once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("r2gitops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                // With its causes: "builder error" alone hides that there are no CA
                // certificates (an empty container without /etc/ssl/certs).
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                ApiError::transport("build the HTTP client", text)
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base: config.api_url,
                token: config.api_token,
                owner: config.token_owner,
                account_id: config.account_id,
                account_source: config.account_source,
                budget: Budget::new(config.budget.0, config.budget.1),
                in_flight: Semaphore::new(config.concurrency),
                concurrency: config.concurrency,
                max_retries: config.max_retries,
                groups: [OnceCell::new(), OnceCell::new()],
                metrics: Mutex::new(ClientMetrics::default()),
                condition_key: Mutex::new(KeyState {
                    key: ConditionKey::RequestIp,
                    settled: false,
                }),
                own_id: Mutex::new(None),
            }),
        })
    }

    /// Build the client and verify its token: a bad token fails here, before any planning.
    pub async fn connect(config: ClientConfig) -> Result<Client, ApiError> {
        let client = Client::new(config)?;
        client.verify().await?;
        Ok(client)
    }

    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    pub fn metrics(&self) -> ClientMetrics {
        self.inner.metrics.lock().unwrap().clone()
    }

    /// The capability to change things. Only `apply` asks for it.
    pub fn into_writer(self) -> WriteClient {
        WriteClient { read: self }
    }

    pub(super) fn tokens_base(&self, owner: Owner) -> String {
        match owner {
            Owner::Account => format!("/accounts/{}/tokens", self.inner.account_id),
            Owner::User => "/user/tokens".to_string(),
        }
    }

    pub(super) fn buckets_base(&self) -> String {
        format!("/accounts/{}/r2/buckets", self.inner.account_id)
    }
}

pub(super) fn jurisdiction_header(j: Jurisdiction) -> (&'static str, String) {
    ("cf-r2-jurisdiction", j.as_str().to_string())
}

pub(super) fn bucket_label(name: &str, j: Jurisdiction) -> String {
    format!("bucket '{name}' ({})", j.as_str())
}
