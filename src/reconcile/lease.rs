//! A one-shot apply's hold on the R2 state's lease.

use super::*;

/// A one-shot apply's hold on the state lease: renewed every TTL/3 in the background; a
/// renewal overdue, or the lease taken over, stops the apply before its next step.
/// Released at the end (and, dropped without `release`, left to expire).
pub(crate) struct Lease {
    session: std::sync::Arc<crate::state::r2::session::Session>,
    renewer: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Lease {
    pub(crate) async fn take(
        session: &std::sync::Arc<crate::state::r2::session::Session>,
        timeout: std::time::Duration,
        stop: &Stop,
    ) -> Result<Lease, InventoryError> {
        let holder = crate::state::r2::session::holder_name();
        let timeout = time::Duration::try_from(timeout).unwrap_or(time::Duration::MAX);
        session.take_lease(&holder, timeout).await?;
        let lease = Lease {
            session: session.clone(),
            renewer: std::sync::Mutex::new(None),
        };
        // From now on: planning a large account can take longer than the TTL.
        lease.watch(stop);
        Ok(lease)
    }

    /// Renew in the background; stop `stop` when the lease can no longer be used.
    fn watch(&self, stop: &Stop) {
        let (session, stop) = (self.session.clone(), stop.clone());
        let sixth: time::Duration = session.ttl() / 6;
        let tick = sixth
            .unsigned_abs()
            .max(std::time::Duration::from_millis(200));
        // The standing is watched beside the renewals, not after them: a renewal that
        // hangs must not keep the apply starting steps.
        let task = tokio::spawn(async move {
            let renewing = async {
                loop {
                    tokio::time::sleep(tick).await;
                    let _ = session.renew_if_due().await;
                }
            };
            let watching = async {
                while session.may_mutate() {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            };
            tokio::select! {
                _ = renewing => {}
                _ = watching => {}
            }
            stop.request_because(format!(
                "not started: the lease on the state {} was not renewed in time or was taken over",
                session.url()
            ));
        });
        *self.renewer.lock().unwrap() = Some(task);
    }

    pub(crate) async fn release(self) {
        if let Some(t) = self.renewer.lock().unwrap().take() {
            t.abort();
        }
        self.session.release().await;
    }
}
