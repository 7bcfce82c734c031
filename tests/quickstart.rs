//! `cargo run --example quickstart` passes: S3 put/get proof, then an idempotent second pass.

mod common;

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
    // An S3 secret access key is 64 hex characters (a SHA-256); none may be printed. A
    // plan's id is a SHA-256 too, of the plan (which holds no secret): its line is skipped.
    let leaked = stdout
        .lines()
        .filter(|l| !l.trim_start().starts_with("Plan id: "))
        .flat_map(|l| l.split(|c: char| !c.is_ascii_hexdigit()))
        .any(|word| word.len() >= 64);
    assert!(!leaked, "a secret-like hex string was printed:\n{stdout}");
}

#[test]
fn keep_leaves_what_it_wrote_for_a_look_and_the_age_cli_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("kept");
    let out = Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "--example",
            "quickstart",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--")
        .arg("--keep")
        .arg(&keep)
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keep = keep.canonicalize().unwrap();
    assert!(
        stdout.contains(&format!("Kept in {}", keep.display())),
        "the path is printed at the end:\n{stdout}"
    );
    for f in [
        "quickstart.yaml",
        "quickstart.key",
        "secrets/.r2gitops-state.json",
    ] {
        assert!(keep.join(f).is_file(), "{f} kept");
    }
    let plain = common::age_decrypt(
        &keep.join("quickstart.key"),
        &keep.join("secrets/uploader.env.age"),
    );
    assert!(String::from_utf8_lossy(&plain).contains("AWS_ACCESS_KEY_ID="));
}
