//! "Apply what was reviewed": the plan id of `reconcile --dry-run` (plan_id in JSON, the
//! `Plan id:` line of text and Markdown) and `reconcile --expect-plan ID`, through the real
//! binary against the emulator, in the order a pull request and its merge run them.

mod common;

use std::process::Output;

use serde_json::Value;

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
"#;

fn run(s: &common::Sandbox, args: &[&str]) -> Output {
    let out = s.r2gitops(args).output().unwrap();
    eprintln!(
        "r2gitops {args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The plan id of a dry run, as a CI job would read it from `--output json`.
fn reviewed_id(s: &common::Sandbox, extra: &[&str]) -> String {
    let mut args = vec!["reconcile", "--dry-run", "--output", "json"];
    args.extend_from_slice(extra);
    let out = run(s, &args);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["plan_id"]
        .as_str()
        .expect("plan_id in the JSON")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reviewed_plan_applies_with_its_id_in_every_format() {
    let s = common::Sandbox::new().await;
    s.write(FILE);
    // The pull request's plan: a CI machine without the outputs (--skip-outputs).
    let id = reviewed_id(&s, &["--skip-outputs"]);
    assert_eq!(id.len(), 64);
    // The same id in another process, and where outputs are examined (none exist yet: a
    // first create does not depend on them), in text and in Markdown.
    assert_eq!(reviewed_id(&s, &[]), id);
    let text = stdout(&run(&s, &["reconcile", "--dry-run"]));
    assert!(text.contains(&format!("\nPlan id: {id}\n")), "{text}");
    let md = stdout(&run(
        &s,
        &["reconcile", "--dry-run", "--output", "markdown"],
    ));
    assert!(md.contains(&format!("\nPlan id: `{id}`\n")), "{md}");
    assert_eq!(s.emu.stats().mutating, 0);

    // The merge's apply, guarded by the reviewed id.
    let apply = run(&s, &["reconcile", "--expect-plan", &id]);
    assert_eq!(apply.status.code(), Some(0));
    assert!(stdout(&apply).contains("Apply complete: 2 done, 0 failed"));
    assert!(s.out().join("uploader.env.age").exists());
    // Converged: the empty plan has an id of its own.
    assert_ne!(reviewed_id(&s, &[]), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_after_review_makes_the_apply_refuse_with_no_mutating_call() {
    let s = common::Sandbox::new().await;
    s.write(FILE);
    let id = reviewed_id(&s, &["--skip-outputs"]);
    // Someone pushes another change after the review.
    s.write(&FILE.replace("  - name: media\n", "  - name: media\n  - name: extra\n"));
    s.emu.reset_stats();

    let apply = run(&s, &["reconcile", "--expect-plan", &id]);
    assert_eq!(apply.status.code(), Some(1));
    assert_eq!(
        s.emu.stats().mutating,
        0,
        "a plan other than the reviewed one changes nothing"
    );
    let stderr = String::from_utf8_lossy(&apply.stderr);
    let now = reviewed_id(&s, &[]);
    assert!(
        stderr.contains(&format!(
            "error: the plan changed since review: the reviewed plan was {id}, this one is {now}; nothing was changed"
        )),
        "{stderr}"
    );
    // The plan it is now is shown, so that the operator sees what changed.
    assert!(stdout(&apply).contains("+ create bucket extra (default)"));
    assert!(
        !s.out().join("uploader.env.age").exists(),
        "no output was written"
    );

    // The same guard in a dry run, and an id that is no id at all is a usage error.
    let dry = run(&s, &["reconcile", "--dry-run", "--expect-plan", &id]);
    assert_eq!(dry.status.code(), Some(1));
    let bad = run(&s, &["reconcile", "--expect-plan", "latest"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("'latest' is not a plan id"));
    assert_eq!(s.emu.stats().mutating, 0);

    // Reviewing the new plan and applying it with its id goes through.
    let apply = run(&s, &["reconcile", "--expect-plan", &now]);
    assert_eq!(apply.status.code(), Some(0));
}
