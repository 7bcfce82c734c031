//! Each kind rendered and loaded back: exact blocks are written, the rest say why not.

use std::collections::BTreeSet;

use super::{Block, block};
use crate::config::MinTls;
use crate::observed::bucket_config::{
    Condition, ConfigKind, ConfigValue, CorsRule, LifecycleRule, LockRule, ManagedDomain, Retention,
};
use crate::observed::custom_domain::{CustomDomain, DomainStatus};
use crate::observed::notification::{NotificationRule, QueueRules};

fn domain(name: &str, zone: Option<&str>, enabled: bool, min_tls: MinTls) -> CustomDomain {
    CustomDomain {
        domain: name.into(),
        zone_id: Some("0123456789abcdef0123456789abcdef".into()),
        zone_name: zone.map(str::to_string),
        enabled,
        min_tls: Some(min_tls),
        status: Some(DomainStatus {
            ownership: "pending".into(),
            ssl: "initializing".into(),
        }),
    }
}

fn rule(actions: &[&str], prefix: &str, suffix: &str, description: &str) -> NotificationRule {
    NotificationRule {
        actions: actions.iter().map(|a| a.to_string()).collect(),
        prefix: prefix.into(),
        suffix: suffix.into(),
        description: description.into(),
    }
}

fn queue(name: &str, rules: Vec<NotificationRule>) -> QueueRules {
    QueueRules {
        queue_id: Some(format!("{name}-id").as_str().into()),
        queue_name: Some(name.into()),
        rules: rules.into_iter().collect(),
    }
}

fn cors(id: Option<&str>, origin: &str, max_age: Option<u64>) -> CorsRule {
    CorsRule::new(
        id.map(str::to_string),
        [origin],
        ["get", "PUT"],
        ["X-Upload-Id"],
        ["ETag"],
        max_age,
    )
}

fn lifecycle(id: &str, expire: Option<Condition>, transitions: &[Condition]) -> LifecycleRule {
    LifecycleRule {
        id: id.into(),
        enabled: true,
        prefix: "tmp/".into(),
        expire,
        transitions: transitions.iter().cloned().collect::<BTreeSet<_>>(),
        abort_multipart_secs: None,
    }
}

fn lock(id: &str, retention: Retention, enabled: bool) -> LockRule {
    LockRule {
        id: id.into(),
        enabled,
        prefix: String::new(),
        retention,
    }
}

#[test]
fn what_a_new_bucket_holds_is_not_written() {
    for kind in ConfigKind::ALL {
        assert_eq!(block(&kind.new_bucket()), Block::Default, "{kind:?}");
    }
}

