//! Process signals as inputs (STYLE.md: shutdown is an input, not a global). The first
//! SIGTERM or SIGINT calls `on_stop` (steps in flight finish, outputs included); a second
//! aborts at once with exit code 130. SIGHUP calls `on_hup` where one is given, and keeps
//! its default meaning otherwise.

use tokio::signal::unix::{SignalKind, signal};

pub type Callback = Box<dyn Fn() + Send + 'static>;

/// Listen for signals on the current tokio runtime for the rest of the process.
pub fn spawn(on_stop: Callback, on_hup: Option<Callback>) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = match on_hup {
        Some(f) => Some((signal(SignalKind::hangup())?, f)),
        None => None,
    };
    tokio::spawn(async move {
        let mut stops = 0;
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                Some(()) = async {
                    match hup.as_mut() {
                        Some((s, _)) => s.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    tracing::info!("SIGHUP: a pass starts now");
                    if let Some((_, f)) = &hup {
                        f();
                    }
                    continue;
                }
            }
            stops += 1;
            if stops == 1 {
                tracing::warn!(
                    "stop requested: finishing the steps in flight (signal again to abort)"
                );
                on_stop();
            } else {
                tracing::error!("aborted by a second signal");
                std::process::exit(130);
            }
        }
    });
    Ok(())
}
