//! The daemon's small HTTP server: `/healthz` (alive), `/readyz` (file valid and last pass
//! succeeded), `/metrics` (Prometheus text) and `/status` (JSON). Read-only: it never
//! triggers or changes anything.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::status::Status;

pub type Shared = Arc<Mutex<Status>>;

pub fn router(status: Shared) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get({
                let status = status.clone();
                move || async move {
                    match status.lock().unwrap().ready() {
                        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
                        Err(why) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("not ready: {why}\n"),
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
                    let body = status.lock().unwrap().prometheus();
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
            get(move || async move { axum::Json(status.lock().unwrap().json()) }),
        )
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    status: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(status))
        .with_graceful_shutdown(shutdown)
        .await
}
