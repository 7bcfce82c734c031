//! One inventory in R2 shared by runners with no shared disk: a second runner, a migration
//! from local and back, adopt and import that read and record it.

use std::process::Output;
use std::sync::Arc;

use common::output::{run, text};
use r2gitops::cloudflare::WriteApi;
use r2gitops::config::{Jurisdiction, Owner, StorageClass};
use r2gitops::observed::{Effect, Policy, ResourceValue};
use serde_json::{Value, json};

use crate::common;
use crate::{KEY, STATE, World, copy_outputs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ci_runner_with_no_shared_disk_reads_the_inventory_from_r2_and_rolls_nothing() {
    let w = Arc::new(World::new().await);
    let (a, b, c) = (w.runner("a"), w.runner("b"), w.runner("c"));
    let w2 = w.clone();
    let (first, b2) = (a.clone(), b.clone());
    let (applied, second) = tokio::task::spawn_blocking(move || {
        let applied = run(w2.cmd(&first, &["reconcile", "--state", STATE]));
        copy_outputs(&first, &b2);
        w2.sb.emu.reset_stats();
        let second = run(w2.cmd(&b2, &["reconcile", "--state", STATE]));
        (applied, second)
    })
    .await
    .unwrap();
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert!(text(&applied).contains("Apply complete: 3 done, 0 failed"));
    assert!(
        !a.join("secrets/.r2gitops-state.json").exists(),
        "with --state the inventory is not a local file"
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(text(&second).contains("No changes."), "{}", text(&second));
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "the second runner makes no mutating call"
    );
    assert_eq!(w.tokens_named("r2gitops:uploader").await, 1);

    // The same checkout without the shared inventory would re-key every token (a rotation
    // with the default overlap: r2gitops cannot know the outputs hold the live values): the
    // reason --state exists (a dry run, so that it changes nothing).
    let w3 = w.clone();
    let (a3, c3) = (a.clone(), c.clone());
    let local = tokio::task::spawn_blocking(move || {
        copy_outputs(&a3, &c3);
        run(w3.cmd(&c3, &["reconcile", "--dry-run"]))
    })
    .await
    .unwrap();
    assert!(
        text(&local).contains("± rotate token uploader: no record of its output"),
        "without the shared inventory: {}",
        text(&local)
    );

    // What R2 holds: the inventory (its tokens by name) and no lease left behind.
    let got =
        w.s3(json!([{"op": "get", "key": KEY}, {"op": "get", "key": format!("{KEY}.lease")}]));
    let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["r2gitops_state"], 1);
    assert!(doc["epoch"].as_u64().unwrap() >= 1);
    assert!(
        doc["inventory"]["tokens"]["uploader"]["id"].is_string(),
        "{doc}"
    );
    assert_eq!(
        got[1]["error"], "NoSuchKey",
        "the lease is released at exit"
    );
}

