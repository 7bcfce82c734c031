//! `cargo run --example quickstart` passes: S3 put/get proof, then an idempotent second pass.

use std::process::Command;

#[test]
fn the_quickstart_example_runs_clean() {
    // Through cargo rather than a prebuilt binary: `cargo test --test quickstart` does not
    // build examples, and a stale binary would prove old code. Cargo rebuilds it if needed.
    let out = Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "--example",
            "quickstart",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the quickstart failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for want in [
        "put/get ok: s3://media-uploads/quickstart/hello.txt round-tripped",
        "No changes. 2 unchanged.",
        "mutating API calls in this pass: 0",
        "All checks passed.",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    assert!(
        stdout.contains("AWS_SECRET_ACCESS_KEY= <redacted>"),
        "the secret must be shown redacted:\n{stdout}"
    );
    // An S3 secret access key is 64 hex characters (a SHA-256); none may be printed.
    let leaked = stdout
        .split(|c: char| !c.is_ascii_hexdigit())
        .any(|word| word.len() >= 64);
    assert!(!leaked, "a secret-like hex string was printed:\n{stdout}");
}
