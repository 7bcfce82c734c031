//! Unit tests of `cloudflare::bucket_config`: the answers that mean "none".

use super::*;

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
