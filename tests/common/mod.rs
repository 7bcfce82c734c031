//! The one harness shared by the integration tests: where the real third-party clients are,
//! and helpers to start the emulator and make keys. Each test file does `mod common;`.
//! Append helpers here; do not change the meaning of existing ones.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv python made by `scripts/setup-test-tools.sh` (override: R2GITOPS_TEST_PYTHON).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("R2GITOPS_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/setup-test-tools.sh` first",
        p.display()
    );
    p
}

/// A command for a tool installed on PATH by `scripts/setup-test-tools.sh` (age, rclone, ...).
/// AWS_CA_BUNDLE is removed: this machine exports it and it breaks rclone even over http.
pub fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not on PATH: run `bash scripts/setup-test-tools.sh` first"
    );
    let mut cmd = Command::new(name);
    cmd.env_remove("AWS_CA_BUNDLE");
    cmd
}

/// A fresh age X25519 identity from the real `age-keygen`: (identity file, public recipient).
pub fn age_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.key"));
    let out = tool("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("run age-keygen");
    assert!(out.status.success(), "age-keygen failed: {:?}", out);
    let text = std::fs::read_to_string(&path).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string();
    (path, public)
}

/// Decrypt an age file with the real `age` CLI.
pub fn age_decrypt(identity: &Path, file: &Path) -> Vec<u8> {
    let out = tool("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .expect("run age");
    assert!(
        out.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
