//! Table tests of the notification rules of the diff: rules compare as a set per
//! queue with `events` expanded to their actions; a change deletes the queue's rules and puts
//! the whole list; an unknown queue is blocked alone; removing a queue's rules needs prune;
//! overlapping rules never reach the diff (validation refuses them, naming both).

use std::path::Path;

use serde_json::{Value, json};

use super::bucket_config::{declared, lines, observed, plan};
use crate::observed::Observed;
use crate::observed::bucket_config::ConfigKind;
use crate::observed::notification::{NotificationRule, Queue};
use crate::plan::QueueWrite;
use crate::plan::Step;

fn with_rules(queues: Value) -> Observed {
    let mut o = observed(
        &[(
            ConfigKind::Notifications,
            json!({"bucketName": "media", "queues": queues}),
        )],
        true,
    );
    o.queues = Some(vec![
        Queue {
            id: "q-uploads".into(),
            name: "uploads".into(),
        },
        Queue {
            id: "q-audit".into(),
            name: "audit".into(),
        },
    ]);
    o
}

fn queue(id: &str, name: &str, rules: Value) -> Value {
    json!({"queueId": id, "queueName": name, "rules": rules})
}

fn block(entries: &str) -> String {
    format!("    notifications:\n{entries}")
}

fn written(p: &crate::plan::Plan) -> Vec<QueueWrite> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::ConfigureNotifications { write, .. } => Some(write.clone()),
            _ => None,
        })
        .collect()
}

const THUMBS: &str =
    "      - {queue: uploads, events: [object-create], prefix: images/, description: thumbnails}\n";

#[test]
fn rules_compare_as_a_set_with_events_expanded_so_cloudflares_spelling_is_not_drift() {
    let d = declared("", &block(THUMBS));
    // Actions in another order, ids, creation times, a null suffix: the same rule.
    let held = with_rules(json!([queue(
        "q-uploads",
        "uploads",
        json!([{"ruleId": "r1", "createdAt": "2026-01-01T00:00:00Z",
                "actions": ["CompleteMultipartUpload", "PutObject", "CopyObject"],
                "prefix": "images/", "suffix": null, "description": "thumbnails"}])
    )]));
    let p = plan(&d, &held);
    assert!(
        p.steps.is_empty() && p.blocked.is_empty(),
        "{:?}",
        lines(&p)
    );
    // The queue named by id is the same queue.
    let by_id = declared(
        "",
        &block(
            "      - {queue: q-uploads, events: [object-create], prefix: images/, description: thumbnails}\n",
        ),
    );
    assert!(plan(&by_id, &held).steps.is_empty());
    // One action fewer is another rule.
    let fewer = with_rules(json!([queue(
        "q-uploads",
        "uploads",
        json!([{"actions": ["PutObject", "CopyObject"], "prefix": "images/", "description": "thumbnails"}])
    )]));
    assert_eq!(plan(&d, &fewer).steps.len(), 1);
}

#[test]
fn a_changed_queue_is_cleared_then_put_whole_and_a_new_one_is_put_alone() {
    let d = declared(
        "",
        &block(&format!(
            "{THUMBS}      - {{queue: audit, actions: [DeleteObject, LifecycleDeletion]}}\n"
        )),
    );
    // uploads: the declared rule plus one added out of band; audit: nothing yet.
    let held = with_rules(json!([queue(
        "q-uploads",
        "uploads",
        json!([
            {"actions": ["PutObject", "CopyObject", "CompleteMultipartUpload"], "prefix": "images/", "description": "thumbnails"},
            {"actions": ["PutObject"], "prefix": "tmp/"}
        ])
    )]));
    let p = plan(&d, &held);
    let w = written(&p);
    assert_eq!(w.len(), 2, "{:?}", lines(&p));
    assert_eq!(
        (w[0].queue_id.as_str(), w[0].clear_first, w[0].rules.len()),
        ("q-uploads", true, 1)
    );
    assert_eq!(
        w[0].rules[0],
        NotificationRule {
            actions: ["CompleteMultipartUpload", "CopyObject", "PutObject"]
                .map(String::from)
                .into(),
            prefix: "images/".into(),
            suffix: String::new(),
            description: "thumbnails".into(),
        },
        "events expanded to their actions"
    );
    assert_eq!(
        (w[1].queue_id.as_str(), w[1].clear_first),
        ("q-audit", false)
    );
    assert_eq!(
        lines(&p),
        [
            "~ update bucket media: notifications uploads -PutObject:tmp/* (its rules deleted, then 1 rule put)",
            "~ update bucket media: notifications audit +object-delete:*",
        ]
    );
    assert_eq!(
        p.deletions(),
        0,
        "a declared queue keeps rules: not a deletion"
    );
}

