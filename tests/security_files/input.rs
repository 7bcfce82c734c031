//! The desired-state file as an attack: a recipients file naming a token, 4 MiB of errors, a
//! FIFO or a device.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::time::Duration;

use common::output::text;
use common::{Sandbox, Watch};

use crate::common;
use crate::{ONE_TOKEN, mkfifo, run, run_within, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipients_file_naming_a_token_never_prints_it_in_validate_the_log_or_status() {
    let s = Sandbox::new().await;
    let token = common::cloudflare_like_token();
    let outside = tempfile::tempdir().unwrap();
    let token_file = outside.path().join("api-token");
    fs::write(&token_file, format!("{token}\n")).unwrap();
    fs::set_permissions(&token_file, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(s.dir.path().join("copied.txt"), format!("{token}\n")).unwrap();
    symlink(outside.path(), s.dir.path().join("keys")).unwrap();
    let yaml = |file: &str| {
        ONE_TOKEN.replace(
            "  recipients: [\"{recipient}\"]\n",
            &format!("  recipients_file: {file}\n"),
        )
    };
    let absolute = token_file.display().to_string();
    let cases = [
        (absolute.as_str(), "is an absolute path"),
        (
            "copied.txt",
            "copied.txt line 1: not an age or SSH public key (text not shown)",
        ),
        (
            "keys/api-token",
            "leads out of the directory of this file through the symlink 'keys' -> ",
        ),
    ];
    for (file, want) in cases {
        s.write(&yaml(file));
        for format in ["text", "json"] {
            let out = run(s.r2gitops(&["validate", "--output", format])).await;
            let shown = text(&out);
            assert_eq!(out.status.code(), Some(1), "{file} {format}: {shown}");
            assert!(shown.contains(want), "{file} {format}: {shown}");
            assert!(!shown.contains(&token), "{file} {format}: the token leaked");
        }
    }

    // The reported reproduction: the daemon's own --api-token-file, then a copy in the tree.
    s.write(&yaml(&absolute));
    let mut cmd = s.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--debounce",
        "100ms",
        "--api-token-file",
        &absolute,
    ]);
    cmd.env_remove("CLOUDFLARE_API_TOKEN")
        .env("RUST_LOG", "trace");
    let d = Watch::spawn(cmd);
    for (file, want) in [cases[0], cases[1]] {
        s.write(&yaml(file));
        until(Duration::from_secs(10), "config_errors", || {
            d.get("/status").1.contains(want)
        })
        .await;
        let status = d.get("/status").1;
        assert!(!status.contains(&token), "/status leaked the token");
        let log = d.log();
        assert!(
            log.lines().any(|l| l.contains("WARN") && l.contains(want)),
            "{log}"
        );
        assert!(!log.contains(&token), "the log leaked the token");
    }
}

/// 4 MiB (the largest file r2gitops reads) of buckets with two unknown fields each.
fn four_mib_of_errors() -> (String, usize) {
    let mut s = String::from("version: 1\nbuckets:\n");
    let item = "  - nme: a\n    storage_clas: x\n";
    let mut items = 0;
    while s.len() + item.len() <= 4 * 1024 * 1024 {
        s.push_str(item);
        items += 1;
    }
    // Each item: missing 'name', unknown 'nme', unknown 'storage_clas'.
    (s, items * 3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4_mib_file_of_errors_keeps_the_first_100_and_counts_the_rest() {
    let s = Sandbox::new().await;
    let (yaml, problems) = four_mib_of_errors();
    s.write(&yaml);
    let more = problems - 100;

    let out = run(s.r2gitops(&["validate"])).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let located = stderr
        .lines()
        .filter(|l| l.contains("r2gitops.yaml:") && !l.ends_with("problems found"))
        .count();
    assert_eq!(located, 100, "{}", &stderr[..stderr.len().min(2000)]);
    assert!(
        stderr.contains(&format!(
            "\n... and {more} more problems (only the first 100 are shown)\n"
        )),
        "{}",
        &stderr[stderr.len().saturating_sub(500)..]
    );
    assert!(stderr.ends_with(&format!("r2gitops.yaml: {problems} problems found\n")));
    assert!(
        stderr.len() < 64 * 1024,
        "{} bytes of diagnostics",
        stderr.len()
    );

    let out = run(s.r2gitops(&["validate", "--output", "json"])).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["diagnostics"].as_array().unwrap().len(), 100);
    assert_eq!(report["diagnostics_omitted"], more);
    assert!(out.stdout.len() < 64 * 1024, "{} bytes", out.stdout.len());

    let d = Watch::spawn(s.r2gitops(&["watch", "--listen", "127.0.0.1:0"]));
    until(Duration::from_secs(60), "config_errors", || {
        d.get("/status").1.contains("more problems")
    })
    .await;
    let body = d.get("/status").1;
    assert!(body.len() < 64 * 1024, "/status is {} bytes", body.len());
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let errors = status["config_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 101);
    assert_eq!(
        errors[100],
        format!("... and {more} more problems (only the first 100 are shown)")
    );
    let log = d.log();
    assert!(log.len() < 256 * 1024, "{} bytes of log", log.len());
    assert!(log.contains(&format!("problems={problems}")), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desired_state_file_that_is_a_fifo_or_a_device_is_refused_without_reading_it() {
    let s = Sandbox::new().await;
    mkfifo(&s.file());
    let out = run_within(s.r2gitops(&["validate"]), Duration::from_secs(20)).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("cannot read the file: not a regular file (a FIFO)"),
        "{}",
        text(&out)
    );

    // The daemon hashes the file for its revision: through a link to /dev/zero that read
    // never ended.
    fs::remove_file(s.file()).unwrap();
    symlink("/dev/zero", s.file()).unwrap();
    let d = Watch::spawn(s.r2gitops(&["watch", "--listen", "127.0.0.1:0"]));
    until(
        Duration::from_secs(10),
        "the daemon reports the file",
        || {
            d.get("/status")
                .1
                .contains("not a regular file (a character device)")
        },
    )
    .await;
    let status: serde_json::Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(status["config_valid"], false);
    assert!(status["file_revision"].is_null(), "{status}");
}
