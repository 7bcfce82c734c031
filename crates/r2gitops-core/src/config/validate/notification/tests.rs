//! Unit tests of `config::validate::notification`.

use super::*;

fn rule(queue: &str, actions: &[NotificationAction], prefix: &str, suffix: &str) -> Notification {
    Notification {
        queue: queue.into(),
        actions: actions.iter().copied().collect(),
        prefix: prefix.into(),
        suffix: suffix.into(),
        description: String::new(),
    }
}

#[test]
fn rules_overlap_only_on_a_shared_action_and_a_key_both_match() {
    use NotificationAction::*;
    let cases = [
        // (a, b, overlaps)
        (
            rule("q", &[PutObject], "", ""),
            rule("q", &[PutObject], "images/", ""),
            true,
        ),
        (
            rule("q", &[PutObject], "images/", ""),
            rule("q", &[PutObject], "img/", ""),
            false,
        ),
        (
            rule("q", &[PutObject], "a/", ".jpg"),
            rule("q", &[PutObject], "a/", ".png"),
            false,
        ),
        (
            rule("q", &[PutObject], "a/", ".jpg"),
            rule("q", &[PutObject], "a/b/", ""),
            true,
        ),
        (
            rule("q", &[PutObject], "", "x.jpg"),
            rule("q", &[PutObject], "", ".jpg"),
            true,
        ),
        (
            rule("q", &[PutObject], "a/", ""),
            rule("q", &[CopyObject], "a/", ""),
            false,
        ),
        (
            rule("q", &[PutObject], "", ""),
            rule("other", &[PutObject], "", ""),
            false,
        ),
        (
            rule("q", &[PutObject, DeleteObject], "", ""),
            rule("q", &[DeleteObject], "logs/", ".gz"),
            true,
        ),
    ];
    for (a, b, want) in cases {
        assert_eq!(overlap(&a, &b).is_some(), want, "{a:?} {b:?}");
        assert_eq!(overlap(&b, &a).is_some(), want, "symmetric: {a:?} {b:?}");
    }
    let words = overlap(
        &rule("q", &[PutObject, CopyObject], "images/", ""),
        &rule("q", &[PutObject], "", ".jpg"),
    )
    .unwrap();
    assert_eq!(words, "PutObject on a key like 'images/….jpg'");
}

fn warnings(rules: &str) -> Vec<(String, Option<String>)> {
    let yaml = format!(
        "version: 1\nsettings:\n  recipients: [age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w]\nbuckets:\n  - name: media\n    notifications:\n{rules}"
    );
    let raw = serde_saphyr::from_str_with_options(&yaml, crate::config::yaml::options()).unwrap();
    validate(
        &raw,
        &Facts::default(),
        std::path::Path::new("r2gitops.yaml"),
    )
    .unwrap_or_else(|e| panic!("{:?}", e.into_parts().0))
    .warnings
    .into_iter()
    .map(|w| (w.located_message(), w.hint))
    .collect()
}

#[test]
fn rules_of_one_queue_whose_key_ranges_overlap_across_different_actions_warn() {
    // The pair of examples/full.yaml: object-create on images/….jpg, deletes on images/.
    let got = warnings(
        "      - {queue: uploads, events: [object-create], prefix: images/, suffix: .jpg}\n      - {queue: uploads, actions: [DeleteObject, LifecycleDeletion], prefix: images/}\n",
    );
    assert_eq!(
            got,
            [(
                "8:9: buckets[0].notifications[1]: this rule's keys overlap buckets[0].notifications[0] (line 7) for queue 'uploads', for other actions: both match a key like 'images/….jpg'".to_string(),
                Some("Cloudflare may refuse rules of one queue whose keys overlap even when their actions differ (alchemy saw it live; Cloudflare's docs say only a shared action clashes); if a reconcile says the held rules were put back, give the rules prefixes or suffixes that cannot both match, or merge them".to_string())
            )]
        );
    // (rules, warns)
    let cases = [
        // Disjoint keys: nothing to say.
        (
            "{queue: q, events: [object-create], prefix: a/}\n      - {queue: q, events: [object-delete], prefix: b/}",
            false,
        ),
        (
            "{queue: q, actions: [PutObject], suffix: .png}\n      - {queue: q, actions: [DeleteObject], suffix: .jpg}",
            false,
        ),
        // Other queues never clash.
        (
            "{queue: q, events: [object-create]}\n      - {queue: other, events: [object-delete]}",
            false,
        ),
        // Everything against a prefix, other actions.
        (
            "{queue: q, events: [object-create]}\n      - {queue: q, events: [object-delete], prefix: logs/}",
            true,
        ),
    ];
    for (rules, warns) in cases {
        let got = warnings(&format!("      - {rules}\n"));
        assert_eq!(got.len(), usize::from(warns), "{rules}: {got:?}");
    }
}