#[test]
fn an_unknown_queue_is_blocked_with_its_name_and_the_other_queues_go_on() {
    let d = declared(
        "",
        &block(&format!(
            "{THUMBS}      - {{queue: ghost, actions: [PutObject]}}\n"
        )),
    );
    let p = plan(&d, &with_rules(json!([])));
    assert_eq!(
        p.blocked
            .iter()
            .map(|b| (b.name.as_str(), b.reason.as_str()))
            .collect::<Vec<_>>(),
        [(
            "media",
            "notifications: unknown queue 'ghost' (not in the account's queue list)"
        )]
    );
    assert_eq!(written(&p).len(), 1, "uploads still gets its rules");
}

#[test]
fn a_queue_the_file_does_not_name_loses_its_rules_only_with_prune() {
    let held = with_rules(json!([
        queue(
            "q-uploads",
            "uploads",
            json!([{"actions": ["PutObject", "CopyObject", "CompleteMultipartUpload"], "prefix": "images/", "description": "thumbnails"}])
        ),
        queue(
            "q-audit",
            "audit",
            json!([{"actions": ["DeleteObject"]}, {"actions": ["PutObject"], "prefix": "x/"}])
        ),
    ]));
    let p = plan(&declared("", &block(THUMBS)), &held);
    assert!(p.steps.is_empty());
    assert_eq!(
        p.blocked[0].reason,
        "notifications: queue 'audit' has 2 rule(s) the file does not declare; r2gitops removes a queue's rules only with settings.prune: true (each queue counts toward max_deletions)"
    );
    let p = plan(&declared("  prune: true\n", &block(THUMBS)), &held);
    let w = written(&p);
    assert_eq!(
        (
            w.len(),
            w[0].queue_id.as_str(),
            w[0].clear_first,
            w[0].rules.len()
        ),
        (1, "q-audit", true, 0)
    );
    assert_eq!(p.deletions(), 1);
    assert_eq!(
        lines(&p),
        [
            "~ update bucket media: notifications audit -DeleteObject:* -PutObject:x/* (every rule of the queue removed)"
        ]
    );
    let p = plan(
        &declared("  prune: true\n  max_deletions: 0\n", &block(THUMBS)),
        &held,
    );
    assert!(
        p.refused
            .as_deref()
            .unwrap()
            .contains("(queues losing their notification rules included)")
    );
    // `notifications: []` owns every queue: both lose their rules (with prune).
    let p = plan(
        &declared("  prune: true\n", "    notifications: []\n"),
        &held,
    );
    assert_eq!((written(&p).len(), p.deletions()), (2, 2));
}

#[test]
fn overlapping_rules_of_one_queue_never_reach_the_diff() {
    let cases = [
        // (rules, refused)
        (
            "{queue: q, actions: [PutObject]}\n      - {queue: q, actions: [PutObject], prefix: a/}",
            true,
        ),
        (
            "{queue: q, events: [object-create], prefix: a/}\n      - {queue: q, actions: [CopyObject], suffix: .jpg}",
            true,
        ),
        (
            "{queue: q, actions: [PutObject], prefix: a/}\n      - {queue: q, actions: [PutObject], prefix: b/}",
            false,
        ),
        (
            "{queue: q, actions: [PutObject], suffix: .png}\n      - {queue: q, actions: [PutObject], suffix: .jpg}",
            false,
        ),
        (
            "{queue: q, events: [object-create]}\n      - {queue: q, events: [object-delete]}",
            false,
        ),
        (
            "{queue: q, actions: [PutObject]}\n      - {queue: other, actions: [PutObject]}",
            false,
        ),
    ];
    for (rules, refused) in cases {
        let yaml = format!(
            "version: 1\nsettings:\n  recipients: [age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w]\nbuckets:\n  - name: media\n    notifications:\n      - {rules}\n"
        );
        let raw =
            serde_saphyr::from_str_with_options(&yaml, crate::config::yaml::options()).unwrap();
        let got = crate::config::validate::validate(
            &raw,
            &crate::config::validate::Facts::default(),
            Path::new("r2gitops.yaml"),
        );
        match got {
            Ok(_) => assert!(!refused, "{rules}"),
            Err(e) => {
                let v = e.into_parts().0;
                assert!(refused, "{rules}: {v:?}");
                assert_eq!(v.len(), 1);
                assert_eq!(v[0].path, "buckets[0].notifications[1]", "the second rule");
                assert!(
                    v[0].message
                        .starts_with("this rule overlaps buckets[0].notifications[0] (line 7)"),
                    "and the first: {}",
                    v[0].message
                );
            }
        }
    }
}

