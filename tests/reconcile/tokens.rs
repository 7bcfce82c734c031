//! A token's output stays true: the crash window between create and write, a changed detail,
//! a roll in the dashboard.

use std::path::Path;
use std::sync::Arc;

use r2gitops::apply::{Applier, Stop};
use r2gitops::cloudflare::{ReadApi, WriteApi};
use r2gitops::config::Owner;
use r2gitops::plan::Step;
use r2gitops::reconcile::{Observe, Pass, Planned};
use r2gitops::secrets::OutputWriter;
use serde_json::Value;

use crate::common;
use crate::{TWO_OF_EACH, World, lines, stdout, walk};

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
