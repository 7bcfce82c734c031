//! The HTTP client: one `send` path that every call takes (budget, concurrency limit,
//! retries, envelope decoding, metrics, redacted logging), and the `ReadApi`/`WriteApi`
//! implementations on top of it. `Client` can only read; `WriteClient`, made from it by
//! `into_writer`, can also change things. A dry run never holds a `WriteClient`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rand::Rng;
use reqwest::Method;
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};
use zeroize::Zeroize;

use crate::cloudflare::api::{
    CreatedToken, IssuedTemporary, ReadApi, TemporaryRequest, TokenRequest, UpdatedToken,
    VerifiedToken, WriteApi,
};
use crate::cloudflare::budget::{Budget, wait_from_headers};
use crate::cloudflare::config::ClientConfig;
use crate::cloudflare::error::ApiError;
use crate::cloudflare::limits::{ANSWER_LIMIT, PAGE_LIMIT, Pages, too_large};
use crate::cloudflare::retry::{Attempt, backoff, should_retry};
use crate::cloudflare::wire::{self, ConditionKey};
use crate::config::ZoneRef;
use crate::config::{Jurisdiction, LocationHint, Owner, StorageClass};
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::{CustomDomain, ZoneLookup};
use crate::observed::notification::Queue;
use crate::observed::{
    GROUP_ADMIN_READ, GROUP_ADMIN_WRITE, GROUP_OBJECT_READ, GROUP_OBJECT_WRITE, ObservedBucket,
    ObservedToken, PermissionGroupIds,
};
use crate::plan::ConfigWrite;
use crate::plan::DomainWrite;
use crate::plan::QueueWrite;
use crate::secret::{SecretBuf, TokenValue};

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

    fn tokens_base(&self, owner: Owner) -> String {
        match owner {
            Owner::Account => format!("/accounts/{}/tokens", self.inner.account_id),
            Owner::User => "/user/tokens".to_string(),
        }
    }

    fn buckets_base(&self) -> String {
        format!("/accounts/{}/r2/buckets", self.inner.account_id)
    }

    fn count(&self, status: u16) {
        *self
            .inner
            .metrics
            .lock()
            .unwrap()
            .requests_by_status
            .entry(status)
            .or_default() += 1;
    }

    /// Send one call with budget, concurrency limit and retries; decode the envelope.
    pub(super) async fn send(&self, call: Call<'_>) -> Result<wire::Envelope, ApiError> {
        let body = self.exchange(&call).await?;
        serde_json::from_slice(body.expose()).map_err(|e| {
            ApiError::transport(&call.operation, format!("unexpected answer shape: {e}"))
        })
    }

    /// Send a call whose answer holds a secret (a create or roll): its `result` goes
    /// straight from the wiped body buffer into `T`, never through a `serde_json::Value`.
    async fn send_secret<T: serde::de::DeserializeOwned>(
        &self,
        mut call: Call<'_>,
    ) -> Result<T, ApiError> {
        call.secret_answer = true;
        let body = self.exchange(&call).await?;
        serde_json::from_slice::<wire::SecretEnvelope<T>>(body.expose())
            .map(|env| env.result)
            .map_err(|e| {
                // serde's message may quote the input: give the position only.
                ApiError::transport(
                    &call.operation,
                    format!(
                        "unexpected answer shape at line {} column {} (details withheld: the answer holds a secret)",
                        e.line(),
                        e.column()
                    ),
                )
            })
    }

    /// The body of the first successful answer (budget, concurrency limit, retries), in a
    /// buffer that is wiped when dropped; or the error of the last attempt.
    async fn exchange(&self, call: &Call<'_>) -> Result<SecretBuf, ApiError> {
        let url = format!("{}{}", self.inner.base, call.path);
        let mut attempt = 0;
        let mut cause: Option<&'static str> = None;
        loop {
            self.inner.budget.acquire().await;
            let permit = self
                .inner
                .in_flight
                .acquire()
                .await
                .expect("semaphore is never closed");
            let mut req = self
                .inner
                .http
                .request(call.method.clone(), &url)
                .bearer_auth(self.inner.token.expose())
                .query(&call.query);
            for (k, v) in &call.headers {
                req = req.header(*k, v);
            }
            if call.secret_answer {
                // The connection's read buffer would keep the answer's bytes while it waits
                // in the pool; closed, its buffers are freed (and wiped, see main.rs).
                req = req.header(reqwest::header::CONNECTION, "close");
            }
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            // The Authorization header and bodies are never logged: method, path, query only.
            tracing::debug!(method = %call.method, path = %call.path, query = ?call.query, attempt, "cloudflare request");
            let result = req.send().await;
            drop(permit);
            let (outcome, retry_after, answer) = match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    self.count(status);
                    // Calls sent before this answer may not be counted in its `remaining`
                    // yet: they will spend it, so what is left for new calls is less.
                    let others = self
                        .inner
                        .concurrency
                        .saturating_sub(self.inner.in_flight.available_permits());
                    let wait = wait_from_headers(resp.headers(), SystemTime::now(), others as u64);
                    if let Some(w) = wait.filter(|w| status == 429 || !w.is_zero()) {
                        self.inner.metrics.lock().unwrap().rate_limit_pauses += 1;
                        self.inner.budget.pause(w).await;
                    }
                    let body = match read_body(resp, call.max_body).await {
                        Ok(body) => body,
                        // Not transient: the same server would send the same again.
                        Err(seen) => return Err(too_large(&call.operation, call.max_body, seen)),
                    };
                    if call.secret_answer {
                        tracing::trace!(
                            status,
                            "cloudflare answer (body withheld: holds a secret)"
                        );
                    } else {
                        tracing::trace!(status, body = %String::from_utf8_lossy(body.expose()), "cloudflare answer");
                    }
                    // Success and errors only: `result` is skipped without being copied.
                    let outcome: Option<wire::Outcome> = serde_json::from_slice(body.expose()).ok();
                    (
                        Attempt::Answered(status),
                        wait,
                        Some((status, outcome, body)),
                    )
                }
                Err(e) => {
                    self.count(0);
                    let outcome = if e.is_connect() {
                        Attempt::ConnectFailed
                    } else {
                        Attempt::Lost
                    };
                    tracing::debug!(path = %call.path, error = %e, "cloudflare request failed");
                    cause = Some(transport_cause(&e));
                    (outcome, None, None)
                }
            };
            let succeeded =
                matches!(&answer, Some((s, Some(o), _)) if (200..300).contains(s) && o.success);
            if succeeded {
                return Ok(answer.unwrap().2);
            }
            if should_retry(outcome, attempt, self.inner.max_retries, call.replay_safe) {
                let jitter: f64 = rand::rng().random();
                let wait = backoff(attempt, retry_after, jitter);
                self.inner.metrics.lock().unwrap().retries += 1;
                let why = match (&answer, cause) {
                    (Some((status, _, _)), _) => format!("HTTP {status}"),
                    (None, Some(c)) => c.to_string(),
                    (None, None) => "no answer".to_string(),
                };
                // Info, not debug: a pass that waits must say why and for how long.
                tracing::info!(
                    "{}: {why}; retrying in {} (attempt {}/{})",
                    call.operation,
                    seconds(wait),
                    attempt + 2,
                    self.inner.max_retries + 1
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(match answer {
                Some((status, outcome, _)) => {
                    let errors = outcome
                        .map(|e| e.errors.into_iter().map(Into::into).collect())
                        .unwrap_or_default();
                    let mut err = ApiError::from_answer(&call.operation, status, errors);
                    err.retry_after = retry_after.map(|d| d.as_secs());
                    // Refused on an account path: most often the wrong account, so say which
                    // one was used and where it came from.
                    if call.path.starts_with("/accounts/") && (status == 403 || err.is_code(9109)) {
                        err.hint = Some(format!(
                            "the account id used was {} (from {}); check it, and that the API token belongs to that account{}",
                            self.inner.account_id,
                            self.inner.account_source,
                            err.hint
                                .as_deref()
                                .map(|h| format!("; {h}"))
                                .unwrap_or_default()
                        ));
                    }
                    err
                }
                None => {
                    let cause = cause.unwrap_or("no answer");
                    let mut err = ApiError::transport(
                        &call.operation,
                        match outcome {
                            Attempt::ConnectFailed => format!(
                                "cannot connect to the Cloudflare API at {}: {cause}",
                                shown_url(&self.inner.base)
                            ),
                            _ => format!(
                                "no answer from the Cloudflare API at {}: {cause}",
                                shown_url(&self.inner.base)
                            ),
                        },
                    );
                    err.hint = Some(
                        "check --api-url (CLOUDFLARE_API_BASE_URL), DNS and the network path to it"
                            .into(),
                    );
                    err
                }
            });
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        operation: &str,
        value: Value,
    ) -> Result<T, ApiError> {
        serde_json::from_value(value)
            .map_err(|e| ApiError::transport(operation, format!("unexpected answer shape: {e}")))
    }
}

