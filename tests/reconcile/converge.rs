//! From empty to converged and idempotent, drift corrected, deletions guarded, and a plan
//! that only blocks.

use std::sync::Arc;

use r2gitops::apply::Outcome;
use r2gitops::cloudflare::{ReadApi, WriteApi};
use r2gitops::config::{Jurisdiction, Owner, StorageClass};

use crate::{TWO_OF_EACH, World, lines, stdout};

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
