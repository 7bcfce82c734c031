//! Unit tests of `cloudflare::error`.

use super::*;

fn answer(status: u16, code: i64, message: &str) -> ApiError {
    ApiError::from_answer(
        "create bucket 'logs' (eu)",
        status,
        vec![CfError {
            code,
            message: message.into(),
        }],
    )
}

#[test]
fn display_names_the_object_and_the_code() {
    let e = answer(400, 10005, "The specified bucket name is not valid.");
    assert_eq!(
        e.to_string(),
        "failed to create bucket 'logs' (eu): bucket name is invalid (code 10005)"
    );
    let e = answer(400, 4242, "Something Odd happened.");
    assert_eq!(
        e.to_string(),
        "failed to create bucket 'logs' (eu): something Odd happened (code 4242)"
    );
}

#[test]
fn an_invalid_token_says_so_with_a_hint() {
    let e = ApiError::from_answer(
        "verify the API token",
        401,
        vec![CfError {
            code: 1000,
            message: "Invalid API Token".into(),
        }],
    );
    let text = e.to_string();
    assert!(text.contains("the Cloudflare API token is invalid (code 1000)"));
    assert!(text.contains("\n  hint: check CLOUDFLARE_API_TOKEN"));
    assert!(e.is_auth());
}

#[test]
fn a_refused_lookup_names_the_permission_group_once() {
    let e = answer(403, 10000, "Authentication error").lacking("Zone Read", "custom_domains");
    assert_eq!(
        e.to_string(),
        "failed to create bucket 'logs' (eu): the API token lacks the Zone Read permission group, which custom_domains need (HTTP 403, code 10000)\n  hint: add Zone Read to the daemon's token (Cloudflare dashboard, API Tokens, edit the token, Permissions); see README \"Cloudflare permissions\""
    );
    let other = answer(500, 10001, "internal").lacking("Zone Read", "custom_domains");
    assert!(other.to_string().contains("internal error (code 10001)"));
    let invalid = answer(401, 1000, "Invalid API Token").lacking("Zone Read", "x");
    assert!(
        invalid.to_string().contains("token is invalid"),
        "not a permission"
    );
}

#[test]
fn only_permanent_4xx_answers_are_refusals() {
    assert_eq!(
        answer(405, 7001, "Method not allowed").refusal().as_deref(),
        Some("HTTP 405, code 7001: Method not allowed")
    );
    assert!(answer(400, 10042, "bad class").refusal().is_some());
    assert!(answer(403, 10000, "auth").refusal().is_some());
    for e in [
        answer(429, 971, "slow down"),
        answer(404, 10006, "gone"),
        answer(500, 10001, "internal"),
    ] {
        assert_eq!(e.refusal(), None, "{e}");
    }
    assert_eq!(ApiError::transport("x", "timeout").refusal(), None);
}

#[test]
fn classification_follows_codes_and_statuses() {
    let cases = [
        (answer(409, 10004, "exists"), "exists"),
        (answer(409, 10073, "conflict"), "exists"),
        (
            answer(409, 0, "The bucket you tried to delete (x) is not empty"),
            "not_empty",
        ),
        (answer(409, 10008, "whatever"), "not_empty"),
        (answer(404, 10006, "missing"), "not_found"),
        (answer(404, 10085, "bucket_not_found"), "not_found"),
        (answer(404, 7003, "no route"), "not_found"),
        (answer(403, 10000, "auth"), "auth"),
        (answer(429, 971, "slow down"), "rate"),
    ];
    for (e, want) in cases {
        let got = if e.is_not_empty() {
            "not_empty"
        } else if e.is_already_exists() {
            "exists"
        } else if e.is_not_found() {
            "not_found"
        } else if e.is_auth() {
            "auth"
        } else if e.is_rate_limited() {
            "rate"
        } else {
            "other"
        };
        assert_eq!(got, want, "{e}");
    }
}
