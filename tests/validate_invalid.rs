//! Every rule of the file format has a file in `tests/data/invalid/` and its expected
//! diagnostics beside it (`NAME.expected`: `LINE:COL: path: message` lines, each followed by
//! its `  hint:` line when there is one). Loading must report exactly those, never panic; the
//! real binary must exit 1 and print them on stderr. Pathological inputs (10 MB, deep
//! nesting, alias bombs) are generated here and must end in a clear error.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use r2gitops::config::{self, Diagnostics};

fn invalid_dir() -> PathBuf {
    common::root().join("tests/data/invalid")
}

fn cases() -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = fs::read_dir(invalid_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    list.sort();
    list
}

/// The diagnostics without the file name: what the `.expected` files hold.
fn render(diagnostics: &Diagnostics) -> String {
    let mut out = String::new();
    for d in &diagnostics.0 {
        out.push_str(&d.located_message());
        out.push('\n');
        if let Some(hint) = &d.hint {
            out.push_str(&format!("  hint: {hint}\n"));
        }
    }
    out
}

fn r2gitops() -> Command {
    Command::new(env!("CARGO_BIN_EXE_r2gitops"))
}

#[test]
fn every_invalid_file_reports_exactly_its_expected_diagnostics() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} invalid files", cases.len());
    let mut failures = Vec::new();
    for path in &cases {
        let expected_path = path.with_extension("expected");
        let expected = fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let outcome = std::panic::catch_unwind(|| config::load(path));
        let result = match outcome {
            Ok(r) => r,
            Err(_) => {
                failures.push(format!("{}: load panicked", path.display()));
                continue;
            }
        };
        match result {
            Ok(_) => failures.push(format!("{}: accepted, expected errors", path.display())),
            Err(diagnostics) => {
                for d in &diagnostics.0 {
                    assert_eq!(d.file, path.display().to_string(), "file names the input");
                }
                let got = render(&diagnostics);
                if got != expected {
                    failures.push(format!(
                        "{}:\n--- expected\n{expected}--- got\n{got}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_binary_exits_1_and_prints_every_diagnostic_with_the_file_name_on_stderr() {
    let dir = invalid_dir();
    for path in cases() {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let out = r2gitops()
            .current_dir(&dir)
            .args(["validate", "-f", &name])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty(), "{name}: stdout {:?}", out.stdout);
        let stderr = String::from_utf8(out.stderr).unwrap();
        let expected = fs::read_to_string(path.with_extension("expected")).unwrap();
        for line in expected.lines() {
            let want = if line.starts_with("  hint: ") {
                line.to_string()
            } else {
                format!("{name}:{line}")
            };
            assert!(
                stderr.lines().any(|l| l == want),
                "{name}: missing line {want:?} in\n{stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn json_output_lists_every_diagnostic_with_its_fields() {
    let out = r2gitops()
        .current_dir(invalid_dir())
        .args([
            "validate",
            "--output",
            "json",
            "-f",
            "many-unknown-fields.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["file"], "many-unknown-fields.yaml");
    assert_eq!(report["valid"], false);
    assert!(report["buckets"].is_null());
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 6);
    assert_eq!(
        diagnostics[0],
        serde_json::json!({
            "file": "many-unknown-fields.yaml",
            "line": 2,
            "column": 1,
            "path": "setings",
            "message": "unknown field 'setings'",
            "hint": "did you mean 'settings'? fields here: account_id, buckets, settings, temporary_credentials, tokens, version",
        })
    );
    assert!(diagnostics[1]["hint"].is_null());
}

#[test]
fn a_missing_file_is_one_clear_error_and_exit_1() {
    let out = r2gitops()
        .args(["validate", "-f", "/nonexistent/r2gitops.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("/nonexistent/r2gitops.yaml: cannot read the file:"),
        "{stderr}"
    );
}

fn load_text(dir: &Path, name: &str, bytes: &[u8]) -> Result<config::Desired, Diagnostics> {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    config::load(&path)
}

#[test]
fn a_10_mb_file_is_refused_with_the_limit_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: 1\nbuckets:\n");
    let mut i = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!("  - name: bucket-{i:08}\n"));
        i += 1;
    }
    let err = load_text(dir.path(), "big.yaml", text.as_bytes()).unwrap_err();
    assert_eq!(err.len(), 1);
    let d = &err.0[0];
    assert_eq!((d.line, d.column), (0, 0));
    assert!(
        d.message.contains("the limit is 4194304 bytes"),
        "{}",
        d.message
    );

    let out = r2gitops()
        .args(["validate", "-f"])
        .arg(dir.path().join("big.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn deep_nesting_and_generated_alias_bombs_end_in_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "deep-flow.yaml",
            format!(
                "version: 1\nx: {}{}\n",
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
            "limit",
        ),
        (
            "deep-block.yaml",
            (0..200)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i * 2)))
                .collect::<String>(),
            "safety limits",
        ),
        (
            "bomb.yaml",
            {
                // 12 levels of 12 aliases: 12^12 nodes if expanded.
                let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x, x, x]\n");
                for i in 1..12 {
                    let refs = vec![format!("*a{}", i - 1); 12].join(", ");
                    s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
                }
                s
            },
            "aliases",
        ),
        (
            "many-anchors.yaml",
            {
                let mut s = String::from("version: 1\nlist:\n");
                for i in 0..5_000 {
                    s.push_str(&format!("  - &n{i} v\n"));
                }
                s
            },
            "safety limits",
        ),
    ];
    for (name, text, needle) in cases {
        let err = load_text(dir.path(), name, text.as_bytes()).expect_err(name);
        assert!(!err.is_empty(), "{name}");
        assert!(err.to_string().contains(needle), "{name}: {err}");
    }
}

#[test]
fn the_binary_prints_the_ok_line_and_exits_0_for_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, recipient) = common::age_keygen(dir.path(), "ops");
    let mut text = format!("version: 1\nsettings:\n  recipients: [\"{recipient}\"]\nbuckets:\n");
    for name in ["alpha", "bravo", "charlie"] {
        text.push_str(&format!("  - name: {name}\n"));
    }
    text.push_str("tokens:\n");
    for (i, access) in [
        "object-read",
        "object-read-write",
        "admin-read",
        "admin-read-write",
    ]
    .iter()
    .enumerate()
    {
        let buckets = if access.starts_with("object") {
            "    buckets: [alpha, bravo]\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "  - name: t{i}\n    access: {access}\n{buckets}    output: {{ file: t{i}.age, format: env }}\n"
        ));
    }
    fs::write(dir.path().join("r2gitops.yaml"), text).unwrap();
    // The default file is ./r2gitops.yaml; the line names the file as the user gave it.
    let out = r2gitops()
        .current_dir(dir.path())
        .arg("validate")
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env_remove("CLOUDFLARE_ACCOUNT_ID")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().next().unwrap_or_default(),
        "ok: r2gitops.yaml: 3 buckets, 4 tokens",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One list page of buckets and one of tokens, six passes an hour; the token watch
    // lists the token page every minute.
    assert_eq!(
        stdout.lines().nth(1).unwrap_or_default(),
        "cost: about 72 API calls an hour in the daemon at --interval 10m: 12 list pages (6 passes of 2), 0 configuration reads (0 every 1h), 0 renewals, 60 token watch pages (1 every 1m); 0.5% of Cloudflare's 14,400 an hour (1,200 per 5 minutes per user)"
    );
    assert_eq!(out.status.code(), Some(0));

    let out = r2gitops()
        .current_dir(dir.path())
        .args(["validate", "--output", "json", "-f", "./r2gitops.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report,
        serde_json::json!({"format_version": 1, "file": "./r2gitops.yaml", "valid": true,
                           "buckets": 3, "tokens": 4, "diagnostics": [], "warnings": [],
                           "cost": {"interval_seconds": 600, "calls_per_hour": 72,
                                    "list_pages_per_hour": 12, "config_reads_per_hour": 0,
                                    "renewals_per_hour": 0, "rotations_per_hour": 0, "config_resync_seconds": 3600,
                                    "token_watch_pages_per_hour": 60, "token_watch_seconds": 60,
                                    "percent_of_cloudflare_limit": 0.5}})
    );
}

#[test]
fn a_declared_expiry_that_has_passed_is_a_warning_and_still_valid() {
    let dir = tempfile::tempdir().unwrap();
    let (_, recipient) = common::age_keygen(dir.path(), "ops");
    let text = format!(
        "version: 1\nsettings:\n  recipients: [\"{recipient}\"]\nbuckets: [{{ name: media }}]\ntokens:\n  - name: old\n    access: object-read\n    buckets: [media]\n    expires_on: 2020-01-01T00:00:00Z\n    output: {{ file: old.age, format: env }}\n"
    );
    fs::write(dir.path().join("r2gitops.yaml"), text).unwrap();
    let out = r2gitops()
        .current_dir(dir.path())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: r2gitops.yaml:9:17: tokens[0].expires_on: the declared expiry has passed (2020-01-01T00:00:00Z): the token is blocked and nothing is sent for it\n  hint: declare a later expires_on, or remove the token\n"
    );
    let out = r2gitops()
        .current_dir(dir.path())
        .args(["validate", "--output", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["warnings"][0]["path"], "tokens[0].expires_on");
    assert_eq!(report["warnings"][0]["line"], 9);
}
