//! The CLI contract: formats, colour, exit codes, the lock, bad files, progress, and errors
//! that say what and where.

use std::sync::Arc;

use serde_json::Value;

use crate::{TWO_OF_EACH, World, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reports_json_and_markdown_and_refuses_bad_files_and_a_second_writer() {
    let w = Arc::new(World::new().await);
    w.write(TWO_OF_EACH);

    // Colour only when asked (or on a terminal): a plan in a pipe or a file is plain, and
    // JSON and Markdown are never painted.
    let plain = w.run(&["reconcile", "--dry-run"]).await;
    assert!(!stdout(&plain).contains('\x1b'));
    let painted = w
        .run(&["--color", "always", "reconcile", "--dry-run"])
        .await;
    assert!(
        stdout(&painted).contains("\x1b[32m  + create bucket media (default)\x1b[0m\n"),
        "{:?}",
        stdout(&painted)
    );
    let md = w
        .run(&[
            "--color",
            "always",
            "reconcile",
            "--dry-run",
            "--output",
            "markdown",
        ])
        .await;
    assert!(!stdout(&md).contains('\x1b'));

    let json_plan = w.run(&["reconcile", "--dry-run", "--output", "json"]).await;
    assert_eq!(json_plan.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&json_plan.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["summary"]["create"], 4);
    assert_eq!(v["changes"][1]["jurisdiction"], "eu");
    assert_eq!(v["changes"][1]["location_hint"], "weur");
    assert_eq!(v["changes"][2]["kind"], "token");

    let md = w
        .run(&[
            "reconcile",
            "--dry-run",
            "--skip-outputs",
            "--output",
            "markdown",
        ])
        .await;
    assert_eq!(md.status.code(), Some(0));
    let text = stdout(&md);
    assert!(
        text.contains("```diff\n+ create bucket media (default)\n"),
        "{text}"
    );
    assert!(
        text.contains("--skip-outputs"),
        "says that outputs were skipped"
    );

    for (flag, why) in [
        ("--skip-outputs", "an apply that cannot see outputs"),
        ("--detailed-exitcode", "an apply has no such exit code"),
    ] {
        w.emu.reset_stats();
        let misuse = w.cli(&["reconcile", flag]);
        assert_eq!(
            misuse.status.code(),
            Some(64),
            "a usage error (EX_USAGE), never an apply"
        );
        let err = String::from_utf8_lossy(&misuse.stderr);
        assert!(
            err.contains(&format!("error: {flag} needs --dry-run: ")) && err.contains(why),
            "{err}"
        );
        assert!(
            err.contains("Usage: r2gitops reconcile [OPTIONS]") && !err.contains("--api-url"),
            "the usage line does not make --api-url look required: {err}"
        );
        assert_eq!(w.emu.stats().total, 0, "nothing was planned or applied");
    }

    // A second writer on the same inventory is refused, naming the holder.
    let desired = w.desired();
    let lock = r2gitops::state::lock::acquire(&desired.settings.state_file).unwrap();
    let second = w.run(&["reconcile"]).await;
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("another r2gitops (pid {})", std::process::id())),
        "{err}"
    );
    drop(lock);

    // An applied run in JSON carries the report.
    let applied = w.run(&["reconcile", "--output", "json"]).await;
    assert_eq!(applied.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&applied.stdout).unwrap();
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["report"]["tally"]["done"], 4);

    // A broken file: located diagnostics, exit 1, not one API call.
    w.emu.reset_stats();
    std::fs::write(
        w.file(),
        "version: 1\nbuckets:\n  - name: Bad_Name\ntokens: []\n",
    )
    .unwrap();
    let bad = w.run(&["reconcile"]).await;
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("r2gitops.yaml:3:"), "{err}");
    assert!(err.contains("nothing was planned or changed"), "{err}");
    assert_eq!(
        w.emu.stats().total,
        0,
        "a bad file never reaches Cloudflare"
    );
    assert_eq!(w.tokens_named("r2gitops:uploader").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_apply_on_a_terminal_shows_progress_and_a_pipe_does_not() {
    let w = Arc::new(World::new().await);
    w.emu.set_faults(cf_emulator::Faults {
        latency_ms: 20,
        ..Default::default()
    });
    let buckets: String = (0..25)
        .map(|i| format!("  - name: bulk-{i:02}\n"))
        .collect();
    let file = |extra: &str| {
        format!(
            "version: 1\nsettings: {{ recipients: [\"{{recipient}}\"] }}\nbuckets:\n{buckets}{extra}"
        )
    };
    w.write(&file(""));
    // A real terminal: `script` runs the binary on a pseudo-terminal.
    let cmd = w.r2gitops(&["reconcile"]);
    let mut line = String::from("exec");
    line.push_str(&format!(" '{}'", cmd.get_program().to_string_lossy()));
    for a in cmd.get_args() {
        line.push_str(&format!(" '{}'", a.to_string_lossy()));
    }
    let mut pty = std::process::Command::new("script");
    pty.args(["-q", "-e", "-c", &line, "/dev/null"]).env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            pty.env(k, v);
        }
    }
    let out = tokio::task::spawn_blocking(move || pty.output().unwrap())
        .await
        .unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{seen}");
    assert!(seen.contains("/25 steps, "), "{seen}");
    assert!(seen.contains(" in flight, ETA "), "{seen}");
    assert!(seen.contains("Apply complete: 25 done"), "{seen}");

    // As long an apply through a pipe: no progress line, only the plan and the report.
    let more: String = (25..50)
        .map(|i| format!("  - name: bulk-{i:02}\n"))
        .collect();
    w.write(&file(&more));
    let piped = w.run(&["reconcile"]).await;
    assert!(stdout(&piped).contains("Apply complete: 25 done"));
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("steps, "));
    assert!(!stdout(&piped).contains("steps, "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_account_errors_say_what_and_where_and_retries_show_progress() {
    let w = Arc::new(World::new().await);
    w.write(TWO_OF_EACH);
    // Nothing listens on port 1: refused, named with the URL, retried with progress.
    let w2 = w.clone();
    let refused = tokio::task::spawn_blocking(move || {
        w2.r2gitops(&["reconcile", "--dry-run"])
            .env("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:1/client/v4")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "cannot connect to the Cloudflare API at http://127.0.0.1:1/client/v4: connection refused"
        ),
        "{err}"
    );
    // 0.5 s plus up to 25 % jitter before the second attempt.
    let first = err
        .lines()
        .find(|l| l.contains("(attempt 2/4)"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        first.contains("verify the API token: connection refused; retrying in 0.5s")
            || first.contains("retrying in 0.6s"),
        "{first}"
    );
    assert!(err.contains("(attempt 4/4)"), "{err}");

    // Another account than the token's: Cloudflare answers 9109; the hint names the id
    // used and where it came from.
    let w2 = w.clone();
    let wrong = tokio::task::spawn_blocking(move || {
        w2.r2gitops(&["reconcile", "--dry-run"])
            .env("CLOUDFLARE_ACCOUNT_ID", "f".repeat(32))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "hint: the account id used was {} (from --account-id / CLOUDFLARE_ACCOUNT_ID)",
            "f".repeat(32)
        )),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(
            &w.r2gitops(&["reconcile", "--help"])
                .output()
                .unwrap()
                .stdout
        )
        .contains("CLOUDFLARE_ACCOUNT_ID"),
        "the help names the variable"
    );
}
