//! A stateful emulator of the Cloudflare API v4 subset r2gitops uses (R2 buckets, API tokens
//! of both owner families, permission groups) and of the R2 S3 endpoint, one listener per
//! jurisdiction. Every behaviour traces to Cloudflare's OpenAPI schema (`spec/`), docs, SDKs
//! or Terraform provider, or to what other tools' live tests record (the README names the
//! source of each one that is not confirmed). For tests, the
//! quickstart and benchmarks only: this machine has no internet, and no open-source emulator
//! of these endpoints exists.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emu = cf_emulator::Emulator::start(Default::default()).await?;
//! println!("{} {}", emu.api_url(), emu.s3_urls()["eu"]);
//! # Ok(()) }
//! ```
//!
//! Layout: `state` (buckets, tokens, policy rules), `api` (the REST envelope, auth and
//! routing; its children `buckets` and `tokens` hold those routes, and `temporary` issues
//! temporary credentials and checks them on S3), `bucket_config` (CORS,
//! lifecycle, lock, r2.dev, and what the S3 side enforces of them), `custom_domain` and
//! `notification`, `zones` and `queues` (the directories those name), `s3` (the
//! S3 endpoint on `s3s`, CORS preflight), `faults` (latency, 500s, rate limit, stats),
//! `behaviour` (live-API behaviours that are possible but unconfirmed, each a switch), `lag`
//! (the live API catching up: a new bucket's sub-resources, a hostname just removed),
//! `inspect` (what a test reads of the world and seeds into it).

mod api;
mod behaviour;
mod bucket_config;
mod custom_domain;
mod faults;
mod hold;
mod inspect;
mod lag;
mod notification;
mod queues;
mod s3;
mod s3_cors;
mod state;
mod zones;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use api::temporary::TemporaryView;
pub use behaviour::{Behaviour, ConditionKey};
pub use faults::{Call, Faults, Stats};
pub use zones::ZoneSeed;

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address of the API listener; the S3 listeners bind the same IP.
    pub listen: SocketAddr,
    /// First port of the four S3 listeners (`default`, `eu`, `fedramp`, `us`, in that
    /// order); free ports when `None`.
    pub s3_port_base: Option<u16>,
    /// 32 lowercase hex; generated when `None`.
    pub account_id: Option<String>,
    /// The bearer token that may do everything; generated when `None`.
    pub admin_token: Option<String>,
    pub faults: Faults,
    pub behaviour: Behaviour,
    /// Zones custom domains may use (`--zone`).
    pub zones: Vec<ZoneSeed>,
    /// Queues notification rules may name (`--queue`).
    pub queues: Vec<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            s3_port_base: None,
            account_id: None,
            admin_token: None,
            faults: Faults::default(),
            behaviour: Behaviour::default(),
            zones: Vec::new(),
            queues: Vec::new(),
        }
    }
}

/// A token as the emulator holds it, for tests that check the result directly rather than
/// through the product. Never the value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenView {
    pub id: String,
    pub family: &'static str,
    pub name: String,
    pub status: &'static str,
    pub allow_ips: Vec<String>,
    pub deny_ips: Vec<String>,
    pub not_before: Option<String>,
    pub expires_on: Option<String>,
    /// (effect, permission group ids, resource keys) per policy.
    pub policies: Vec<(String, Vec<String>, Vec<String>)>,
}

pub(crate) fn token_views(inner: &Inner) -> Vec<TokenView> {
    let now = time::OffsetDateTime::now_utc();
    let world = inner.world.lock().unwrap();
    let mut all: Vec<&state::Token> = world.tokens.values().collect();
    all.sort_by_key(|t| t.seq);
    all.into_iter()
        .map(|t| TokenView {
            id: t.id.clone(),
            family: match t.family {
                state::Family::Account => "account",
                state::Family::User => "user",
            },
            name: t.name.clone(),
            status: t.status(now),
            allow_ips: t.allow_ips.iter().map(|n| n.to_string()).collect(),
            deny_ips: t.deny_ips.iter().map(|n| n.to_string()).collect(),
            not_before: t.not_before.map(state::rfc3339),
            expires_on: t.expires_on.map(state::rfc3339),
            policies: t
                .policies
                .iter()
                .map(|p| {
                    (
                        p.effect.clone(),
                        p.groups.clone(),
                        p.resources.keys().cloned().collect(),
                    )
                })
                .collect(),
        })
        .collect()
}

