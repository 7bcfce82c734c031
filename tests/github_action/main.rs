//! The composite GitHub Action (`action.yml`) run as the runner runs it, with no GitHub:
//! each step's `run:` under `bash --noprofile --norc -eo pipefail`, its `env:` evaluated,
//! and the runner's files (`GITHUB_OUTPUT`, `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`, the tool
//! cache). A loopback server plays the release download (a real archive of
//! `scripts/release.sh` and its `SHA256SUMS`) and GitHub's REST API for issue comments,
//! recording every request; the plan comes from the bundled emulator.
//!
//! The archive packs this test build's binary (`release.sh --binary`), or, with
//! R2GITOPS_TEST_RELEASE_DIR set, the static release archive found there (`.ci/run` does
//! that after building it).

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

mod comments;
mod refusals;
mod runner;
mod server;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TOKEN: &str = "ghs_test-token-of-the-job";
const REPOSITORY: &str = "example-org/r2gitops";

/// The release directory the server serves: an archive and its SHA256SUMS.
fn release_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("R2GITOPS_TEST_RELEASE_DIR") {
            return PathBuf::from(dir);
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("action-release");
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("bash")
            .arg(common::root().join("scripts/release.sh"))
            .args(["--binary", env!("CARGO_BIN_EXE_r2gitops"), VERSION])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "release.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .clone()
}

fn archive_name() -> String {
    let sums = std::fs::read_to_string(release_dir().join("SHA256SUMS")).unwrap();
    sums.lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .find(|n| n.contains("x86_64-unknown-linux"))
        .expect("an x86_64 Linux archive in SHA256SUMS")
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

const FILE: &str = r#"
version: 1
settings:
  recipients: ["{recipient}"]
buckets:
  - name: media
tokens:
  - name: uploader
    access: object-read-write
    buckets: [media]
    output: { file: uploader.env.age, format: env }
  - name: contractor
    access: object-read
    buckets: [media]
    expires_on: "2020-01-01T00:00:00Z"
    output: { file: contractor.env.age, format: env }
"#;

fn marker(file: &str) -> String {
    format!("<!-- r2gitops:plan:{file} -->")
}