/// Why a request got no answer, in a person's words: the kind of failure, found in the
/// error's causes (reqwest wraps hyper, which wraps the I/O or TLS error).
fn transport_cause(e: &reqwest::Error) -> &'static str {
    let mut text = String::new();
    let mut refused = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        text.push_str(&s.to_string().to_ascii_lowercase());
        text.push('\n');
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        source = s.source();
    }
    classify_cause(e.is_timeout(), refused, &text)
}

/// The classification itself (pure): timeout, refused, DNS, TLS, else a broken connection.
fn classify_cause(timeout: bool, refused: bool, text: &str) -> &'static str {
    if timeout || text.contains("timed out") {
        "timed out"
    } else if refused || text.contains("connection refused") {
        "connection refused"
    } else if text.contains("dns error")
        || text.contains("failed to lookup")
        || text.contains("name or service not known")
        || text.contains("no address associated")
    {
        "DNS lookup failed"
    } else if text.contains("certificate")
        || text.contains("tls")
        || text.contains("handshake")
        || text.contains("invalid peer")
    {
        "TLS handshake failed"
    } else {
        "connection failed or was cut"
    }
}

/// A URL as it may be shown: without any `user:password@` someone put in it.
fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        _ => url.to_string(),
    }
}

/// `2s`, or `0.5s` below ten seconds when not whole.
fn seconds(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() < 0.05 || s >= 10.0 {
        format!("{}s", s.round() as u64)
    } else {
        format!("{s:.1}s")
    }
}

