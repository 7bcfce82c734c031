//! The daemon's small HTTP server: `/healthz` (alive), `/readyz` (file valid and last pass
//! succeeded), `/metrics` (Prometheus text) and `/status` (JSON). Read-only: it never
//! triggers or changes anything.
//!
//! Two audiences. Probes and `/metrics` may face the pod network. `/status` shows token
//! names and ids (S3 access key ids), bucket names, output paths and errors: with
//! `--status-token-file` it needs that bearer token on every listener; without, it is
//! served on loopback listeners only and is a 404 elsewhere. Only where `/status` is open
//! (loopback, no status token) do `/readyz` give the error behind "not ready" and
//! `/metrics` label temporary credentials by name; elsewhere `/readyz` gives the reason
//! class alone and `/metrics` aggregates without names.
//!
//! Connections are bounded (a flood of idle ones must not starve `/healthz` nor a pass of
//! file descriptors): at most `MAX_CONNECTIONS` at once, and when a new
//! one arrives at the cap, the one idle longest is closed to make room (never one whose
//! request is being answered). Each connection must deliver a request's headers within
//! `HEADER_READ_TIMEOUT` of being accepted or of its previous answer (so this is also the
//! keep-alive idle timeout), and lives at most `CONNECTION_LIFETIME`. Idle connections
//! therefore cannot use up the process's file descriptors, nor keep a probe out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use super::status::Status;

pub type Shared = Arc<Mutex<Status>>;

/// Connections served at once; probes, a scraper and an operator need a handful.
pub const MAX_CONNECTIONS: usize = 32;
/// Time to deliver a request's headers, from accept or from the previous answer.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// No connection lives longer (a client that stops reading its answer).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// Who may read `/status` on one listener.
#[derive(Clone)]
pub enum StatusAccess {
    /// Anyone who reaches the listener (a loopback listener without a status token).
    Open,
    /// A caller presenting `Authorization: Bearer <token>`; holds the token's SHA-256.
    Bearer(Arc<[u8; 32]>),
    /// Nobody (a listener facing the network, and no status token).
    Hidden,
}

impl StatusAccess {
    /// The access on a listener bound to `addr`, given the status token's digest if any.
    pub fn for_listener(addr: &SocketAddr, token: Option<&Arc<[u8; 32]>>) -> StatusAccess {
        match token {
            Some(t) => StatusAccess::Bearer(t.clone()),
            None if addr.ip().is_loopback() => StatusAccess::Open,
            None => StatusAccess::Hidden,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            StatusAccess::Open => "open",
            StatusAccess::Bearer(_) => "bearer token",
            StatusAccess::Hidden => "not served",
        }
    }

    fn allows(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        match self {
            StatusAccess::Open => Ok(()),
            StatusAccess::Hidden => Err(Refusal::NotServed),
            StatusAccess::Bearer(want) => {
                let given = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::trim);
                // Digests compared, so the comparison's time says nothing about the token.
                let ok = given.is_some_and(|g| {
                    let d: [u8; 32] = Sha256::digest(g.as_bytes()).into();
                    d == **want
                });
                if ok {
                    Ok(())
                } else {
                    Err(Refusal::Unauthorized)
                }
            }
        }
    }
}

/// Why `/status` was not answered.
enum Refusal {
    NotServed,
    Unauthorized,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotServed => (
                StatusCode::NOT_FOUND,
                "/status is not served on this listener: use the loopback --status-listen, or --status-token-file\n",
            )
                .into_response(),
            Refusal::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"r2gitops\"")],
                "/status needs the bearer token of --status-token-file\n",
            )
                .into_response(),
        }
    }
}

