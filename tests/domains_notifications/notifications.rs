//! Event notifications as the live API answers them: a queue declared by id, a rule without a
//! description, a PUT refused after the DELETE.

use crate::{BOTH, DELETE_RULES, PUT_RULES, World, catching_up, file, has, stderr, stdout};

/// Each rule's id, per queue name, as the emulator holds them: unchanged ids mean the rules
/// were not deleted and put again.
fn rule_ids(w: &World, bucket: &str) -> Vec<(String, Vec<String>)> {
    w.emu
        .notification_rules("default", bucket)
        .unwrap()
        .into_iter()
        .map(|(q, rules)| {
            let mut ids: Vec<String> = rules
                .iter()
                .map(|r| r["ruleId"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            (q, ids)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converged_queue_declared_by_id_makes_no_mutating_call_on_the_second_pass() {
    let w = World::new().await;
    let uploads = w.emu.add_queue("uploads");
    let audit = w.emu.add_queue("audit");
    // By id, with prune: the configuration GET names both queues dashed.
    let body = BOTH
        .replace("queue: uploads", &format!("queue: {uploads}"))
        .replace("queue: audit", &format!("queue: \"{audit}\""));
    w.write(&file("  prune: true\n", &body));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    has(&out, "Apply complete: 4 done, 0 failed");
    let ids = rule_ids(&w, "media");
    assert_eq!(ids.len(), 2, "both queues hold their rules");
    w.emu.reset_stats();
    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(0), "{}", stdout(&dry));
    has(&dry, "No changes. 1 unchanged.");
    for _ in 0..2 {
        let again = w.run(&["reconcile"]).await;
        assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
        has(&again, "No changes. 1 unchanged.");
    }
    assert_eq!(w.emu.stats().mutating, 0, "no DELETE, no PUT");
    assert_eq!(rule_ids(&w, "media"), ids, "the rules were never touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_without_a_description_is_not_re_put_every_pass() {
    let w = World::new().await;
    // `audit` declares no description: Cloudflare generates one.
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let held = w.emu.notification_rules("default", "media").unwrap();
    let generated = held["audit"][0]["description"].as_str().unwrap();
    assert!(!generated.is_empty(), "the emulator made one up");
    assert_eq!(held["uploads"][0]["description"], "thumbnails");
    let ids = rule_ids(&w, "media");
    w.emu.reset_stats();
    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(0), "{}", stdout(&dry));
    let again = w.run(&["reconcile"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert_eq!(w.calls(DELETE_RULES) + w.calls(PUT_RULES), 0);
    assert_eq!(rule_ids(&w, "media"), ids);
    // A description the file declares is still managed.
    w.write(&file("", &BOTH.replace("thumbnails", "thumbs")));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.calls(PUT_RULES), 1, "uploads only");
    assert_eq!(
        w.emu.notification_rules("default", "media").unwrap()["uploads"][0]["description"],
        "thumbs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_put_after_the_delete_puts_the_held_rules_back_and_fails_the_pass() {
    // The stricter overlap rule: key ranges that overlap clash even with other actions.
    let w = World::with(cf_emulator::Behaviour {
        overlap_by_keys: true,
        ..catching_up()
    })
    .await;
    let thumbs = "    notifications:
      - queue: uploads
        events: [object-create]
        prefix: images/
        suffix: .jpg
        description: thumbnails
";
    w.write(&file("", thumbs));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let before = w.rules("media");
    // The pair of examples/full.yaml: the same keys, other actions.
    w.write(&file(
        "",
        &format!(
            "{thumbs}      - queue: uploads\n        actions: [DeleteObject, LifecycleDeletion]\n        prefix: images/\n"
        ),
    ));
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "a failed step fails the pass");
    let text = stdout(&out);
    assert!(
        text.contains("[FAILED] ~ update bucket media: notifications uploads +object-delete:images/* (its rules deleted, then 2 rules put): Cloudflare refused the new rules after their DELETE"),
        "{text}"
    );
    assert!(
        text.contains("the 1 rule(s) queue uploads held were put back"),
        "{text}"
    );
    assert_eq!(
        w.rules("media"),
        before,
        "what the queue held is there again"
    );
    assert_eq!(
        w.emu.notification_rules("default", "media").unwrap()["uploads"][0]["description"],
        "thumbnails"
    );
    assert_eq!(
        (w.calls(DELETE_RULES), w.calls(PUT_RULES)),
        (1, 2),
        "the DELETE, the refused PUT, the PUT that restores"
    );
    let validate = w.run(&["validate"]).await;
    assert!(
        stderr(&validate).contains("warning:") && stderr(&validate).contains("images/"),
        "validate warns about the pair: {}",
        stderr(&validate)
    );
}