/// The whole body into a buffer that is wiped when dropped (a create or roll answer holds
/// the new token's value), sized from Content-Length so that it rarely grows. Each chunk
/// the HTTP stack handed over is wiped too when nothing else holds it. A body cut short
/// yields what arrived, which then fails to parse. A body over `limit` bytes is not read
/// further (nor at all when Content-Length announces it): `Err` with the bytes seen, and
/// the connection is dropped with the response.
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<SecretBuf, u64> {
    const DEFAULT: usize = 16 * 1024;
    if let Some(n) = resp.content_length().filter(|n| *n > limit as u64) {
        return Err(n);
    }
    let capacity = resp
        .content_length()
        .map_or(DEFAULT, |n| usize::try_from(n).unwrap_or(DEFAULT));
    let mut body = SecretBuf::with_capacity(capacity);
    while let Ok(Some(chunk)) = resp.chunk().await {
        let over = body.len() + chunk.len() > limit;
        if !over {
            body.push(&chunk);
        }
        let seen = (body.len() + chunk.len()) as u64;
        if let Ok(mut owned) = chunk.try_into_mut() {
            owned.as_mut().zeroize();
        }
        if over {
            return Err(seen);
        }
    }
    Ok(body)
}

/// Whether a listed bucket's name keeps R2's rule. R2 refuses any other at create, so only
/// an answer that is not R2's holds one; such a name would reach plans, logs and the file
/// `import` writes, so it is dropped here, on the way in, with a warning that shows it
/// escaped. Nothing is lost: no file can declare it, and so none can manage it.
fn r2_named(op: &str, b: &ObservedBucket) -> bool {
    match crate::config::validate::bucket_name_problem(&b.name) {
        None => true,
        Some((problem, _)) => {
            tracing::warn!(
                "{op}: Cloudflare listed a bucket whose name breaks R2's rule ({problem}); it is ignored"
            );
            false
        }
    }
}

