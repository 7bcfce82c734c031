//! Unit tests of `cloudflare::wire`.

use super::*;

fn wire_token(v: Value) -> WireToken {
    serde_json::from_value(v).unwrap()
}

#[test]
fn reordered_policies_and_groups_convert_to_the_same_token() {
    let a = wire_token(json!({
        "id": "AB", "name": "r2gitops:x", "status": "active",
        "policies": [
            {"effect": "allow", "resources": {"k1": "*", "k2": "*"}, "permission_groups": [{"id": "g1"}, {"id": "g2"}]},
            {"effect": "deny", "resources": {"k3": "*"}, "permission_groups": [{"id": "g3"}]}
        ],
        "condition": {"request.ip": {"in": ["10.0.0.0/8", "192.0.2.1/24"], "not_in": ["10.0.0.7"]}}
    }));
    let b = wire_token(json!({
        "id": "ab", "name": "r2gitops:x", "status": "active",
        "policies": [
            {"effect": "deny", "resources": {"k3": "*"}, "permission_groups": [{"id": "G3"}]},
            {"effect": "allow", "resources": {"k2": "*", "k1": "*"}, "permission_groups": [{"id": "g2"}, {"id": "g1"}]}
        ],
        "condition": {"request_ip": {"in": ["192.0.2.0/24", "10.0.0.0/8"], "not_in": ["10.0.0.7/32"]}}
    }));
    let (a, b) = (token(a, Owner::Account), token(b, Owner::Account));
    assert_eq!(a, b);
    assert_eq!(
        a.condition.allow[1].to_string(),
        "192.0.2.0/24",
        "host bits are normalised"
    );
}

#[test]
fn nested_resource_maps_survive_the_round_trip() {
    let w = wire_token(json!({
        "id": "x", "name": "n", "status": "disabled",
        "policies": [{"effect": "allow",
            "resources": {"com.cloudflare.api.account.abc": {"com.cloudflare.edge.r2.bucket.*": "*"}},
            "permission_groups": [{"id": "g"}]}]
    }));
    let t = token(w, Owner::User);
    assert_eq!(t.status, TokenStatus::Disabled);
    let req = TokenRequest {
        name: "n".into(),
        policies: t.policies.clone(),
        not_before: None,
        expires_on: None,
        condition: IpRules::default(),
        status: Some(TokenStatus::Active),
    };
    let body = token_body(&req, ConditionKey::RequestIp);
    assert_eq!(
        body["policies"][0]["resources"]["com.cloudflare.api.account.abc"]["com.cloudflare.edge.r2.bucket.*"],
        "*"
    );
    assert_eq!(body["status"], "active");
    assert!(body.get("condition").is_none());
}

#[test]
fn bucket_locations_compare_case_insensitively() {
    let b = bucket(
        serde_json::from_value(
            json!({"name": "n", "location": "ENAM", "storage_class": "InfrequentAccess"}),
        )
        .unwrap(),
        Jurisdiction::Eu,
    );
    assert_eq!(b.location, Some(LocationHint::Enam));
    assert_eq!(b.storage_class, StorageClass::InfrequentAccess);
}

fn ip_request() -> TokenRequest {
    TokenRequest {
        name: "n".into(),
        policies: Vec::new(),
        not_before: Some(OffsetDateTime::parse("2026-12-01T10:00:00.250+02:00", &Rfc3339).unwrap()),
        expires_on: None,
        condition: IpRules {
            allow: vec!["10.0.0.0/8".parse().unwrap()],
            deny: vec![],
        },
        status: None,
    }
}

#[test]
fn the_condition_travels_under_the_chosen_key_and_times_in_utc_with_z() {
    let req = ip_request();
    for key in [ConditionKey::RequestIp, ConditionKey::RequestDotIp] {
        let body = token_body(&req, key);
        let cond = body["condition"].as_object().unwrap();
        assert_eq!(cond.keys().collect::<Vec<_>>(), [key.as_str()]);
        assert_eq!(cond[key.as_str()]["in"], json!(["10.0.0.0/8"]));
        assert!(cond[key.as_str()].get("not_in").is_none());
    }
    assert_eq!(
        token_body(&req, ConditionKey::RequestIp)["not_before"],
        "2026-12-01T08:00:00Z",
        "the same instant, in UTC, to the second"
    );
}

#[test]
fn timestamps_compare_as_instants() {
    let a = OffsetDateTime::parse("2026-12-01T10:00:00+02:00", &Rfc3339).unwrap();
    let b = OffsetDateTime::parse("2026-12-01T08:00:00Z", &Rfc3339).unwrap();
    assert_eq!(a, b);
}

#[test]
fn statuses_cloudflare_reports_are_kept_verbatim_when_unknown() {
    for (wire, want) in [
        ("active", TokenStatus::Active),
        ("disabled", TokenStatus::Disabled),
        ("expired", TokenStatus::Expired),
        ("revoked (exposed)", TokenStatus::RevokedExposed),
        ("suspended", TokenStatus::Other("suspended".into())),
    ] {
        assert_eq!(status(wire), want);
        assert_eq!(status(wire).as_str(), wire);
    }
}