#[test]
fn exact_blocks_are_written_in_the_files_words() {
    let cases: Vec<(ConfigValue, Vec<&str>)> = vec![
        (
            ConfigValue::Cors(vec![
                cors(Some("web app"), "https://app.example.com", Some(86_400)),
                cors(None, "*", None),
            ]),
            vec![
                "cors:",
                "  - id: \"web app\"",
                "    allowed_origins: [\"https://app.example.com\"]",
                "    allowed_methods: [GET, PUT]",
                "    allowed_headers: [\"x-upload-id\"]",
                "    expose_headers: [\"etag\"]",
                "    max_age: 1d",
                "  - allowed_origins: [\"*\"]",
                "    allowed_methods: [GET, PUT]",
                "    allowed_headers: [\"x-upload-id\"]",
                "    expose_headers: [\"etag\"]",
            ],
        ),
        (
            ConfigValue::Lifecycle(vec![
                LifecycleRule::cloudflare_default(),
                lifecycle(
                    "expire-tmp",
                    Some(Condition::Age(30 * 86_400)),
                    &[Condition::Date(1_893_456_000)],
                ),
            ]),
            vec![
                "lifecycle:",
                "  - id: \"Default Multipart Abort Rule\"",
                "    abort_multipart_after: 7d",
                "  - id: \"expire-tmp\"",
                "    prefix: \"tmp/\"",
                "    expire_after: 30d",
                "    transition_to_infrequent_access_on: 2030-01-01T00:00:00Z",
            ],
        ),
        (
            ConfigValue::Lock(vec![
                lock("keep-90d", Retention::Age(90 * 86_400), true),
                lock("legal", Retention::Indefinite, false),
                lock("until", Retention::Date(1_893_456_000), true),
            ]),
            vec![
                "lock:",
                "  - id: \"keep-90d\"",
                "    retain_for: 90d",
                "  - id: \"legal\"",
                "    enabled: false",
                "    retain: indefinite",
                "  - id: \"until\"",
                "    retain_until: 2030-01-01T00:00:00Z",
            ],
        ),
        (ConfigValue::Lifecycle(Vec::new()), vec!["lifecycle: []"]),
        (
            ConfigValue::PublicDevUrl(ManagedDomain {
                enabled: true,
                domain: Some("pub-abc.r2.dev".into()),
            }),
            vec!["public_dev_url: true   # https://pub-abc.r2.dev"],
        ),
        (
            // The zone by name; 1.0 is Cloudflare's default and stays unmanaged; the status
            // is Cloudflare's progress, not configuration.
            ConfigValue::CustomDomains(vec![
                domain("assets.example.com", Some("example.com"), true, MinTls::V12),
                domain("old.example.com", Some("example.com"), false, MinTls::V10),
            ]),
            vec![
                "custom_domains:",
                "  - domain: \"assets.example.com\"",
                "    zone: \"example.com\"",
                "    min_tls: \"1.2\"",
                "  - domain: \"old.example.com\"",
                "    zone: \"example.com\"",
                "    enabled: false",
            ],
        ),
        (
            ConfigValue::CustomDomains(vec![domain("cdn.example.org", None, true, MinTls::V13)]),
            vec![
                "custom_domains:",
                "  - domain: \"cdn.example.org\"",
                "    zone: \"0123456789abcdef0123456789abcdef\"",
                "    min_tls: \"1.3\"",
            ],
        ),
        (
            ConfigValue::Notifications(vec![
                queue(
                    "uploads",
                    vec![
                        rule(
                            &["PutObject", "CopyObject", "CompleteMultipartUpload"],
                            "images/",
                            ".jpg",
                            "thumbnails",
                        ),
                        rule(&["DeleteObject"], "", "", ""),
                    ],
                ),
                queue(
                    "audit",
                    vec![rule(
                        &[
                            "PutObject",
                            "CopyObject",
                            "CompleteMultipartUpload",
                            "DeleteObject",
                            "LifecycleDeletion",
                        ],
                        "",
                        "",
                        "",
                    )],
                ),
            ]),
            vec![
                "notifications:",
                "  - queue: \"uploads\"",
                "    events: [object-create]",
                "    prefix: \"images/\"",
                "    suffix: \".jpg\"",
                "    description: \"thumbnails\"",
                "  - queue: \"uploads\"",
                "    actions: [DeleteObject]",
                "  - queue: \"audit\"",
                "    events: [object-create, object-delete]",
            ],
        ),
    ];
    for (value, want) in cases {
        assert_eq!(
            block(&value),
            Block::Lines(want.iter().map(|s| s.to_string()).collect())
        );
    }
}

#[test]
fn what_the_file_cannot_say_exactly_is_left_out_with_the_reason() {
    let cases: Vec<(ConfigValue, &str)> = vec![
        (
            ConfigValue::Lifecycle(vec![lifecycle(
                "two-steps",
                None,
                &[Condition::Age(86_400), Condition::Age(2 * 86_400)],
            )]),
            "rule two-steps has 2 storage-class transitions",
        ),
        (
            ConfigValue::Lock(vec![lock("odd", Retention::Other("Legal".into()), true)]),
            "rule odd retains by a condition r2gitops does not know (Legal)",
        ),
        (
            // Cloudflare stores it; the file's validation refuses a path in an origin.
            ConfigValue::Cors(vec![cors(None, "https://app.example.com/path", None)]),
            "origin",
        ),
        (
            ConfigValue::Cors(vec![cors(None, "https://a.example", Some(2 * 86_400))]),
            "max_age",
        ),
        (
            ConfigValue::Notifications(vec![queue(
                "uploads",
                vec![rule(&["AbortMultipartUpload"], "", "", "")],
            )]),
            "names action AbortMultipartUpload, which r2gitops does not know",
        ),
        (
            // The file's validation refuses a domain outside its zone.
            ConfigValue::CustomDomains(vec![domain(
                "assets.example.com",
                Some("example.org"),
                true,
                MinTls::V12,
            )]),
            "not in zone",
        ),
    ];
    for (value, want) in cases {
        match block(&value) {
            Block::NotExpressible(why) => assert!(why.contains(want), "{why} / {want}"),
            other => panic!("{value:?} gave {other:?}"),
        }
    }
}