pub(crate) fn revoke_exposed(inner: &Inner, id: &str) -> bool {
    match inner.world.lock().unwrap().tokens.get_mut(id) {
        Some(t) => {
            t.revoked = true;
            true
        }
        None => false,
    }
}

pub(crate) struct Inner {
    pub account_id: String,
    pub admin_token: String,
    pub admin_token_id: String,
    pub world: Mutex<World>,
    pub faults: Mutex<faults::FaultState>,
    pub behaviour: Mutex<Behaviour>,
    pub stats: Mutex<Stats>,
    pub rng: Mutex<StdRng>,
    pub started: Instant,
    pub hold: hold::Hold,
}

/// Everything the emulator holds: buckets keyed by (jurisdiction, name), tokens by id, and
/// multipart uploads in progress.
#[derive(Default)]
pub(crate) struct World {
    pub buckets: BTreeMap<(String, String), state::Bucket>,
    pub tokens: BTreeMap<String, state::Token>,
    pub seq: u64,
    pub uploads: BTreeMap<String, s3::Upload>,
    pub upload_seq: u64,
    /// Every token value ever handed out (creates and rolls), for leak scans.
    pub issued: Vec<String>,
    /// Temporary credentials by access key id.
    pub temporary: BTreeMap<String, api::temporary::TempCred>,
    /// Zones and queues.
    pub zones: Vec<zones::Zone>,
    pub queues: Vec<queues::Queue>,
    /// When each custom-domain hostname was last removed (`lag`, the hostname release).
    pub released: BTreeMap<String, Instant>,
}