fn plan_id(o: &Output) -> String {
    text(o)
        .lines()
        .find_map(|l| l.strip_prefix("Plan id: "))
        .unwrap_or_else(|| panic!("no plan id: {}", text(o)))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_local_to_r2_and_back_keeps_the_inventory_and_the_plan() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let w2 = w.clone();
    let a2 = a.clone();
    let outs = tokio::task::spawn_blocking(move || {
        let applied = run(w2.cmd(&a2, &["reconcile"]));
        w2.sb.emu.reset_stats();
        let local_plan = run(w2.cmd(&a2, &["reconcile", "--dry-run"]));
        let to_r2 = run(w2.cmd(&a2, &["state", "migrate", "--to", STATE]));
        let show = run(w2.cmd(&a2, &["state", "show", "--state", STATE]));
        let r2_plan = run(w2.cmd(&a2, &["reconcile", "--dry-run", "--state", STATE]));
        let again = run(w2.cmd(&a2, &["state", "migrate", "--to", STATE]));
        let back = a2.join("back.json");
        let to_local = run(w2.cmd(
            &a2,
            &[
                "state",
                "migrate",
                "--state",
                STATE,
                "--to",
                back.to_str().unwrap(),
            ],
        ));
        [applied, local_plan, to_r2, show, r2_plan, again, to_local]
    })
    .await
    .unwrap();
    let [applied, local_plan, to_r2, show, r2_plan, again, to_local] = outs;
    assert_eq!(applied.status.code(), Some(0));
    let original: Value =
        serde_json::from_slice(&std::fs::read(a.join("secrets/.r2gitops-state.json")).unwrap())
            .unwrap();
    assert!(original["tokens"]["uploader"]["output"].is_object());
    assert_eq!(to_r2.status.code(), Some(0), "{}", text(&to_r2));
    assert!(text(&to_r2).contains("migrated the inventory (2 tokens, 1 buckets"));
    assert_eq!(show.status.code(), Some(0), "{}", text(&show));
    assert_eq!(
        serde_json::from_slice::<Value>(&show.stdout).unwrap(),
        original,
        "state show prints the inventory as R2 holds it"
    );
    assert!(text(&r2_plan).contains("No changes."), "{}", text(&r2_plan));
    assert_eq!(
        plan_id(&r2_plan),
        plan_id(&local_plan),
        "the plan is unchanged"
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("already holds an inventory; nothing was changed"));
    assert_eq!(to_local.status.code(), Some(0), "{}", text(&to_local));
    let back: Value = serde_json::from_slice(&std::fs::read(a.join("back.json")).unwrap()).unwrap();
    assert_eq!(back, original, "local -> R2 -> local keeps the inventory");
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "migration calls no Cloudflare API"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_with_state_takes_the_lease_and_records_the_token_in_the_r2_inventory() {
    let w = Arc::new(World::new().await);
    let admin = common::admin_client(&w.sb.emu).await.into_writer();
    let policy = Policy {
        effect: Effect::Allow,
        permission_groups: ["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()].into(),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_media",
                w.sb.emu.account_id()
            ),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    admin
        .create_bucket(Jurisdiction::Default, "media", None, StorageClass::Standard)
        .await
        .unwrap();
    let made = admin
        .create_token(Owner::Account, &common::token_request("CI key", policy))
        .await
        .unwrap();
    let id = made.token.id.clone();
    let a = w.runner("a");
    let yaml = std::fs::read_to_string(a.join("r2gitops.yaml")).unwrap();
    std::fs::write(
        a.join("r2gitops.yaml"),
        format!(
            "{yaml}  - name: ci\n    adopt: \"{id}\"\n    access: object-read-write\n    buckets: [media]\n    output: {{ file: ci.env.age, format: env }}\n"
        ),
    )
    .unwrap();
    std::fs::write(a.join("value"), format!("{}\n", made.value.expose())).unwrap();
    let lease = json!({
        "holder": "laptop/4242/beef",
        "epoch": 3,
        "acquired_at": "2026-01-01T00:00:00Z",
        "expires_at": "2999-01-01T00:00:00Z",
    });
    let put =
        w.s3(json!([{"op": "put", "key": format!("{KEY}.lease"), "body": lease.to_string()}]));
    w.sb.emu.reset_stats();
    let adopt = ["adopt", "ci", "--value-file", "value", "--state", STATE];
    let (w2, a2) = (w.clone(), a.clone());
    let refused = tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &adopt)))
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains(
            "the state r2://state/teams/r2gitops.json is locked: its lease is held by 'laptop/4242/beef'"
        ),
        "{}",
        text(&refused)
    );
    assert!(!a.join("secrets/ci.env.age").exists(), "nothing written");
    assert_eq!(w.sb.emu.stats().mutating, 0);

    w.s3(json!([{"op": "delete", "key": format!("{KEY}.lease"), "if_match": put[0]["etag"]}]));
    let (w2, a2) = (w.clone(), a.clone());
    let adopted = tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &adopt)))
        .await
        .unwrap();
    assert_eq!(adopted.status.code(), Some(0), "{}", text(&adopted));
    assert!(text(&adopted).contains(&format!("adopted token ci ({id})")));
    assert!(a.join("secrets/ci.env.age").exists());
    assert!(
        !a.join("secrets/.r2gitops-state.json").exists(),
        "with --state the inventory is not a local file"
    );
    let got =
        w.s3(json!([{"op": "get", "key": KEY}, {"op": "get", "key": format!("{KEY}.lease")}]));
    let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["inventory"]["tokens"]["ci"]["id"], json!(id), "{doc}");
    assert!(
        doc["epoch"].as_u64().unwrap() >= 1,
        "written under a lease (epoch 0 is none): {doc}"
    );
    assert_eq!(
        got[1]["error"], "NoSuchKey",
        "the lease is released at exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_with_state_reads_the_r2_inventory_to_tell_this_files_tokens_from_others() {
    let w = Arc::new(World::new().await);
    let (a, b) = (w.runner("a"), w.runner("b"));
    let w2 = w.clone();
    let a2 = a.clone();
    let applied =
        tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &["reconcile", "--state", STATE])))
            .await
            .unwrap();
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    // A token carrying the prefix that this file's inventory does not record.
    let policy = Policy {
        effect: Effect::Allow,
        permission_groups: ["6a018a9f2fc74eb6b293b0c548f38b39".to_string()].into(),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_media",
                w.sb.emu.account_id()
            ),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    common::admin_client(&w.sb.emu)
        .await
        .into_writer()
        .create_token(
            Owner::Account,
            &common::token_request("r2gitops:other", policy),
        )
        .await
        .unwrap();
    w.sb.emu.reset_stats();
    let w2 = w.clone();
    let (with, without) = tokio::task::spawn_blocking(move || {
        let import = |extra: &[&str]| {
            let mut cmd = w2
                .sb
                .r2gitops_without_file(&[&["import", "--with", "none"][..], extra].concat());
            cmd.env("AWS_ACCESS_KEY_ID", &w2.key_id)
                .env("AWS_SECRET_ACCESS_KEY", &w2.secret)
                .current_dir(&b);
            run(cmd)
        };
        (import(&["--state", STATE]), import(&[]))
    })
    .await
    .unwrap();
    assert_eq!(with.status.code(), Some(0), "{}", text(&with));
    assert!(
        text(&with).contains("1 tokens carry the prefix but are not in the inventory given"),
        "{}",
        text(&with)
    );
    assert!(
        text(&with).contains("imported 2 buckets and 2 managed tokens"),
        "{}",
        text(&with)
    );
    assert!(
        text(&without).contains("imported 2 buckets and 3 managed tokens"),
        "without the inventory every prefixed token looks managed: {}",
        text(&without)
    );
    assert_eq!(w.sb.emu.stats().mutating, 0, "import changes nothing");
}
