//! Unit tests of `plan::readback`.

use std::collections::BTreeMap;

use time::macros::datetime;

use super::*;
use crate::config::Owner;
use crate::observed::{Effect, ResourceValue};

fn policy(bucket: &str) -> Policy {
    Policy {
        effect: Effect::Allow,
        permission_groups: BTreeSet::from(["g".to_string()]),
        resources: BTreeMap::from([(bucket.to_string(), ResourceValue::Str("*".into()))]),
    }
}

fn rules(allow: &[&str], deny: &[&str]) -> IpRules {
    IpRules {
        allow: allow.iter().map(|s| s.parse().unwrap()).collect(),
        deny: deny.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn sent() -> TokenRequest {
    TokenRequest {
        name: "r2gitops:reader".into(),
        policies: vec![policy("a"), policy("b")],
        not_before: Some(datetime!(2026-12-01 00:00 UTC)),
        expires_on: Some(datetime!(2027-01-01 00:00 UTC)),
        condition: rules(&["10.0.0.0/8"], &["10.0.0.7/32"]),
        status: Some(TokenStatus::Active),
    }
}

/// What an honest server stores: the request, policies reordered, times with another
/// offset and sub-second noise.
fn stored(req: &TokenRequest) -> ObservedToken {
    let mut policies = req.policies.clone();
    policies.reverse();
    ObservedToken {
        id: "x".into(),
        name: req.name.clone(),
        owner: Owner::Account,
        status: TokenStatus::Active,
        issued_on: None,
        modified_on: None,
        not_before: req
            .not_before
            .map(|t| t.to_offset(time::macros::offset!(+2))),
        expires_on: req.expires_on.map(|t| t.replace_millisecond(300).unwrap()),
        policies,
        condition: req.condition.clone(),
    }
}

#[test]
fn an_honest_store_reads_back_clean() {
    let req = sent();
    assert_eq!(compare(&req, &stored(&req), "request_ip"), vec![]);
}

#[test]
fn each_field_cloudflare_did_not_store_is_named_and_classified() {
    type Edit = fn(&mut ObservedToken);
    // (what the server did, field, kept, loosens)
    let cases: Vec<(&str, Edit, TokenField, bool, bool)> = vec![
        (
            "condition dropped",
            |t| t.condition = IpRules::default(),
            TokenField::IpRules,
            false,
            true,
        ),
        (
            "deny list dropped",
            |t| t.condition.deny.clear(),
            TokenField::IpRules,
            false,
            true,
        ),
        (
            "allow widened",
            |t| t.condition.allow = rules(&["0.0.0.0/0"], &[]).allow,
            TokenField::IpRules,
            false,
            true,
        ),
        (
            "expiry dropped",
            |t| t.expires_on = None,
            TokenField::ExpiresOn,
            false,
            true,
        ),
        (
            "expiry later",
            |t| t.expires_on = Some(datetime!(2028-01-01 00:00 UTC)),
            TokenField::ExpiresOn,
            false,
            true,
        ),
        (
            "expiry earlier",
            |t| t.expires_on = Some(datetime!(2026-12-24 00:00 UTC)),
            TokenField::ExpiresOn,
            false,
            false,
        ),
        (
            "not_before dropped",
            |t| t.not_before = None,
            TokenField::NotBefore,
            false,
            true,
        ),
        (
            "not_before earlier",
            |t| t.not_before = Some(datetime!(2026-11-01 00:00 UTC)),
            TokenField::NotBefore,
            false,
            true,
        ),
        (
            "policy lost",
            |t| {
                t.policies.pop();
            },
            TokenField::Policies,
            false,
            true,
        ),
        (
            "left disabled",
            |t| t.status = TokenStatus::Disabled,
            TokenField::Status,
            false,
            false,
        ),
        (
            "still expired",
            |t| t.status = TokenStatus::Expired,
            TokenField::Status,
            true,
            false,
        ),
        (
            "renamed",
            |t| t.name = "other".into(),
            TokenField::Name,
            false,
            false,
        ),
    ];
    let req = sent();
    for (what, edit, field, kept, loosens) in cases {
        let mut t = stored(&req);
        edit(&mut t);
        let got = compare(&req, &t, "request_ip");
        assert_eq!(got.len(), 1, "{what}: {got:?}");
        assert_eq!(
            (got[0].field, got[0].kept, got[0].loosens),
            (field, kept, loosens),
            "{what}"
        );
    }
}

#[test]
fn a_removed_restriction_that_came_back_is_a_kept_field() {
    let mut req = sent();
    req.condition = IpRules::default();
    req.expires_on = None;
    let mut t = stored(&sent());
    t.status = TokenStatus::Active;
    let got = compare(&req, &t, "request_ip");
    let fields: Vec<TokenField> = got.iter().map(|m| m.field).collect();
    assert_eq!(fields, [TokenField::IpRules, TokenField::ExpiresOn]);
    assert!(only_kept(&got));
    assert!(!loosens(&got));
}

#[test]
fn the_message_names_the_field_the_key_and_both_values() {
    let req = sent();
    let mut t = stored(&req);
    t.condition = IpRules::default();
    let got = compare(&req, &t, "request_ip");
    assert_eq!(
        message("reader", &got),
        "Cloudflare did not store the IP condition of token reader (sent request_ip allow 10.0.0.0/8 deny 10.0.0.7/32, read back none)"
    );
    assert!(!only_kept(&got));
    assert!(loosens(&got));
}