/// A running emulator. Dropping it does not stop the servers; call `shutdown`.
pub struct Emulator {
    inner: Arc<Inner>,
    api_url: String,
    s3_urls: BTreeMap<String, String>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Bind the API listener and one S3 listener per jurisdiction, and serve in the
    /// background on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let mut rng = StdRng::from_os_rng();
        let account_id = config
            .account_id
            .unwrap_or_else(|| state::random_hex(&mut rng, 16));
        let admin_token = config
            .admin_token
            .unwrap_or_else(|| state::new_token_value(&mut rng, state::Family::Account));
        let inner = Arc::new(Inner {
            account_id,
            admin_token,
            admin_token_id: state::random_hex(&mut rng, 16),
            world: Mutex::new(World::default()),
            faults: Mutex::new(faults::FaultState::new(config.faults)),
            behaviour: Mutex::new(config.behaviour),
            stats: Mutex::new(Stats::default()),
            hold: hold::Hold::default(),
            rng: Mutex::new(StdRng::from_rng(&mut rng)),
            started: Instant::now(),
        });
        {
            let mut world = inner.world.lock().unwrap();
            for z in &config.zones {
                world.zones.push(zones::Zone::new(z, &inner.account_id));
            }
            for q in &config.queues {
                world.queues.push(queues::Queue::new(q));
            }
        }
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        let api = TcpListener::bind(config.listen).await?;
        let api_addr = api.local_addr()?;
        let app = axum::Router::new()
            .fallback(api::handle)
            .with_state(inner.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let mut rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(api, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
        }));

        let mut s3_urls = BTreeMap::new();
        for (i, j) in state::JURISDICTIONS.into_iter().enumerate() {
            let port = config.s3_port_base.map_or(0, |base| base + i as u16);
            let listener = TcpListener::bind(SocketAddr::new(config.listen.ip(), port)).await?;
            s3_urls.insert(j.to_string(), format!("http://{}", listener.local_addr()?));
            let mut builder = s3s::service::S3ServiceBuilder::new(s3::Store {
                inner: inner.clone(),
                jurisdiction: j,
            });
            builder.set_auth(s3::Auth {
                inner: inner.clone(),
            });
            builder.set_access(s3::Access {
                inner: inner.clone(),
                jurisdiction: j,
            });
            let service = builder.build();
            tasks.push(tokio::spawn(serve_s3(
                listener,
                service,
                stop_rx.clone(),
                inner.clone(),
                j,
            )));
        }

        Ok(Emulator {
            inner,
            api_url: format!("http://{api_addr}/client/v4"),
            s3_urls,
            stop,
            tasks,
        })
    }

    /// `http://127.0.0.1:P/client/v4`
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// S3 endpoint per jurisdiction: `default`, `eu`, `fedramp`, `us`.
    pub fn s3_urls(&self) -> &BTreeMap<String, String> {
        &self.s3_urls
    }

    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    pub fn admin_token(&self) -> &str {
        &self.inner.admin_token
    }

    /// Replace the fault knobs (resets the rate-limit window and the dice).
    pub fn set_faults(&self, faults: Faults) {
        self.inner.faults.lock().unwrap().set(faults);
    }

    /// Replace the behaviour switches while running.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.inner.behaviour.lock().unwrap() = behaviour;
    }

    /// The behaviour switches now (to change one of them with `set_behaviour`).
    pub fn behaviour(&self) -> Behaviour {
        self.inner.behaviour.lock().unwrap().clone()
    }

    /// Mark a token `revoked (exposed)`, as Cloudflare does with a leaked value. Also
    /// `POST /__emulator/tokens/{id}/revoke-exposed`. `false` when there is no such token.
    pub fn revoke_exposed(&self, id: &str) -> bool {
        revoke_exposed(&self.inner, id)
    }

    /// Hold back the answer of the `k`-th mutating call counted since the last
    /// `reset_stats` (its effect already applied) until `release`: crash injection.
    pub fn hold_after_mutating(&self, k: u64) {
        self.inner.hold.arm(k);
    }

    /// Whether an answer is being held back now.
    pub fn holding(&self) -> bool {
        self.inner.hold.holding()
    }

    pub fn release(&self) {
        self.inner.hold.release();
    }

    pub fn stats(&self) -> Stats {
        self.inner.stats.lock().unwrap().clone()
    }

    pub fn reset_stats(&self) {
        *self.inner.stats.lock().unwrap() = Stats::default();
    }

    /// Shell `export` lines that point r2gitops (and the tests' tools) at this emulator.
    pub fn env_block(&self) -> String {
        let s3: Vec<String> = self
            .s3_urls
            .iter()
            .map(|(j, url)| format!("{j}={url}"))
            .collect();
        format!(
            "export CLOUDFLARE_API_BASE_URL={}\n\
             export CLOUDFLARE_API_TOKEN={}\n\
             export CLOUDFLARE_ACCOUNT_ID={}\n\
             export R2GITOPS_S3_ENDPOINTS={}\n",
            self.api_url,
            self.inner.admin_token,
            self.inner.account_id,
            s3.join(",")
        )
    }

    /// The start-up line of the `cf-emulator` binary.
    pub fn startup_line(&self) -> String {
        serde_json::json!({
            "api_url": self.api_url,
            "s3_urls": self.s3_urls,
            "account_id": self.inner.account_id,
            "admin_token": self.inner.admin_token,
        })
        .to_string()
    }

    /// Stop every listener and wait for the servers to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn serve_s3(
    listener: TcpListener,
    service: s3s::service::S3Service,
    mut stop: watch::Receiver<bool>,
    inner: Arc<Inner>,
    jurisdiction: &'static str,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let service = service.clone();
        let inner = inner.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(s3::PeerAddr(peer));
                    let service = service.clone();
                    let inner = inner.clone();
                    async move {
                        // CORS (`s3_cors`): preflights here, headers on the way out.
                        let path = req.uri().path().to_string();
                        if req.method() == hyper::Method::OPTIONS {
                            return Ok(s3_cors::preflight(
                                &inner,
                                jurisdiction,
                                &path,
                                req.headers(),
                            ));
                        }
                        let cors = s3_cors::pending(req.method(), &path, req.headers());
                        let mut resp = service.call(req.map(s3s::Body::from)).await?;
                        if let Some(p) = cors {
                            s3_cors::decorate(&inner, jurisdiction, &p, resp.headers_mut());
                        }
                        Ok::<_, s3s::HttpError>(resp)
                    }
                },
            );
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
        });
    }
}
