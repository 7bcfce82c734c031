//! The desired-state file as an attack surface, through the real binary against the
//! emulator: whoever can commit to the file (and to what it names) cannot make r2gitops print
//! a secret, run out of memory, hang, or write or delete outside `output_dir`. Each test is
//! named after the behaviour and failed before its fix.

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Sandbox;

mod input;
mod output_dir;
mod paths;

const ONE_TOKEN: &str = r#"version: 1
settings:
  recipients: ["{recipient}"]
buckets: [{ name: media }]
tokens:
  - { name: t, access: object-read, buckets: [media], output: { file: t.env.age, format: env } }
"#;

/// Run a prepared command off the async runtime (the emulator lives on it).
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Run with a time limit: a hang is a failure, not a stuck test run.
async fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());
    match tokio::time::timeout(limit, waiter).await {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("still running after {limit:?}: it hangs");
        }
    }
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
}

/// Token creations and rolls the emulator has seen.
fn creates_and_rolls(s: &Sandbox) -> (u64, u64) {
    let stats = s.emu.stats();
    let n = |route: &str| stats.by_route.get(route).copied().unwrap_or(0);
    (
        n("POST /accounts/:id/tokens"),
        n("PUT /accounts/:id/tokens/:token_id/value"),
    )
}

async fn until<F: Fn() -> bool>(limit: Duration, what: &str, check: F) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
