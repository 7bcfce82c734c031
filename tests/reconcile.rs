//! `r2gitops reconcile` against the emulator: from empty to converged and idempotent, drift
//! corrected, deletions guarded, the crash window between create and write recovered, and
//! the CLI contract (exit codes, formats, the lock, bad files). Credentials are proven with
//! the real `age` CLI and boto3.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use r2gitops::apply::{Applier, Outcome, Stop};
use r2gitops::cloudflare::{Client, ReadApi, WriteApi, WriteClient};
use r2gitops::config::{Desired, Jurisdiction, Owner, StorageClass};
use r2gitops::plan::{Plan, Step};
use r2gitops::reconcile;
use r2gitops::reconcile::{Observe, Pass, Planned, Run};
use r2gitops::secrets::{OutputWriter, S3Endpoints};
use serde_json::{Value, json};

struct World(common::Sandbox);

impl std::ops::Deref for World {
    type Target = common::Sandbox;
    fn deref(&self) -> &common::Sandbox {
        &self.0
    }
}

impl World {
    async fn new() -> World {
        World(common::Sandbox::new().await)
    }

    fn endpoints(&self) -> S3Endpoints {
        S3Endpoints::from_args(&self.s3_pairs(), None).unwrap()
    }

    fn desired(&self) -> Desired {
        reconcile::load_desired(&self.file(), None, r2gitops::config::AdoptRolls::Refused).unwrap()
    }

    async fn client(&self) -> Client {
        common::admin_client(&self.emu).await
    }

    async fn admin(&self) -> WriteClient {
        self.client().await.into_writer()
    }

    /// Plan through the library (the code path the CLI and the daemon share).
    async fn plan(&self) -> Plan {
        let (desired, endpoints) = (self.desired(), self.endpoints());
        Pass::local(&desired, &endpoints)
            .plan(&self.client().await, Observe::default())
            .await
            .unwrap()
            .plan
    }

    /// One full pass through the library.
    async fn pass(&self) -> (Plan, r2gitops::apply::Report) {
        let desired = self.desired();
        let client = self.client().await;
        let endpoints = self.endpoints();
        let pass = Pass::local(&desired, &endpoints);
        let Planned { plan, inventory } = pass.plan(&client, Observe::default()).await.unwrap();
        let run = Run {
            concurrency: 4,
            stop: &Stop::new(),
            progress: None,
        };
        let report = pass.apply(client, &plan, inventory, run).await.report;
        (plan, report)
    }

    /// Run the real binary against the emulator (blocking: call from spawn_blocking).
    fn cli(&self, args: &[&str]) -> Output {
        let out = self.r2gitops(args).output().unwrap();
        eprintln!(
            "r2gitops {args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    async fn run(self: &Arc<Self>, args: &'static [&'static str]) -> Output {
        let w = self.clone();
        tokio::task::spawn_blocking(move || w.cli(args))
            .await
            .unwrap()
    }

    async fn tokens_named(&self, name: &str) -> Vec<String> {
        self.client()
            .await
            .list_tokens(Owner::Account)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.name == name)
            .map(|t| t.id)
            .collect()
    }

