//! Notification steps against the fake: the queue's rules deleted, then the whole list put,
//! then read back; a queue with no rules yet gets a PUT alone; removing a queue's rules is a
//! DELETE alone; a PUT refused after the DELETE puts the held rules back and fails loudly;
//! the read-back leaves a description the file does not declare to Cloudflare.

use super::*;
use crate::observed::notification::{NotificationRule, QueueId, QueueRules};

fn rule(actions: &[&str], prefix: &str) -> NotificationRule {
    NotificationRule {
        actions: actions.iter().map(|a| a.to_string()).collect(),
        prefix: prefix.into(),
        suffix: String::new(),
        description: String::new(),
    }
}

const Q1: &str = "9af9271153ee4b1ca0b5c0ffee000001";

fn configure(bucket: &str, held: Vec<NotificationRule>, rules: Vec<NotificationRule>) -> Step {
    Step::ConfigureNotifications {
        bucket: bref(bucket),
        write: QueueWrite {
            queue_id: Q1.into(),
            queue_name: "uploads".into(),
            clear_first: !held.is_empty(),
            rules,
            held,
        },
        changes: vec!["+x".into()],
    }
}

fn holding(rules: &[NotificationRule]) -> ConfigValue {
    ConfigValue::Notifications(vec![QueueRules {
        queue_id: Some(Q1.into()),
        queue_name: Some("uploads".into()),
        rules: rules.iter().cloned().collect(),
    }])
}

