//! Each kind rendered and loaded back: exact blocks are written, the rest say why not.

use std::collections::BTreeSet;

use super::{Block, block};
use crate::observed::bucket_config::{
    Condition, ConfigKind, ConfigValue, CorsRule, LifecycleRule, LockRule, ManagedDomain, Retention,
};

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
    ];
    for (value, want) in cases {
        match block(&value) {
            Block::NotExpressible(why) => assert!(why.contains(want), "{why} / {want}"),
            other => panic!("{value:?} gave {other:?}"),
        }
    }
}