    /// Decrypt an env output with the real age CLI and check its credentials with boto3:
    /// put then get `key` in `bucket`.
    fn prove_env_output(&self, file: &str, bucket: &str, key: &str) {
        let plain = common::age_decrypt(&self.identity, &self.out().join(file));
        let vars = common::env_vars(&plain);
        let op = |op: &str| {
            json!({
                "endpoint": vars["AWS_ENDPOINT_URL"], "key_id": vars["AWS_ACCESS_KEY_ID"],
                "secret": vars["AWS_SECRET_ACCESS_KEY"], "op": op, "bucket": bucket,
                "key": key, "body": "hello from boto3",
            })
        };
        let results = common::s3_ops(&json!([op("put"), op("get")]));
        assert_eq!(results[0]["ok"], true, "put: {results}");
        assert_eq!(results[1]["body"], "hello from boto3", "get: {results}");
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn lines(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(r2gitops::plan::render::step_line)
        .collect()
}

const TWO_OF_EACH: &str = r#"
version: 1
settings:
  recipients: ["{recipient}"]
buckets:
  - name: media
  - name: logs
    jurisdiction: eu
    location_hint: weur
tokens:
  - name: uploader
    access: object-read-write
    buckets: [media]
    output: { file: uploader.env.age, format: env }
  - name: log-reader
    access: object-read
    buckets: [logs]
    output: { file: logs/reader.json.age, format: json }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_empty_apply_creates_everything_and_the_next_run_changes_nothing() {
    let w = Arc::new(World::new().await);
    w.write(TWO_OF_EACH);

    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(2), "pending changes");
    assert!(stdout(&dry).contains("+ create bucket logs (eu, weur)"));
    assert!(stdout(&dry).contains("Plan: 4 to create, 0 to update, 0 to roll, 0 to delete"));
    assert_eq!(w.emu.stats().mutating, 0, "a dry run never mutates");
    assert!(!w.out().exists(), "a dry run writes nothing");

    let apply = w.run(&["reconcile"]).await;
    assert_eq!(apply.status.code(), Some(0));
    assert!(stdout(&apply).contains("Apply complete: 4 done, 0 failed"));
    w.prove_env_output("uploader.env.age", "media", "first.txt");

    w.emu.reset_stats();
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "nothing pending");
    assert!(stdout(&again).contains("No changes. 4 unchanged."));
    let again = w.run(&["reconcile"]).await;
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        w.emu.stats().mutating,
        0,
        "a converged pass makes no mutating call"
    );
    assert_eq!(w.tokens_named("r2gitops:uploader").await.len(), 1);
    // The emulator answers policies in another order than they were sent (as Cloudflare
    // does): the passes above would have planned updates if order were compared.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_corrected_and_out_of_band_buckets_are_left_alone() {
    let w = Arc::new(World::new().await);
    w.write(TWO_OF_EACH);
    w.pass().await;
    let admin = w.admin().await;
    let tokens = admin.list_tokens(Owner::Account).await.unwrap();
    let uploader = tokens
        .iter()
        .find(|t| t.name == "r2gitops:uploader")
        .unwrap();
    let reader = tokens
        .iter()
        .find(|t| t.name == "r2gitops:log-reader")
        .unwrap();

    // Out of band: one token deleted, another widened, a bucket created. The widening is
    // made in a later second than r2gitops' own write, so that its `modified_on` shows it
    // (Cloudflare's has whole seconds): whether that happened used to depend on the clock.
    let next_second = 1_000_000_000 - time::OffsetDateTime::now_utc().nanosecond();
    tokio::time::sleep(std::time::Duration::from_nanos(
        u64::from(next_second) + 10_000_000,
    ))
    .await;
    admin
        .delete_token(Owner::Account, &uploader.id)
        .await
        .unwrap();
    let mut widened = reader.policies.clone();
    widened[0].resources.insert(
        format!(
            "com.cloudflare.edge.r2.bucket.{}_eu_stray",
            w.emu.account_id()
        ),
        r2gitops::observed::ResourceValue::Str("*".into()),
    );
    admin
        .update_token(
            Owner::Account,
            &reader.id,
            &r2gitops::observed::TokenRequest {
                name: reader.name.clone(),
                policies: widened,
                not_before: None,
                expires_on: None,
                condition: Default::default(),
                status: None,
            },
        )
        .await
        .unwrap();
    admin
        .create_bucket(Jurisdiction::Eu, "stray", None, StorageClass::Standard)
        .await
        .unwrap();

    let (plan, report) = w.pass().await;
    let planned = lines(&plan);
    assert_eq!(
        planned[..2],
        [
            "+ create token uploader (object-read-write on media) -> uploader.env.age".to_string(),
            "~ update token log-reader: buckets -stray, loses Workers R2 Storage Bucket Item Read on bucket stray (eu)".into(),
        ]
    );
    // A change elsewhere may have been a roll, which would leave the output dead: r2gitops
    // cannot tell an edit from a roll by `modified_on`, so it rolls (same key id).
    assert_eq!(planned.len(), 3, "{planned:?}");
    assert!(
        planned[2].starts_with("↻ roll token log-reader: changed outside r2gitops at "),
        "{planned:?}"
    );
    assert!(
        plan.orphans.is_empty(),
        "an unmanaged bucket is not reported"
    );
    assert!(!report.has_errors(), "{}", report.text());
    w.prove_env_output("uploader.env.age", "media", "after-drift.txt");

    let after = w.plan().await;
    assert!(after.steps.is_empty(), "{:?}", lines(&after));
    assert_eq!(
        w.tokens_named("r2gitops:log-reader").await,
        std::slice::from_ref(&reader.id),
        "updated in place: same id, same S3 key"
    );
    let eu = admin.list_buckets(Jurisdiction::Eu).await.unwrap();
    assert!(eu.iter().any(|b| b.name == "stray"), "left alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_are_guarded_and_protected_or_full_buckets_are_never_deleted() {
    let w = Arc::new(World::new().await);
    let buckets = r#"
buckets:
  - { name: anchor }
  - { name: keep-me }
  - { name: scratch, protect: false }
  - { name: full, protect: false }
"#;
    let tokens = r#"
tokens:
  - { name: a, access: object-read-write, buckets: [full], output: { file: a.env.age, format: env } }
  - { name: b, access: object-read, buckets: [keep-me], output: { file: b.env.age, format: env } }
  - { name: c, access: object-read, buckets: [scratch], output: { file: c.env.age, format: env } }
"#;
    let settings = |max: u32| {
        format!(
            "version: 1\nsettings: {{ recipients: [\"{{recipient}}\"], prune: true, max_deletions: {max} }}\n"
        )
    };
    w.write(&format!("{}{buckets}{tokens}", settings(2)));
    let (_, report) = w.pass().await;
    assert!(!report.has_errors(), "{}", report.text());
    w.prove_env_output("a.env.age", "full", "object.txt");

    // Every token removed: 3 deletions > max_deletions 2 -> refused, nothing touched.
    w.write(&format!("{}{buckets}", settings(2)));
    w.emu.reset_stats();
    let refused = w.run(&["reconcile"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stdout(&refused)
            .contains("Refused: the plan deletes 3 objects, more than settings.max_deletions (2)")
    );
    assert_eq!(w.emu.stats().mutating, 0);
    let dry = w.run(&["reconcile", "--dry-run"]).await;
    assert_eq!(dry.status.code(), Some(1), "a refused plan fails CI too");
    assert_eq!(w.tokens_named("r2gitops:a").await.len(), 1);

    // Only the anchor stays declared, with room for the deletions: the protected bucket is
    // only reported, the unprotected empty one is deleted, the unprotected one holding an
    // object is blocked (never emptied).
    w.write(&format!(
        "{}buckets:\n  - {{ name: anchor }}\n",
        settings(5)
    ));
    let (plan, report) = w.pass().await;
    let orphans: Vec<(&str, &str)> = plan
        .orphans
        .iter()
        .map(|o| (o.name.as_str(), o.reason.as_str()))
        .collect();
    assert_eq!(
        orphans,
        [(
            "keep-me",
            "no longer declared; kept because its last declaration had protect: true"
        )]
    );
    let outcome = |name: &str| {
        report
            .steps
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.outcome.clone())
            .unwrap_or_else(|| panic!("no step for {name}: {}", report.text()))
    };
    assert_eq!(outcome("scratch"), Outcome::Done);
    assert_eq!(outcome("a"), Outcome::Done, "tokens go first");
    // A pruned token's output held credentials that no longer work: it goes too, and the
    // plan said so.
    assert!(
        lines(&plan)
            .iter()
            .any(|l| l.starts_with("- delete token a (")
                && l.ends_with("no longer declared (prune); its output a.env.age is removed")),
        "{:?}",
        lines(&plan)
    );
    for f in ["a.env.age", "b.env.age", "c.env.age"] {
        assert!(!w.out().join(f).exists(), "{f} removed with its token");
    }
    assert_eq!(
        outcome("full"),
        Outcome::Blocked("it holds objects; r2gitops never empties a bucket".into())
    );
    let names: Vec<String> = w
        .admin()
        .await
        .list_buckets(Jurisdiction::Default)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["anchor", "full", "keep-me"]);
    assert!(w.tokens_named("r2gitops:a").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_only_blocked_items_is_pending_for_ci_not_in_sync() {
    let w = Arc::new(World::new().await);
    let file = |hint: &str| {
        format!(
            "version: 1\nsettings: {{ recipients: [\"{{recipient}}\"] }}\nbuckets: [{{ name: elsewhere, location_hint: {hint} }}]\n"
        )
    };
    w.write(&file("apac"));
    w.pass().await;
    let synced = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(synced.status.code(), Some(0));
    w.write(&file("weur"));
    let blocked = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(blocked.status.code(), Some(2), "blocked means pending");
    let text = stdout(&blocked);
    assert!(
        text.contains("! blocked bucket elsewhere: location is create-only (have apac, want weur)")
            && text.contains(
                "No changes can be applied, but Cloudflare does not match the file: 1 blocked, 0 unchanged."
            ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_created_but_never_written_is_rolled_and_never_duplicated() {
    let w = Arc::new(World::new().await);
    w.write(TWO_OF_EACH);
    let desired = w.desired();
    let client = w.client().await;
    let endpoints = w.endpoints();
    let Planned { plan, inventory } = Pass::local(&desired, &endpoints)
        .plan(&client, Observe::default())
        .await
        .unwrap();

    // Crash window 1: the create is answered, the process dies before the rename.
    let writer = OutputWriter::new(
        &desired.settings.output_dir,
        w.emu.account_id(),
        w.endpoints(),
    )
    .with_before_rename_hook(Arc::new(|_: &Path| {
        Err(std::io::Error::other("simulated crash before rename"))
    }));
    let api = client.into_writer();
    let (report, _) = Applier {
        api: &api,
        desired: &desired,
        writer: &writer,
        concurrency: 4,
        stop: &Stop::new(),
        progress: None,
    }
    .apply(&plan, inventory)
    .await;
    assert!(report.has_errors());
    assert!(!w.out().join("uploader.env.age").exists());
    let temps: Vec<_> = walk(&w.out())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".r2gitops-tmp-"))
        .collect();
    assert!(temps.is_empty(), "no temp file survives: {temps:?}");

    let next = w.plan().await;
    let rolls: Vec<String> = next
        .steps
        .iter()
        .map(r2gitops::plan::render::step_line)
        .collect();
    assert_eq!(
        rolls,
        [
            "↻ roll token uploader: no record of its output (a new or lost inventory, or an interrupted write); any secret in use stops working",
            "↻ roll token log-reader: no record of its output (a new or lost inventory, or an interrupted write); any secret in use stops working",
        ]
    );
    let (_, report) = w.pass().await;
    assert!(!report.has_errors(), "{}", report.text());
    w.prove_env_output("uploader.env.age", "media", "after-crash.txt");

    // Crash window 2: created twice and the inventory lost (two crashed runs in a row).
    // Cloudflare's issued_on is to the second: the duplicate must be younger by at least
    // one for "the oldest is kept" to have a defined answer (else ids break the tie).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let admin = w.admin().await;
    let kept = w.tokens_named("r2gitops:uploader").await;
    let policy = admin
        .list_tokens(Owner::Account)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == kept[0])
        .unwrap()
        .policies;
    admin
        .create_token(
            Owner::Account,
            &r2gitops::observed::TokenRequest {
                name: "r2gitops:uploader".into(),
                policies: policy,
                not_before: None,
                expires_on: None,
                condition: Default::default(),
                status: None,
            },
        )
        .await
        .unwrap();
    std::fs::remove_file(w.out().join(".r2gitops-state.json")).unwrap();
    let (plan, report) = w.pass().await;
    assert!(!report.has_errors(), "{}", report.text());
    assert_eq!(plan.deletions(), 1, "{:?}", lines(&plan));
    assert!(
        plan.steps
            .iter()
            .any(|s| matches!(s, Step::DeleteToken { .. }))
    );
    // The oldest is kept, and (its output unknown with the inventory lost) rotated: it
    // keeps working through the overlap beside exactly one new key.
    let now = w.tokens_named("r2gitops:uploader").await;
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.contains(&kept[0]), "the oldest kept: {now:?}");
    let inv: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(w.out().join(".r2gitops-state.json")).unwrap(),
    )
    .unwrap();
    assert!(
        inv["retiring"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["token"] == "uploader" && r["id"] == kept[0].as_str()),
        "{inv}"
    );
    w.prove_env_output("uploader.env.age", "media", "after-duplicates.txt");
    assert!(w.plan().await.steps.is_empty());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

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
async fn no_secret_reaches_the_plan_the_report_the_logs_or_the_inventory() {
    use sha2::{Digest, Sha256};
    let w = Arc::new(World::new().await);
    w.write(
        r#"
version: 1
settings: { recipients: ["{recipient}"] }
buckets: [{ name: media }]
tokens:
  - name: wrangler
    access: object-read-write
    buckets: [media]
    rotate_every: 1h
    output: { file: wrangler.env.age, format: env, include_api_token: true }
"#,
    );
    let first = w
        .run(&["--log-format", "json", "reconcile", "--output", "json"])
        .await;
    assert_eq!(first.status.code(), Some(0));
    let value_1 = common::env_vars(&common::age_decrypt(
        &w.identity,
        &w.out().join("wrangler.env.age"),
    ))["CLOUDFLARE_API_TOKEN"]
        .clone();
    // Force a rotation (the output vanished) so that a second value passes through too, at
    // trace.
    std::fs::remove_file(w.out().join("wrangler.env.age")).unwrap();
    let w2 = w.clone();
    let second = tokio::task::spawn_blocking(move || {
        w2.r2gitops(&["reconcile"])
            .env("RUST_LOG", "trace")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(second.status.code(), Some(0));
    assert!(stdout(&second).contains("± rotate token wrangler: output file missing"));
    let value_2 = common::env_vars(&common::age_decrypt(
        &w.identity,
        &w.out().join("wrangler.env.age"),
    ))["CLOUDFLARE_API_TOKEN"]
        .clone();
    assert_ne!(value_1, value_2);

    let mut haystack = Vec::new();
    for o in [&first, &second] {
        haystack.extend_from_slice(&o.stdout);
        haystack.extend_from_slice(&o.stderr);
    }
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("TRACE"),
        "trace logging ran"
    );
    for f in walk(&w.out()) {
        haystack.extend_from_slice(&std::fs::read(f).unwrap());
    }
    let haystack = String::from_utf8_lossy(&haystack);
    let mut secrets = vec![w.emu.admin_token().to_string()];
    for v in [&value_1, &value_2] {
        secrets.push(v.clone());
        secrets.push(hex::encode(Sha256::digest(v.as_bytes())));
    }
    for s in &secrets {
        assert!(!haystack.contains(s.as_str()), "a secret leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_output_shows_never_goes_stale_a_changed_detail_rolls_it() {
    // Rolled in place (overlap 0): a rotation proves its new key at the endpoint the file
    // names, and 127.0.0.1:1 answers nothing (tests/rotation.rs covers rotations).
    let w = Arc::new(World::new().await);
    let file = |j: &str| {
        format!(
            r#"
version: 1
settings: {{ recipients: ["{{recipient}}"], rotation_overlap: 0 }}
buckets: [{{ name: media }}, {{ name: logs }}]
tokens:
  - name: app
    access: object-read-write
    buckets: [media]
    output: {{ file: app.env.age, format: env }}
  - name: admin
    access: admin-read
    jurisdiction: {j}
    output: {{ file: admin.json.age, format: json }}
"#
        )
    };
    w.write(&file("eu"));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let env_of = |f: &str| common::env_vars(&common::age_decrypt(&w.identity, &w.out().join(f)));
    let first = env_of("app.env.age");

    // Case 1: the S3 endpoint changes (another --s3-endpoint): the files name the old one.
    let w2 = w.clone();
    let moved = tokio::task::spawn_blocking(move || {
        w2.cli(&[
            "reconcile",
            "--dry-run",
            "--detailed-exitcode",
            "--s3-endpoint",
            "default=http://127.0.0.1:1",
        ])
    })
    .await
    .unwrap();
    assert_eq!(moved.status.code(), Some(2));
    assert!(
        stdout(&moved).contains(&format!(
            "↻ roll token app: output endpoint changed ({}→http://127.0.0.1:1)",
            first["AWS_ENDPOINT_URL"]
        )),
        "{}",
        stdout(&moved)
    );
    let w2 = w.clone();
    let applied = tokio::task::spawn_blocking(move || {
        w2.cli(&["reconcile", "--s3-endpoint", "default=http://127.0.0.1:1"])
    })
    .await
    .unwrap();
    assert_eq!(applied.status.code(), Some(0));
    let after = env_of("app.env.age");
    assert_eq!(after["AWS_ENDPOINT_URL"], "http://127.0.0.1:1");
    assert_eq!(
        after["AWS_ACCESS_KEY_ID"], first["AWS_ACCESS_KEY_ID"],
        "a roll: same key id"
    );
    assert_ne!(
        after["AWS_SECRET_ACCESS_KEY"],
        first["AWS_SECRET_ACCESS_KEY"]
    );

    // Back to the emulator's endpoint; then the same for a jurisdiction change.
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    w.prove_env_output("app.env.age", "media", "back.txt");
    w.write(&file("us"));
    let dry = w.run(&["reconcile", "--dry-run"]).await;
    let eu = &w.emu.s3_urls()["eu"];
    let us = &w.emu.s3_urls()["us"];
    assert!(
        stdout(&dry).contains(&format!(
            "↻ roll token admin: output endpoint changed ({eu}→{us}) and jurisdiction changed (eu→us)"
        )),
        "{}",
        stdout(&dry)
    );
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&common::age_decrypt(
        &w.identity,
        &w.out().join("admin.json.age"),
    ))
    .unwrap();
    assert_eq!(
        (json["jurisdiction"].as_str(), json["endpoint"].as_str()),
        (Some("us"), Some(us.as_str()))
    );

    // Case 2: a bucket-list edit is an update in place; the file shows no bucket list, so
    // nothing goes stale and no secret rotates.
    let before = std::fs::read(w.out().join("app.env.age")).unwrap();
    w.write(&file("us").replace("buckets: [media]", "buckets: [media, logs]"));
    let edit = w.run(&["reconcile"]).await;
    assert!(
        stdout(&edit).contains("~ update token app: buckets +logs"),
        "{}",
        stdout(&edit)
    );
    assert!(!stdout(&edit).contains("↻ roll"), "{}", stdout(&edit));
    assert_eq!(std::fs::read(w.out().join("app.env.age")).unwrap(), before);
    assert!(!env_of("app.env.age").contains_key("R2_BUCKETS"));
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rolled_in_the_dashboard_is_rolled_again_so_its_file_works() {
    let w = Arc::new(World::new().await);
    w.write(TWO_OF_EACH);
    let (_, report) = w.pass().await;
    assert!(!report.has_errors(), "{}", report.text());
    // Cloudflare's modified_on is to the second: the dashboard click comes later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let id = w.tokens_named("r2gitops:uploader").await[0].clone();
    let dead = w
        .admin()
        .await
        .roll_token(Owner::Account, &id)
        .await
        .unwrap();
    drop(dead);
    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(2));
    assert!(
        stdout(&dry).contains("↻ roll token uploader: changed outside r2gitops at "),
        "{}",
        stdout(&dry)
    );
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    w.prove_env_output("uploader.env.age", "media", "after-dashboard-roll.txt");
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_step_is_shown_once_by_the_report_and_never_logged_at_info() {
    let w = Arc::new(World::new().await);
    w.write(
        r#"
version: 1
settings: { recipients: ["{recipient}"] }
buckets: [{ name: media }]
tokens:
  - { name: reader, access: object-read, buckets: [media], ip: { allow: [10.0.0.0/8] }, output: { file: reader.env.age, format: env } }
"#,
    );
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0));
    let report = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    for line in ["+ create bucket media", "+ create token reader"] {
        assert_eq!(report.matches(line).count(), 2, "plan and report: {report}");
        assert!(!log.contains(line), "logged too: {log}");
    }
    // Which key Cloudflare keeps IP conditions under is internal detail: debug only.
    assert!(!log.contains("IP conditions"), "{log}");

    // The daemon prints no report: its log has one line per step.
    w.write(
        r#"
version: 1
settings: { recipients: ["{recipient}"] }
buckets: [{ name: media }, { name: logs }]
"#,
    );
    let d = common::Watch::spawn(w.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "10m",
    ]));
    common::until(
        Duration::from_secs(10),
        "the daemon creates logs",
        || async { d.log().contains("+ create bucket logs") },
    )
    .await;
    assert_eq!(
        d.log().matches("+ create bucket logs").count(),
        1,
        "{}",
        d.log()
    );
}