pub(super) fn jurisdiction_header(j: Jurisdiction) -> (&'static str, String) {
    ("cf-r2-jurisdiction", j.as_str().to_string())
}

pub(super) fn bucket_label(name: &str, j: Jurisdiction) -> String {
    format!("bucket '{name}' ({})", j.as_str())
}

impl ReadApi for Client {
    async fn verify(&self) -> Result<VerifiedToken, ApiError> {
        let path = format!("{}/verify", self.tokens_base(self.inner.owner));
        let env = self
            .send(Call::new("verify the API token".into(), Method::GET, path))
            .await?;
        let v: wire::WireVerify = Self::decode("verify the API token", env.result)?;
        *self.inner.own_id.lock().unwrap() = Some(v.id.clone());
        Ok(VerifiedToken {
            id: v.id,
            status: wire::status(&v.status),
            expires_on: v.expires_on.and_then(|s| {
                time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).ok()
            }),
        })
    }

    fn own_token_id(&self) -> Option<String> {
        self.inner.own_id.lock().unwrap().clone()
    }

    async fn list_buckets(
        &self,
        jurisdiction: Jurisdiction,
    ) -> Result<Vec<ObservedBucket>, ApiError> {
        let op = format!("list buckets ({})", jurisdiction.as_str());
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = Pages::new(&op);
        loop {
            pages.start()?;
            let mut call = Call::page(op.clone(), Method::GET, self.buckets_base());
            // One constant with the cost model, which counts these pages.
            call.query.push((
                "per_page",
                crate::config::cost::BUCKETS_PER_PAGE.to_string(),
            ));
            if let Some(c) = &cursor {
                call.query.push(("cursor", c.clone()));
            }
            call.headers.push(jurisdiction_header(jurisdiction));
            let env = self.send(call).await?;
            let list: wire::WireBucketList = Self::decode(&op, env.result)?;
            out.extend(
                list.buckets
                    .into_iter()
                    .map(|b| wire::bucket(b, jurisdiction))
                    .filter(|b| r2_named(&op, b)),
            );
            // The last page carries no cursor (or maybe an empty one: the schema leaves `cursor` optional and says nothing of the last page).
            cursor = env
                .result_info
                .as_ref()
                .and_then(|i| i.get("cursor"))
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            match &cursor {
                None => return Ok(out),
                Some(c) => pages.cursor(c)?,
            }
        }
    }

    async fn get_bucket(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
    ) -> Result<Option<ObservedBucket>, ApiError> {
        let op = format!("read {}", bucket_label(name, jurisdiction));
        let path = format!("{}/{name}", self.buckets_base());
        let mut call = Call::new(op.clone(), Method::GET, path);
        call.headers.push(jurisdiction_header(jurisdiction));
        match self.send(call).await {
            Ok(env) => Ok(Some(wire::bucket(
                Self::decode(&op, env.result)?,
                jurisdiction,
            ))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_token(&self, owner: Owner, id: &str) -> Result<Option<ObservedToken>, ApiError> {
        let op = format!("read {} token {id}", owner.as_str());
        let path = format!("{}/{id}", self.tokens_base(owner));
        match self.send(Call::new(op.clone(), Method::GET, path)).await {
            Ok(env) => Ok(Some(wire::token(Self::decode(&op, env.result)?, owner))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_tokens(&self, owner: Owner) -> Result<Vec<ObservedToken>, ApiError> {
        let op = format!("list {} tokens", owner.as_str());
        let mut out = Vec::new();
        let mut pages = Pages::new(&op);
        loop {
            let page = pages.start()?;
            let mut call = Call::page(op.clone(), Method::GET, self.tokens_base(owner));
            call.query
                .push(("per_page", crate::config::cost::TOKENS_PER_PAGE.to_string()));
            call.query.push(("page", page.to_string()));
            // Without it the list hides expired tokens, and a planner that cannot see one
            // creates another on every pass (`include_expired` in cloudflare-typescript's `accounts/tokens`).
            call.query.push(("include_expired", "true".into()));
            let env = self.send(call).await?;
            let items: Vec<wire::WireToken> = Self::decode(&op, env.result)?;
            let n = items.len();
            out.extend(items.into_iter().map(|t| wire::token(t, owner)));
            let total = env
                .result_info
                .as_ref()
                .and_then(|i| i.get("total_count"))
                .and_then(Value::as_u64);
            let done = n < 50 || total.is_some_and(|t| out.len() as u64 >= t);
            if done {
                break;
            }
        }
        Ok(out)
    }

    async fn permission_groups(&self, owner: Owner) -> Result<PermissionGroupIds, ApiError> {
        let cell = &self.inner.groups[owner as usize];
        cell.get_or_try_init(|| async {
            let op = format!("list {} permission groups", owner.as_str());
            let path = format!("{}/permission_groups", self.tokens_base(owner));
            match self.send(Call::page(op.clone(), Method::GET, path)).await {
                Ok(env) => {
                    let groups: Vec<wire::WireGroup> = Self::decode(&op, env.result)?;
                    let ids = wire::group_ids(groups, |name| match name {
                        GROUP_ADMIN_WRITE | GROUP_ADMIN_READ => Some("com.cloudflare.api.account"),
                        GROUP_OBJECT_WRITE | GROUP_OBJECT_READ => Some("com.cloudflare.edge.r2.bucket"),
                        _ => None,
                    });
                    let known = PermissionGroupIds::known();
                    let pick = |name: &str, fallback: String| match ids.get(name) {
                        Some(id) => id.clone(),
                        None => {
                            tracing::warn!(group = name, "permission group not listed; using the known id");
                            fallback
                        }
                    };
                    Ok(PermissionGroupIds {
                        admin_write: pick(GROUP_ADMIN_WRITE, known.admin_write),
                        admin_read: pick(GROUP_ADMIN_READ, known.admin_read),
                        object_write: pick(GROUP_OBJECT_WRITE, known.object_write),
                        object_read: pick(GROUP_OBJECT_READ, known.object_read),
                    })
                }
                Err(e) if e.is_auth() => {
                    tracing::warn!(
                        "listing permission groups is forbidden for this token; using the known R2 group ids"
                    );
                    Ok(PermissionGroupIds::known())
                }
                Err(e) => Err(e),
            }
        })
        .await
        .cloned()
    }

    async fn read_config(
        &self,
        j: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> Result<Option<ConfigValue>, ApiError> {
        self.get_config(j, name, kind).await
    }

    async fn lookup_zone(&self, zone: &ZoneRef) -> Result<ZoneLookup, ApiError> {
        self.find_zone(zone).await
    }

    async fn list_queues(&self) -> Result<Vec<Queue>, ApiError> {
        self.queues().await
    }

    async fn get_custom_domain(
        &self,
        j: Jurisdiction,
        bucket: &str,
        domain: &str,
    ) -> Result<Option<CustomDomain>, ApiError> {
        self.custom_domain(j, bucket, domain).await
    }
}

/// A `WriteClient` reads as its `Client` does: one delegation, not a forwarding per method.
impl std::ops::Deref for WriteClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.read
    }
}

impl WriteClient {
    pub fn reader(&self) -> &Client {
        &self.read
    }

    fn key_state(&self) -> KeyState {
        *self.read.inner.condition_key.lock().unwrap()
    }

    /// Remember, for the rest of the process, the key under which Cloudflare kept a
    /// condition (logged once). A read-back without the condition settles nothing.
    fn settle_key(&self, request: &TokenRequest, stored: &ObservedToken, key: ConditionKey) {
        if request.condition.is_empty() || stored.condition != request.condition {
            return;
        }
        let mut state = self.read.inner.condition_key.lock().unwrap();
        if !state.settled {
            *state = KeyState { key, settled: true };
            // Internal detail (the plan never shows the key): debug, once.
            tracing::debug!(
                key = key.as_str(),
                "Cloudflare keeps token IP conditions under '{}'; using it for the rest of the process",
                key.as_str()
            );
        }
    }

    async fn post_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
        key: ConditionKey,
    ) -> Result<CreatedToken, ApiError> {
        let op = format!("create {} token '{}'", owner.as_str(), request.name);
        let mut call = Call::new(op.clone(), Method::POST, self.read.tokens_base(owner));
        call.body = Some(wire::token_body(request, key));
        // Token names are not unique: replaying a create whose answer was lost could leave
        // a second token behind. Only answered 429/5xx (nothing created) are retried.
        call.replay_safe = false;
        // The value goes from the wiped body buffer straight into `TokenValue`.
        let created: wire::WireCreated = self.read.send_secret(call).await?;
        Ok(CreatedToken {
            token: wire::token(created.token, owner),
            value: created.value,
            condition_sent_as: key.as_str(),
        })
    }

    async fn put_token(
        &self,
        owner: Owner,
        id: &str,
        request: &TokenRequest,
        key: ConditionKey,
    ) -> Result<ObservedToken, ApiError> {
        let op = format!("update {} token '{}' ({id})", owner.as_str(), request.name);
        let path = format!("{}/{id}", self.read.tokens_base(owner));
        let mut call = Call::new(op.clone(), Method::PUT, path);
        call.body = Some(wire::token_body(request, key));
        let env = self.read.send(call).await?;
        Ok(wire::token(Client::decode(&op, env.result)?, owner))
    }
}

fn both_keys(first: ConditionKey) -> &'static str {
    match first {
        ConditionKey::RequestIp => "request_ip and request.ip",
        ConditionKey::RequestDotIp => "request.ip and request_ip",
    }
}

impl WriteApi for WriteClient {
    type Reader = Client;
    fn reader(&self) -> &Client {
        &self.read
    }

    async fn create_bucket(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        location_hint: Option<LocationHint>,
        storage_class: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        let op = format!("create {}", bucket_label(name, jurisdiction));
        let mut call = Call::new(op.clone(), Method::POST, self.read.buckets_base());
        let mut body = serde_json::json!({ "name": name, "storageClass": storage_class.as_str() });
        if let Some(l) = location_hint {
            body["locationHint"] = serde_json::json!(l.as_str());
        }
        call.body = Some(body);
        call.headers.push(jurisdiction_header(jurisdiction));
        let env = self.read.send(call).await?;
        Ok(wire::bucket(Client::decode(&op, env.result)?, jurisdiction))
    }

    async fn set_storage_class(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        storage_class: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        let op = format!(
            "set the storage class of {}",
            bucket_label(name, jurisdiction)
        );
        let path = format!("{}/{name}", self.read.buckets_base());
        let mut call = Call::new(op.clone(), Method::PATCH, path);
        call.headers.push(jurisdiction_header(jurisdiction));
        call.headers
            .push(("cf-r2-storage-class", storage_class.as_str().to_string()));
        let env = self.read.send(call).await?;
        Ok(wire::bucket(Client::decode(&op, env.result)?, jurisdiction))
    }

    async fn delete_bucket(&self, jurisdiction: Jurisdiction, name: &str) -> Result<(), ApiError> {
        let op = format!("delete {}", bucket_label(name, jurisdiction));
        let path = format!("{}/{name}", self.read.buckets_base());
        let mut call = Call::new(op, Method::DELETE, path);
        call.headers.push(jurisdiction_header(jurisdiction));
        self.read.send(call).await.map(|_| ())
    }

    async fn create_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
    ) -> Result<CreatedToken, ApiError> {
        let state = self.key_state();
        let first = self.post_token(owner, request, state.key).await?;
        if request.condition.is_empty() || first.token.condition == request.condition {
            self.settle_key(request, &first.token, state.key);
            return Ok(CreatedToken {
                condition_sent_as: state.key.as_str(),
                ..first
            });
        }
        if state.settled {
            return Ok(CreatedToken {
                condition_sent_as: state.key.as_str(),
                ..first
            });
        }
        // Cloudflare did not keep the condition under this key. The token it made is less
        // restricted than asked: delete it before its value goes anywhere, then try the
        // other key once.
        let other = state.key.other();
        tracing::debug!(
            token = %request.name,
            key = state.key.as_str(),
            "the IP condition was not stored; retrying under {}",
            other.as_str()
        );
        let dropped_id = first.token.id.clone();
        drop(first);
        self.delete_token(owner, &dropped_id).await.map_err(|e| {
            ApiError::transport(
                &format!("create {} token '{}'", owner.as_str(), request.name),
                format!(
                    "Cloudflare did not store its IP condition under {}, and deleting the token it made ({dropped_id}) failed: {e}",
                    state.key.as_str()
                ),
            )
        })?;
        let second = self.post_token(owner, request, other).await?;
        self.settle_key(request, &second.token, other);
        Ok(CreatedToken {
            condition_sent_as: both_keys(state.key),
            ..second
        })
    }

    async fn update_token(
        &self,
        owner: Owner,
        id: &str,
        request: &TokenRequest,
    ) -> Result<UpdatedToken, ApiError> {
        let state = self.key_state();
        let first = self.put_token(owner, id, request, state.key).await?;
        if request.condition.is_empty() || first.condition == request.condition || state.settled {
            self.settle_key(request, &first, state.key);
            return Ok(UpdatedToken {
                token: first,
                condition_sent_as: state.key.as_str(),
            });
        }
        let other = state.key.other();
        let second = self.put_token(owner, id, request, other).await?;
        self.settle_key(request, &second, other);
        Ok(UpdatedToken {
            token: second,
            condition_sent_as: both_keys(state.key),
        })
    }

    async fn delete_token(&self, owner: Owner, id: &str) -> Result<(), ApiError> {
        let op = format!("delete {} token {id}", owner.as_str());
        let path = format!("{}/{id}", self.read.tokens_base(owner));
        self.read
            .send(Call::new(op, Method::DELETE, path))
            .await
            .map(|_| ())
    }

    async fn write_config(
        &self,
        j: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> Result<(), ApiError> {
        self.put_config(j, name, write).await
    }

    async fn write_custom_domain(
        &self,
        j: Jurisdiction,
        bucket: &str,
        write: &DomainWrite,
    ) -> Result<(), ApiError> {
        self.put_custom_domain(j, bucket, write).await
    }

    async fn write_notifications(
        &self,
        j: Jurisdiction,
        bucket: &str,
        write: &QueueWrite,
    ) -> Result<(), ApiError> {
        self.put_queue_rules(j, bucket, write).await
    }

    async fn roll_token(&self, owner: Owner, id: &str) -> Result<TokenValue, ApiError> {
        let op = format!("roll {} token {id}", owner.as_str());
        let path = format!("{}/{id}/value", self.read.tokens_base(owner));
        let mut call = Call::new(op.clone(), Method::PUT, path);
        call.body = Some(serde_json::json!({}));
        // A lost roll answer is lost either way (the old value died on the server); replaying
        // it only yields a value we can then write, so the roll stays replay-safe.
        self.read.send_secret(call).await
    }

    async fn issue_temporary(
        &self,
        request: &TemporaryRequest,
    ) -> Result<IssuedTemporary, ApiError> {
        self.post_temporary(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_connection_is_named_by_its_kind() {
        let cases = [
            (true, false, "operation timed out", "timed out"),
            (false, true, "tcp connect error", "connection refused"),
            (
                false,
                false,
                "client error (connect)\ndns error\nfailed to lookup address information: name or service not known",
                "DNS lookup failed",
            ),
            (
                false,
                false,
                "client error (connect)\ninvalid peer certificate: unknownissuer",
                "TLS handshake failed",
            ),
            (
                false,
                false,
                "connection closed before message completed",
                "connection failed or was cut",
            ),
        ];
        for (timeout, refused, text, want) in cases {
            assert_eq!(classify_cause(timeout, refused, text), want, "{text}");
        }
    }

    #[test]
    fn a_url_is_shown_without_credentials() {
        assert_eq!(
            shown_url("https://user:secret@api.example.com/client/v4"),
            "https://api.example.com/client/v4"
        );
        assert_eq!(
            shown_url("http://127.0.0.1:1/client/v4"),
            "http://127.0.0.1:1/client/v4"
        );
    }

    #[test]
    fn waits_read_as_seconds() {
        for (ms, want) in [(500, "0.5s"), (2000, "2s"), (2250, "2.2s"), (12_400, "12s")] {
            assert_eq!(seconds(std::time::Duration::from_millis(ms)), want);
        }
    }
}