/// A 32-hex queue id as the queue list gives it, and the dashed UUID the configuration GET
/// names it by (alchemy `BucketEventNotification.ts`).
const UPLOADS_ID: &str = "9af9271153ee4b1ca0b5c0ffee000001";
const UPLOADS_DASHED: &str = "9af92711-53ee-4b1c-a0b5-c0ffee000001";

fn dashed_world(rules: Value) -> Observed {
    let mut o = observed(
        &[(
            ConfigKind::Notifications,
            json!({"bucketName": "media", "queues": [queue(UPLOADS_DASHED, "uploads", rules)]}),
        )],
        true,
    );
    o.queues = Some(vec![Queue {
        id: UPLOADS_ID.into(),
        name: "uploads".into(),
    }]);
    o
}

fn thumbnails(description: Option<&str>) -> Value {
    let mut r = json!({"ruleId": "r1", "actions": ["PutObject", "CopyObject", "CompleteMultipartUpload"], "prefix": "images/"});
    if let Some(d) = description {
        r["description"] = json!(d);
    }
    r
}

#[test]
fn a_queue_cloudflare_names_by_a_dashed_uuid_is_the_queue_the_list_names_by_32_hex() {
    let held = dashed_world(json!([thumbnails(Some("thumbnails"))]));
    let upper = UPLOADS_ID.to_uppercase();
    // (how the file names the queue, prune)
    for (queue, prune) in [
        ("uploads", false),
        (UPLOADS_ID, false),
        (UPLOADS_ID, true),
        (UPLOADS_DASHED, true),
        (upper.as_str(), true),
    ] {
        let settings = if prune { "  prune: true\n" } else { "" };
        let d = declared(
            settings,
            &block(&format!(
                "      - {{queue: \"{queue}\", events: [object-create], prefix: images/, description: thumbnails}}\n"
            )),
        );
        let p = plan(&d, &held);
        assert!(
            p.steps.is_empty() && p.blocked.is_empty(),
            "{queue} (prune {prune}): {:?}",
            lines(&p)
        );
    }
    // A change clears the queue first (its PUT would be refused, 409, otherwise), on the
    // 32-hex path.
    let d = declared(
        "  prune: true\n",
        &block(&format!(
            "      - {{queue: {UPLOADS_ID}, events: [object-create], prefix: img/}}\n"
        )),
    );
    let w = written(&plan(&d, &held));
    assert_eq!(w.len(), 1, "one step, no prune of the same queue");
    assert_eq!(
        (w[0].queue_id.to_string(), w[0].clear_first),
        (UPLOADS_ID.to_string(), true)
    );
}

#[test]
fn a_rule_without_a_description_matches_whatever_description_cloudflare_gave_it() {
    // (declared description, held description, converged)
    let cases = [
        (None, Some("PutObject, CopyObject on images/*"), true),
        (None, None, true),
        (Some("thumbnails"), Some("thumbnails"), true),
        (Some("thumbnails"), Some("generated"), false),
        (Some("thumbnails"), None, false),
    ];
    for (want, have, converged) in cases {
        let description = want.map_or(String::new(), |d| format!(", description: {d}"));
        let d = declared(
            "",
            &block(&format!(
                "      - {{queue: uploads, events: [object-create], prefix: images/{description}}}\n"
            )),
        );
        let p = plan(&d, &dashed_world(json!([thumbnails(have)])));
        assert_eq!(
            p.steps.is_empty(),
            converged,
            "{want:?} {have:?}: {:?}",
            lines(&p)
        );
    }
}

#[test]
fn a_queue_named_by_its_name_in_one_rule_and_by_its_id_in_another_is_written_once() {
    let d = declared(
        "",
        &block(&format!(
            "      - {{queue: uploads, events: [object-create], prefix: images/}}\n      - {{queue: {UPLOADS_DASHED}, events: [object-delete], prefix: logs/}}\n"
        )),
    );
    let w = written(&plan(&d, &dashed_world(json!([thumbnails(None)]))));
    assert_eq!(
        w.len(),
        1,
        "one DELETE and one PUT, not two that undo each other"
    );
    assert_eq!((w[0].clear_first, w[0].rules.len()), (true, 2));
}
