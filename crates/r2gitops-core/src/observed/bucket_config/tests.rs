//! Unit tests of the kinds' JSON: Cloudflare's spellings decode to one canonical value,
//! and a body decodes back to what it was made from.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::config::MinTls;
use crate::observed::custom_domain::{CustomDomain, DomainStatus};
use crate::observed::notification::{NotificationRule, QueueId, QueueRules};

fn lifecycle(v: Value) -> Vec<LifecycleRule> {
    match ConfigValue::decode(ConfigKind::Lifecycle, &v).unwrap() {
        ConfigValue::Lifecycle(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_default_rule_with_conditions_and_no_prefix_decodes_as_the_whole_bucket() {
    // Verbatim as a new bucket's GET shows it (the rule wrangler's `r2/lifecycle.ts` re-sends).
    let got = lifecycle(
        json!({"rules": [{"id":"Default Multipart Abort Rule","enabled":true,"conditions":{},"abortMultipartUploadsTransition":{"condition":{"type":"Age","maxAge":604800}}}]}),
    );
    assert_eq!(got, [LifecycleRule::cloudflare_default()]);
}

#[test]
fn cloudflare_spellings_decode_to_one_canonical_value() {
    let cors = |v: Value| match ConfigValue::decode(ConfigKind::Cors, &v).unwrap() {
        ConfigValue::Cors(r) => r,
        other => panic!("{other:?}"),
    };
    // Upper/lower case, nulls, float ages, unknown fields.
    let a = cors(
        json!({"rules": [{"id": "web", "allowed": {"origins": ["https://a.example"], "methods": ["get", "Put"], "headers": null}, "exposeHeaders": ["ETag"], "maxAgeSeconds": 3600.0, "extra": 1}]}),
    );
    let b = CorsRule::new(
        Some("web".into()),
        ["https://a.example"],
        ["GET", "PUT"],
        [],
        ["etag"],
        Some(3600),
    );
    assert_eq!(a, [b]);
    assert_eq!(cors(json!({"rules": null})), []);
    assert_eq!(cors(json!({})), []);

    let lc = lifecycle(
        json!({"rules": [{"id": "x", "conditions": {"prefix": "tmp/"}, "deleteObjectsTransition": {}, "storageClassTransitions": null, "abortMultipartUploadsTransition": {"condition": null}}]}),
    );
    assert_eq!(lc[0].expire, None, "an empty transition is no transition");
    assert!(lc[0].transitions.is_empty() && lc[0].abort_multipart_secs.is_none());
    assert!(lc[0].enabled, "enabled defaults to on");
}

#[test]
fn a_body_decodes_back_to_the_value_it_was_made_from() {
    let values = [
        ConfigValue::Cors(vec![
            CorsRule::new(
                Some("web".into()),
                ["https://a.example", "http://localhost:3000"],
                ["GET", "HEAD"],
                ["content-type"],
                ["etag"],
                Some(600),
            ),
            CorsRule::new(None, ["*"], ["GET"], [], [], None),
        ]),
        ConfigValue::Lifecycle(vec![
            LifecycleRule {
                id: "expire-tmp".into(),
                enabled: true,
                prefix: "tmp/".into(),
                expire: Some(Condition::Age(604_800)),
                transitions: BTreeSet::from([Condition::Age(86_400)]),
                abort_multipart_secs: Some(86_400),
            },
            LifecycleRule {
                id: "dated".into(),
                enabled: false,
                prefix: String::new(),
                expire: Some(Condition::Date(1_798_761_600)),
                transitions: BTreeSet::from([Condition::Date(1_790_000_000)]),
                abort_multipart_secs: None,
            },
        ]),
        ConfigValue::Lock(vec![
            LockRule {
                id: "a".into(),
                enabled: true,
                prefix: "contracts/".into(),
                retention: Retention::Age(31_536_000),
            },
            LockRule {
                id: "b".into(),
                enabled: false,
                prefix: String::new(),
                retention: Retention::Date(1_893_456_000),
            },
            LockRule {
                id: "c".into(),
                enabled: true,
                prefix: String::new(),
                retention: Retention::Indefinite,
            },
        ]),
        ConfigValue::PublicDevUrl(ManagedDomain {
            enabled: true,
            domain: None,
        }),
    ];
    for v in values {
        let body = v.body().expect("replaced whole");
        let back = ConfigValue::decode(v.kind(), &body).unwrap();
        assert_eq!(back, v, "{body}");
    }
}

fn notifications(v: &Value) -> Result<Vec<QueueRules>, String> {
    match ConfigValue::decode(ConfigKind::Notifications, v)? {
        ConfigValue::Notifications(q) => Ok(q),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_dashed_queue_id_decodes_to_the_32_hex_form_of_the_queue_list_and_the_paths() {
    let v = json!({"bucketName": "media", "queues": [
        {"queueId": "9af92711-53ee-4b1c-a0b5-c0ffee000001", "queueName": "uploads", "rules": [{"actions": ["PutObject"]}]}
    ]});
    let q = notifications(&v).unwrap();
    assert_eq!(
        q[0].queue_id.as_ref().map(QueueId::as_str),
        Some("9af9271153ee4b1ca0b5c0ffee000001")
    );
}

#[test]
fn a_configuration_decodes_to_rule_sets_and_a_rule_body_back() {
    let v = json!({"bucketName": "media", "queues": [
        {"queueId": "q1", "queueName": "uploads", "rules": [
            {"ruleId": "r1", "createdAt": "2026-01-01T00:00:00Z", "actions": ["PutObject", "CopyObject"], "prefix": "images/", "suffix": null},
            {"ruleId": "r2", "actions": ["DeleteObject"], "description": "gone"}
        ]},
        {"queueId": "q2", "queueName": "empty", "rules": null}
    ]});
    let q = notifications(&v).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].rules.len(), 2);
    assert!(q[1].rules.is_empty());
    let first = q[0].rules.iter().find(|r| r.prefix == "images/").unwrap();
    assert_eq!(first.suffix, "", "null is empty");
    assert_eq!(
        first.body(),
        json!({"actions": ["CopyObject", "PutObject"], "prefix": "images/"})
    );
    assert_eq!(NotificationRule::decode(&first.body()).unwrap(), *first);
    assert_eq!(notifications(&json!({"bucketName": "x"})).unwrap(), []);
    assert!(notifications(&json!({"queues": [{"rules": [{"prefix": "a"}]}]})).is_err());
}

#[test]
fn a_domain_decodes_canonically_with_its_status() {
    let d = CustomDomain::decode(&json!({
        "domain": "Assets.Example.com", "enabled": false, "zoneId": "z1",
        "zoneName": "example.com", "status": {"ownership": "pending", "ssl": "initializing"},
        "ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"], "extra": 1
    }))
    .unwrap();
    assert_eq!(d.domain, "assets.example.com");
    assert_eq!(d.min_tls, Some(MinTls::V10), "absent minTLS is the default");
    assert!(!d.enabled);
    assert_eq!(d.status.as_ref().unwrap().ownership, "pending");
    // The create answer has no status and no zone name (a degraded answer too).
    let d = CustomDomain::decode(
        &json!({"domain": "a.example.com", "enabled": true, "zoneId": "z1", "minTLS": "1.2"}),
    )
    .unwrap();
    assert_eq!(d.min_tls, Some(MinTls::V12));
    assert_eq!((d.zone_name, d.status), (None, None));
    assert_eq!(
        ConfigValue::decode(ConfigKind::CustomDomains, &json!({"domains": null})).unwrap(),
        ConfigValue::CustomDomains(Vec::new())
    );
    assert!(CustomDomain::decode(&json!({"enabled": true})).is_err());
}

#[test]
fn a_degraded_answer_leaves_what_it_omits_unknown_not_defaulted() {
    // (answer, min_tls, zone name, degraded)
    let degraded = json!({"domain": "a.example.com", "enabled": true, "zoneId": "z1",
                          "status": {"ownership": "unknown", "ssl": "unknown"}});
    let healthy = json!({"domain": "a.example.com", "enabled": true, "zoneId": "z1",
                         "zoneName": "example.com",
                         "status": {"ownership": "active", "ssl": "active"}});
    let one_unknown = json!({"domain": "a.example.com", "enabled": true, "zoneId": "z1",
                             "status": {"ownership": "active", "ssl": "unknown"}});
    let mut degraded_with_tls = degraded.clone();
    degraded_with_tls["minTLS"] = json!("1.2");
    let cases = [
        (degraded, None, None, true),
        (degraded_with_tls, Some(MinTls::V12), None, true),
        (healthy, Some(MinTls::V10), Some("example.com"), false),
        (one_unknown, Some(MinTls::V10), None, false),
    ];
    for (answer, tls, zone, is_degraded) in cases {
        let d = CustomDomain::decode(&answer).unwrap();
        assert_eq!(d.min_tls, tls, "{answer}");
        assert_eq!(d.zone_name.as_deref(), zone, "{answer}");
        assert_eq!(
            d.status.as_ref().is_some_and(DomainStatus::degraded),
            is_degraded,
            "{answer}"
        );
    }
}

#[test]
fn an_answer_of_the_wrong_shape_is_an_error_naming_what_it_holds() {
    for (rules, holds) in [
        (json!("x"), "a string"),
        (json!(1), "a number"),
        (json!(true), "a boolean"),
        (json!({}), "an object"),
    ] {
        for kind in [ConfigKind::Cors, ConfigKind::Lifecycle, ConfigKind::Lock] {
            let e = ConfigValue::decode(kind, &json!({ "rules": rules })).unwrap_err();
            assert_eq!(e, format!("'rules' is {holds}"), "{kind:?}");
        }
    }
}

#[test]
fn a_lone_string_where_a_list_belongs_is_a_list_of_one() {
    let v = json!({"rules": [{"allowed": {"origins": "https://a.example", "methods": "GET"}}]});
    let ConfigValue::Cors(rules) = ConfigValue::decode(ConfigKind::Cors, &v).unwrap() else {
        panic!("a CORS value");
    };
    assert_eq!(
        rules,
        [CorsRule::new(
            None,
            ["https://a.example"],
            ["GET"],
            [],
            [],
            None
        )]
    );
}
