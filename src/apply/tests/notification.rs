//! Notification steps against the fake: the queue's rules deleted, then the whole list put,
//! then read back; a queue with no rules yet gets a PUT alone; removing a queue's rules is a
//! DELETE alone; a PUT refused after the DELETE fails loudly, and the next plan puts again.

use super::*;
use crate::observed::notification::{NotificationRule, QueueRules};

fn rule(actions: &[&str], prefix: &str) -> NotificationRule {
    NotificationRule {
        actions: actions.iter().map(|a| a.to_string()).collect(),
        prefix: prefix.into(),
        suffix: String::new(),
        description: String::new(),
    }
}

fn configure(bucket: &str, clear_first: bool, rules: Vec<NotificationRule>) -> Step {
    Step::ConfigureNotifications {
        bucket: bref(bucket),
        write: QueueWrite {
            queue_id: "q1".into(),
            queue_name: "uploads".into(),
            clear_first,
            rules,
        },
        changes: vec!["+x".into()],
    }
}

fn held(fake: &Fake, bucket: &str) -> Vec<QueueRules> {
    match fake.config(bucket, ConfigKind::Notifications) {
        ConfigValue::Notifications(q) => q,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_change_deletes_the_queues_rules_then_puts_the_whole_list_then_reads_back() {
    let s = setup(&[]);
    let fake = Fake::default();
    fake.set(
        "media",
        ConfigValue::Notifications(vec![QueueRules {
            queue_id: Some("q1".into()),
            queue_name: Some("uploads".into()),
            rules: [rule(&["PutObject"], ""), rule(&["DeleteObject"], "x/")].into(),
        }]),
    );
    let want = vec![
        rule(&["PutObject"], "images/"),
        rule(&["DeleteObject"], "x/"),
    ];
    let p = plan(vec![
        configure("media", true, want.clone()),
        configure("fresh", false, vec![rule(&["CopyObject"], "")]),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert!(!report.has_errors(), "{:?}", report.steps);
    assert_eq!(
        fake.calls(),
        [
            "DELETE rules media q1",
            "PUT rules media q1 (2)",
            "read notifications media",
            "PUT rules fresh q1 (1)",
            "read notifications fresh",
        ]
    );
    assert_eq!(
        held(&fake, "media")[0].rules,
        want.into_iter().collect(),
        "exactly the declared set: the rule added elsewhere is gone"
    );
}

#[tokio::test]
async fn removing_a_queues_rules_is_a_delete_alone_and_a_refused_put_fails_loudly() {
    let s = setup(&[]);
    let fake = Fake {
        refuse_rules: true,
        ..Fake::default()
    };
    let existing = QueueRules {
        queue_id: Some("q1".into()),
        queue_name: Some("uploads".into()),
        rules: [rule(&["PutObject"], "")].into(),
    };
    fake.set("gone", ConfigValue::Notifications(vec![existing.clone()]));
    fake.set("media", ConfigValue::Notifications(vec![existing]));
    let p = plan(vec![
        configure("gone", true, Vec::new()),
        configure("media", true, vec![rule(&["PutObject"], "a/")]),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(outcomes(&report)[0].1, "done");
    assert!(held(&fake, "gone").is_empty());
    assert_eq!(outcomes(&report)[1].1, "failed");
    assert!(
        report.steps[1]
            .outcome
            .detail()
            .unwrap()
            .contains("conflicting rules (code 11014)"),
        "{:?}",
        report.steps[1]
    );
    assert!(
        held(&fake, "media").is_empty(),
        "the DELETE went through: the next pass sees no rules and puts the list"
    );
    let ignoring = Fake {
        ignore_config_writes: true,
        ..Fake::default()
    };
    let p = plan(vec![configure(
        "media",
        false,
        vec![rule(&["PutObject"], "a/")],
    )]);
    let (report, _) = run(&ignoring, &s, &p, &Stop::new()).await;
    assert_eq!(
        report.steps[0].outcome.detail().unwrap(),
        "Cloudflare did not store the notification rules of queue uploads on bucket media as sent (sent PutObject:a/*, read back no rule); the next pass tries again"
    );
}
