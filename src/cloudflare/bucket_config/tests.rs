//! Unit tests of `cloudflare::bucket_config`.

use super::*;
use std::collections::BTreeSet;

fn lifecycle(v: Value) -> Vec<LifecycleRule> {
    match decode(ConfigKind::Lifecycle, &v).unwrap() {
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
    let cors = |v: Value| match decode(ConfigKind::Cors, &v).unwrap() {
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
        let back = decode(v.kind(), &body(&v)).unwrap();
        assert_eq!(back, v, "{}", body(&v));
    }
}

#[test]
fn a_cors_404_without_a_bucket_or_route_code_is_no_policy() {
    let e = |status, code| {
        ApiError::from_answer(
            "read",
            status,
            vec![crate::cloudflare::CfError {
                code,
                message: "x".into(),
            }],
        )
    };
    assert!(no_cors_policy(&e(404, NO_CORS_POLICY)));
    assert!(no_cors_policy(&e(400, NO_CORS_POLICY)));
    assert!(no_cors_policy(&e(404, 10000)));
    assert!(!no_cors_policy(&e(404, 10006)), "the bucket is gone");
    assert!(!no_cors_policy(&e(404, 7003)), "wrong route");
    assert!(!no_cors_policy(&e(500, 10001)));
}

#[test]
fn a_bucket_cloudflare_does_not_know_yet_never_reads_as_no_rules() {
    // NoSuchBucket and BucketNotFound, as a new bucket's sub-resources answer for a
    // while after its create: the bucket is unknown there, its rules are not "none".
    let e = |code| {
        ApiError::from_answer(
            "read",
            404,
            vec![crate::cloudflare::CfError {
                code,
                message: "x".into(),
            }],
        )
    };
    for code in [10006, 10085] {
        assert!(e(code).is_bucket_missing(), "{code}");
        assert!(!no_cors_policy(&e(code)), "{code}: CORS");
        assert!(
            !super::super::notification::no_rules(&e(code)),
            "{code}: notifications"
        );
    }
    assert!(!e(10059).is_bucket_missing());
}
