//! Unit tests of `observed::notification`.

use super::*;

fn decl(queue: &str, actions: &[NotificationAction], prefix: &str) -> config::Notification {
    config::Notification {
        queue: queue.into(),
        actions: actions.iter().copied().collect(),
        prefix: prefix.into(),
        suffix: String::new(),
        description: String::new(),
    }
}

#[test]
fn rules_compare_as_a_set_per_queue_after_resolution() {
    use NotificationAction::*;
    let queues = [Queue {
        id: "q1".into(),
        name: "uploads".into(),
    }];
    let mut want = QueueRules::declared(&[
        decl("uploads", &[PutObject], "a/"),
        decl("uploads", &[DeleteObject], "b/"),
    ]);
    assert_eq!(want.len(), 1, "grouped by queue");
    want[0].resolve(&queues).unwrap();
    let have = vec![QueueRules {
        queue_id: Some("q1".into()),
        queue_name: Some("uploads".into()),
        rules: want[0].rules.iter().rev().cloned().collect(),
    }];
    assert!(same_set(&want, &have));
    let mut more = have.clone();
    more[0].rules.insert(NotificationRule::declared(&decl(
        "uploads",
        &[CopyObject],
        "c/",
    )));
    assert!(!same_set(&want, &more), "a rule added out of band");
    let empty_other = vec![
        have[0].clone(),
        QueueRules {
            queue_id: Some("q2".into()),
            queue_name: Some("other".into()),
            rules: BTreeSet::new(),
        },
    ];
    assert!(
        same_set(&want, &empty_other),
        "a queue without rules is nothing"
    );
    let mut by_id = QueueRules::declared(&[decl("q1", &[PutObject], "a/")]);
    assert!(by_id[0].resolve(&queues).is_some(), "an id resolves too");
    assert_eq!(by_id[0].queue_name.as_deref(), Some("uploads"));
    assert!(
        QueueRules::declared(&[decl("nope", &[PutObject], "")])[0]
            .clone()
            .resolve(&queues)
            .is_none()
    );
}

#[test]
fn a_queue_id_is_one_form_whether_written_dashed_or_as_32_hex() {
    let hex = "9af9271153ee4b1ca0b5c0ffee000001";
    // (written, canonical)
    let cases = [
        (hex, hex),
        ("9af92711-53ee-4b1c-a0b5-c0ffee000001", hex),
        ("9AF92711-53EE-4B1C-A0B5-C0FFEE000001", hex),
        (" 9af9271153ee4b1ca0b5c0ffee000001 ", hex),
        // Not an id: kept as written (a queue name, or something Cloudflare never sent).
        ("uploads", "uploads"),
        (
            "9af9-271153ee4b1ca0b5c0ffee000001",
            "9af9-271153ee4b1ca0b5c0ffee000001",
        ),
        (
            "9af92711-53ee-4b1c-a0b5-c0ffee00000g",
            "9af92711-53ee-4b1c-a0b5-c0ffee00000g",
        ),
    ];
    for (written, canonical) in cases {
        assert_eq!(QueueId::new(written).as_str(), canonical, "{written}");
    }
    let queues = [Queue {
        id: hex.into(),
        name: "uploads".into(),
    }];
    let held = QueueRules {
        queue_id: Some("9af92711-53ee-4b1c-a0b5-c0ffee000001".into()),
        queue_name: Some("uploads".into()),
        rules: BTreeSet::new(),
    };
    for written in [hex, "9af92711-53ee-4b1c-a0b5-c0ffee000001", "uploads"] {
        let mut want = QueueRules::declared(&[decl(written, &[NotificationAction::PutObject], "")]);
        assert!(want[0].names(&held), "unresolved, {written} names it");
        want[0].resolve(&queues).unwrap();
        assert!(want[0].same_queue(&held), "resolved, {written} is it");
    }
}

#[test]
fn a_declared_rule_without_a_description_is_met_by_any_description() {
    let mut want = NotificationRule::declared(&decl("q", &[NotificationAction::PutObject], "a/"));
    let mut held = want.clone();
    held.description = "made up by Cloudflare".into();
    assert!(want.is_met_by(&held));
    assert!(rules_met(&[&want], &[&held]));
    want.description = "mine".into();
    assert!(!want.is_met_by(&held), "a declared description is managed");
    let (added, removed) = rule_changes(&[&want], &[&held]);
    assert_eq!((added, removed), (vec![&want], vec![&held]));
    held.prefix = "b/".into();
    want.description.clear();
    assert!(!want.is_met_by(&held), "keys still count");
    assert!(!rules_met(&[], &[&held]), "a held rule nothing declares");
}

#[test]
fn labels_and_renderings_use_event_types_where_the_actions_are_exactly_them() {
    use NotificationAction::*;
    let create = decl(
        "q",
        &[PutObject, CopyObject, CompleteMultipartUpload],
        "images/",
    );
    assert_eq!(
        NotificationRule::declared(&create).label(),
        "object-create:images/*"
    );
    let mixed = decl(
        "q",
        &[PutObject, CopyObject, CompleteMultipartUpload, DeleteObject],
        "",
    );
    assert_eq!(
        NotificationRule::declared(&mixed).label(),
        "object-create+DeleteObject:*"
    );
    assert_eq!(
        as_events(&create.actions),
        Some(vec![NotificationEvent::ObjectCreate])
    );
    assert_eq!(as_events(&mixed.actions), None);
    let have = vec![QueueRules {
        queue_id: Some("q1".into()),
        queue_name: Some("uploads".into()),
        rules: BTreeSet::from([NotificationRule::declared(&mixed)]),
    }];
    let mut back = QueueRules::declared(&declare(&have));
    back[0]
        .resolve(&[Queue {
            id: "q1".into(),
            name: "uploads".into(),
        }])
        .unwrap();
    assert!(same_set(&back, &have));
}