fn held(fake: &Fake, bucket: &str) -> Vec<QueueRules> {
    match fake.config(Jurisdiction::Default, bucket, ConfigKind::Notifications) {
        ConfigValue::Notifications(q) => q,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_change_deletes_the_queues_rules_then_puts_the_whole_list_then_reads_back() {
    let s = setup(&[]);
    let fake = Fake::default();
    holding_buckets(&fake, &["media", "fresh"]);
    let before = [rule(&["PutObject"], ""), rule(&["DeleteObject"], "x/")];
    fake.set(Jurisdiction::Default, "media", holding(&before));
    let want = vec![
        rule(&["PutObject"], "images/"),
        rule(&["DeleteObject"], "x/"),
    ];
    let p = plan(vec![
        configure("media", before.to_vec(), want.clone()),
        configure("fresh", Vec::new(), vec![rule(&["CopyObject"], "")]),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert!(!report.has_errors(), "{:?}", report.steps);
    assert_eq!(
        fake.calls(),
        [
            format!("DELETE rules media {Q1}"),
            format!("PUT rules media {Q1} (2)"),
            "read notifications media".into(),
            format!("PUT rules fresh {Q1} (1)"),
            "read notifications fresh".into(),
        ]
    );
    assert_eq!(
        held(&fake, "media")[0].rules,
        want.into_iter().collect(),
        "exactly the declared set: the rule added elsewhere is gone"
    );
}

#[tokio::test]
async fn removing_a_queues_rules_is_a_delete_alone_and_a_put_that_does_not_stick_fails() {
    let s = setup(&[]);
    let fake = Fake::default();
    holding_buckets(&fake, &["gone"]);
    let existing = [rule(&["PutObject"], "")];
    fake.set(Jurisdiction::Default, "gone", holding(&existing));
    let p = plan(vec![configure("gone", existing.to_vec(), Vec::new())]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(outcomes(&report)[0].1, "done");
    assert_eq!(
        fake.calls(),
        [
            format!("DELETE rules gone {Q1}"),
            "read notifications gone".into()
        ]
    );
    assert!(held(&fake, "gone").is_empty());
    let ignoring = Fake {
        ignore_config_writes: true,
        ..Fake::default()
    };
    holding_buckets(&ignoring, &["media"]);
    let p = plan(vec![configure(
        "media",
        Vec::new(),
        vec![rule(&["PutObject"], "a/")],
    )]);
    let (report, _) = run(&ignoring, &s, &p, &Stop::new()).await;
    assert_eq!(
        report.steps[0].outcome.detail().unwrap(),
        "Cloudflare did not store the notification rules of queue uploads on bucket media as sent (sent PutObject:a/*, read back no rule); the next pass tries again"
    );
}

#[tokio::test]
async fn a_refused_put_after_the_delete_puts_the_held_rules_back_and_fails_saying_so() {
    let s = setup(&[]);
    let mut before = rule(&["PutObject"], "");
    before.description = "made up by Cloudflare".into();
    let want = vec![rule(&["PutObject"], "a/"), rule(&["DeleteObject"], "")];
    // (PUTs refused, held rules after, words)
    let cases = [
        (
            1,
            vec![before.clone()],
            "Cloudflare refused the new rules after their DELETE (failed to put rules: conflicting rules (code 11020)); the 1 rule(s) queue uploads held were put back. Rules of one queue whose keys overlap, even for different actions, may be what it refuses: see the warnings of `r2gitops validate`",
        ),
        (
            2,
            Vec::new(),
            "Cloudflare refused the new rules after their DELETE (failed to put rules: conflicting rules (code 11020)), and putting back the 1 rule(s) queue uploads held failed too (failed to put rules: conflicting rules (code 11020)): queue uploads has no rules on bucket media now, and its events are not sent until a pass puts them",
        ),
    ];
    for (refusals, after, words) in cases {
        let fake = Fake {
            refuse_puts: Mutex::new(refusals),
            ..Fake::default()
        };
        holding_buckets(&fake, &["media"]);
        fake.set(
            Jurisdiction::Default,
            "media",
            holding(std::slice::from_ref(&before)),
        );
        let p = plan(vec![configure("media", vec![before.clone()], want.clone())]);
        let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
        assert_eq!(outcomes(&report)[0].1, "failed");
        assert_eq!(report.steps[0].outcome.detail().unwrap(), words);
        assert_eq!(
            fake.calls(),
            [
                format!("DELETE rules media {Q1}"),
                format!("PUT rules media {Q1} (2)"),
                format!("PUT rules media {Q1} (1)"),
            ],
            "the DELETE, the refused PUT, the PUT of what was held; no read-back"
        );
        let now: Vec<NotificationRule> = held(&fake, "media")
            .into_iter()
            .flat_map(|q| q.rules)
            .collect();
        assert_eq!(now, after, "with the description Cloudflare gave it");
    }
    // A server error may have stored the PUT: nothing is put back, the next pass reads.
    let fake = Fake {
        fail_puts: true,
        ..Fake::default()
    };
    holding_buckets(&fake, &["media"]);
    fake.set(
        Jurisdiction::Default,
        "media",
        holding(std::slice::from_ref(&before)),
    );
    let p = plan(vec![configure("media", vec![before], want)]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(
        report.steps[0].outcome.detail().unwrap(),
        "failed to put rules: Cloudflare had an internal error (code 10001); its rules had been deleted first, so queue uploads may hold none on bucket media until the next pass"
    );
    assert_eq!(fake.calls().len(), 2, "the DELETE and the PUT");
}

#[tokio::test]
async fn the_read_back_leaves_a_generated_description_alone_and_names_queues_in_one_form() {
    let s = setup(&[]);
    let fake = Fake {
        live_rules: true,
        ..Fake::default()
    };
    holding_buckets(&fake, &["media"]);
    let mut described = rule(&["DeleteObject"], "logs/");
    described.description = "audit".into();
    let p = plan(vec![configure(
        "media",
        Vec::new(),
        vec![rule(&["PutObject"], "images/"), described],
    )]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(outcomes(&report)[0].1, "done", "{:?}", report.steps);
    let held = held(&fake, "media");
    assert_eq!(
        held[0].queue_id,
        Some(QueueId::new("9af92711-53ee-4b1c-a0b5-c0ffee000001")),
        "the dashed form Cloudflare wrote is the 32-hex one the step names"
    );
    let descriptions: BTreeSet<&str> = held[0]
        .rules
        .iter()
        .map(|r| r.description.as_str())
        .collect();
    assert_eq!(
        descriptions,
        BTreeSet::from(["audit", "generated for PutObject:images/*"])
    );
}