pub fn router(status: Shared, access: StatusAccess) -> Router {
    // Names, ids, paths and error texts only where anyone who reaches the listener may
    // read `/status` anyway; probes and scrapes never present the bearer token.
    let names = matches!(access, StatusAccess::Open);
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get({
                let status = status.clone();
                move || async move {
                    match status.lock().unwrap().readiness() {
                        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
                        Err(why) if names => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("not ready: {why}\n"),
                        ),
                        Err(why) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("not ready: {}\n", why.class),
                        ),
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get({
                let status = status.clone();
                move || async move {
                    let body = {
                        let st = status.lock().unwrap();
                        let now = time::OffsetDateTime::now_utc();
                        let mut text =
                            st.prometheus() + &super::renewal::metrics(&st.temporary, now, names);
                        if let Some(p) = st.publish.as_ref().filter(|_| names) {
                            text.push_str(&p.commit_metric());
                        }
                        text
                    };
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        body,
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/status",
            get(move |headers: HeaderMap| async move {
                match access.allows(&headers) {
                    Ok(()) => {
                        let st = status.lock().unwrap();
                        let mut v = st.json();
                        let now = time::OffsetDateTime::now_utc();
                        v["temporary_credentials"] =
                            super::renewal::status_json(&st.temporary, now);
                        axum::Json(v).into_response()
                    }
                    Err(refused) => refused.into_response(),
                }
            }),
        )
}

/// One connection being served: since when it is idle (0 while a request is being
/// answered), and its task.
struct Open {
    idle_since: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

/// The connections being served, by id.
#[derive(Default)]
struct Connections {
    open: Mutex<HashMap<u64, Open>>,
    /// A clock of events: accepts and answers, so "idle since" orders connections.
    tick: AtomicU64,
}

impl Connections {
    fn now(&self) -> u64 {
        self.tick.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Make room for one more: close the connection idle longest when at the cap, and
    /// wait until its socket is closed (an abort alone is asynchronous, and a burst of
    /// accepts would outrun it). False when every connection is busy answering (the new
    /// one is then refused).
    async fn make_room(&self) -> bool {
        let evicted = {
            let mut open = self.open.lock().unwrap();
            if open.len() < MAX_CONNECTIONS {
                return true;
            }
            let oldest = open
                .iter()
                .filter_map(|(id, c)| {
                    let s = c.idle_since.load(Ordering::Relaxed);
                    (s != 0).then_some((s, *id))
                })
                .min();
            match oldest.and_then(|(_, id)| open.remove(&id)) {
                Some(c) => c.task,
                None => return false,
            }
        };
        evicted.abort();
        let _ = evicted.await;
        true
    }

    fn close_all(&self) {
        for (_, c) in self.open.lock().unwrap().drain() {
            c.task.abort();
        }
    }
}

/// Removes a connection from the table however its task ends (done, timed out, aborted).
struct Registered {
    id: u64,
    conns: Arc<Connections>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns.open.lock().unwrap().remove(&self.id);
    }
}

/// Serve `router` on `listener` until `shutdown` resolves; open connections are then
/// closed (nothing here has work worth finishing).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let conns = Arc::new(Connections::default());
    let mut next_id = 0u64;
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and the like: wait instead of spinning; connections close.
                    tracing::warn!(error = %e, "status server: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        if !conns.make_room().await {
            drop(stream);
            continue;
        }
        next_id += 1;
        let id = next_id;
        let idle_since = Arc::new(AtomicU64::new(conns.now()));
        // Locked until the task is in the table, so that its end cannot come first.
        let mut open = conns.open.lock().unwrap();
        let task = tokio::spawn(serve_connection(
            stream,
            router.clone(),
            idle_since.clone(),
            Registered {
                id,
                conns: conns.clone(),
            },
        ));
        open.insert(id, Open { idle_since, task });
    }
    conns.close_all();
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    idle_since: Arc<AtomicU64>,
    registered: Registered,
) {
    let conns = registered.conns.clone();
    let service = hyper::service::service_fn(move |req| {
        let mut router = router.clone();
        let idle_since = idle_since.clone();
        let conns = conns.clone();
        async move {
            idle_since.store(0, Ordering::Relaxed);
            let answer = tower_service::Service::call(&mut router, req).await;
            idle_since.store(conns.now(), Ordering::Relaxed);
            answer
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
    drop(registered);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(t: &str) -> Arc<[u8; 32]> {
        Arc::new(Sha256::digest(t.as_bytes()).into())
    }

    #[test]
    fn status_is_open_on_loopback_hidden_elsewhere_and_needs_the_token_when_one_is_set() {
        let lo: SocketAddr = "127.0.0.1:9477".parse().unwrap();
        let lo6: SocketAddr = "[::1]:9477".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:9477".parse().unwrap();
        let t = digest("s3cr3t");
        let cases = [
            (lo, None, "open"),
            (lo6, None, "open"),
            (any, None, "not served"),
            (any, Some(&t), "bearer token"),
            (lo, Some(&t), "bearer token"),
        ];
        for (addr, token, want) in cases {
            assert_eq!(
                StatusAccess::for_listener(&addr, token).as_str(),
                want,
                "{addr}"
            );
        }
    }

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let access = StatusAccess::Bearer(digest("s3cr3t"));
        let with = |v: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = v {
                h.insert(header::AUTHORIZATION, v.parse().unwrap());
            }
            access.allows(&h).is_ok()
        };
        assert!(with(Some("Bearer s3cr3t")));
        assert!(!with(Some("Bearer s3cr3")));
        assert!(!with(Some("Bearer s3cr3t2")));
        assert!(!with(Some("Basic s3cr3t")));
        assert!(!with(Some("s3cr3t")));
        assert!(!with(None));
        assert!(StatusAccess::Hidden.allows(&HeaderMap::new()).is_err());
        assert!(StatusAccess::Open.allows(&HeaderMap::new()).is_ok());
    }
}
