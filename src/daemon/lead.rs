//! With `--state r2://…`: whether this replica leads, the stop that ends an apply when
//! the lease can no longer be used, and the renewer that keeps it.

use super::*;

impl Daemon {
    /// With `--state`: whether this replica leads now. A lease it holds and may still use
    /// is kept (the renewer renews it); otherwise it tries once to take the lease, and
    /// stands by when another replica holds it.
    pub(super) async fn lead(&mut self, session: &Arc<Session>) -> Result<bool, Failed> {
        if session.may_mutate() {
            return Ok(true);
        }
        let was_leader = session.held().is_some();
        if was_leader {
            session.forget();
            tracing::warn!(state = %session.url(), "the state lease was lost; standing by");
        }
        match session.take_lease(&self.holder, time::Duration::ZERO).await {
            Ok(()) => {
                // What this replica read while it led before may have been rewritten by
                // the leader in between: the first pass of a new term reads afresh.
                self.config_cache.clear();
                self.renewal_basis = None;
                self.update(|s| s.leader = Some(true));
                Ok(true)
            }
            Err(crate::state::r2::StateError::Held {
                holder, expires_at, ..
            }) => {
                let first = self.status.lock().unwrap().leader != Some(false);
                if first {
                    tracing::info!(state = %session.url(), leader = %holder, expires_at = %expires_at, "standing by: another replica holds the state lease");
                }
                self.update(|s| s.leader = Some(false));
                Ok(false)
            }
            Err(e) => {
                self.update(|s| s.leader = Some(false));
                Err(Failed::new(error_chain(&e)))
            }
        }
    }
}

/// The stop of one apply: the daemon's shutdown, or (with `--state`) the lease no longer
/// usable, whichever comes first. The task is aborted when the apply returns.
pub(super) fn pass_stop(
    shutdown: &Shutdown,
    session: Option<Arc<Session>>,
) -> (Stop, tokio::task::JoinHandle<()>) {
    let stop = Stop::new();
    let (s, sd) = (stop.clone(), shutdown.clone());
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = sd.wait() => {
                    s.request();
                    return;
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if let Some(session) = &session
                        && !session.may_mutate()
                    {
                        s.request_because(format!(
                            "not started: the lease on the state {} is no longer held",
                            session.url()
                        ));
                        return;
                    }
                }
            }
        }
    });
    (stop, task)
}

/// Renew the state lease every TTL/6 tick for the daemon's life, and wake the loop when it
/// was lost, so that this replica stands by (and polls) at once.
pub(super) fn spawn_renewer(
    session: Arc<Session>,
    status: http::Shared,
    triggers: Arc<Triggers>,
) -> tokio::task::JoinHandle<()> {
    let sixth: time::Duration = session.ttl() / 6;
    let tick = sixth.unsigned_abs().max(Duration::from_millis(200));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(tick).await;
            if session.held().is_none() {
                continue;
            }
            let _ = session.renew_if_due().await;
            if !session.may_mutate() {
                session.forget();
                status.lock().unwrap().leader = Some(false);
                tracing::warn!(state = %session.url(), "the state lease was lost; standing by");
                triggers.fire("lease lost");
            }
        }
    })
}
