//! Tokens and permission groups: the value shown once, roll, own-permission limits, status,
//! update order, quotas.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::support;
use crate::support::*;

#[tokio::test]
async fn token_value_is_shown_once_and_listing_pages_across_120_tokens() {
    let emu = start().await;
    let api = Api::admin(&emu);
    let mut ids = BTreeSet::new();
    for i in 0..120 {
        let (id, value) = api
            .create_token(
                &format!("t{i}"),
                OBJECT_READ,
                api.bucket_resource("default", "x"),
            )
            .await;
        assert!(value.starts_with("cfat_"));
        ids.insert(id);
    }
    let first = ids.iter().next().unwrap().clone();
    let (_, v) = api
        .json(
            Method::GET,
            &format!("/accounts/:acct/tokens/{first}"),
            None,
        )
        .await;
    assert!(v["result"].get("value").is_none(), "value shown again: {v}");

    let mut seen = BTreeSet::new();
    for page in 1.. {
        let (_, v) = api
            .json(
                Method::GET,
                &format!("/accounts/:acct/tokens?per_page=50&page={page}"),
                None,
            )
            .await;
        let items = v["result"].as_array().unwrap();
        assert_eq!(v["result_info"]["total_count"], 120);
        for t in items {
            assert!(t.get("value").is_none());
            assert!(seen.insert(t["id"].as_str().unwrap().to_string()));
        }
        if items.len() < 50 {
            break;
        }
    }
    assert_eq!(seen, ids);
    let (s, _) = api
        .json(Method::GET, "/accounts/:acct/tokens?per_page=4", None)
        .await;
    assert_eq!(s, 400);
    // Account tokens are not user tokens.
    let (_, v) = api
        .json(Method::GET, "/user/tokens?per_page=50", None)
        .await;
    assert_eq!(v["result"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn roll_keeps_the_id_and_kills_the_old_value() {
    let emu = start().await;
    let api = Api::admin(&emu);
    let (id, old) = api
        .create_token("t", ADMIN_READ, api.account_resource())
        .await;
    let (s, v) = api
        .json(
            Method::PUT,
            &format!("/accounts/:acct/tokens/{id}/value"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200);
    let new = v["result"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let (s, v) = Api::with_token(&emu, &old)
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (401, Some(1000)));
    let (s, _) = Api::with_token(&emu, &new)
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn created_tokens_are_limited_to_their_own_permissions() {
    let emu = start().await;
    let admin = Api::admin(&emu);
    let (_, reader) = admin
        .create_token("reader", ADMIN_READ, admin.account_resource())
        .await;
    let reader = Api::with_token(&emu, &reader);
    assert_eq!(
        reader
            .json(Method::GET, "/accounts/:acct/r2/buckets", None)
            .await
            .0,
        200
    );
    let (s, v) = reader.create_bucket("default", "nope").await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (403, Some(10000)));
    let (s, _) = reader
        .json(Method::GET, "/accounts/:acct/tokens", None)
        .await;
    assert_eq!(s, 403);

    let (s, v) = Api::with_token(&emu, "garbage")
        .json(Method::GET, "/accounts/:acct/tokens/verify", None)
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (401, Some(1000)));
    let r = support::http()
        .get(format!(
            "{}/accounts/{}/r2/buckets",
            emu.api_url(),
            emu.account_id()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // An account token verifies at the account endpoint only.
    let (s, v) = reader
        .json(Method::GET, "/accounts/:acct/tokens/verify", None)
        .await;
    assert_eq!((s, v["result"]["status"].as_str()), (200, Some("active")));
    let (s, v) = reader.json(Method::GET, "/user/tokens/verify", None).await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (401, Some(1000)));

    // Another account id is not ours.
    let (s, v) = admin
        .json(
            Method::GET,
            "/accounts/00000000000000000000000000000000/r2/buckets",
            None,
        )
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (403, Some(9109)));
}

#[tokio::test]
async fn disabled_and_expired_tokens_stop_working_and_report_their_status() {
    let emu = start().await;
    let admin = Api::admin(&emu);
    let (id, value) = admin
        .create_token("t", ADMIN_READ, admin.account_resource())
        .await;
    let body = json!({
        "name": "t", "status": "disabled",
        "policies": [{"effect": "allow", "resources": admin.account_resource(), "permission_groups": [{"id": ADMIN_READ}]}],
    });
    assert_eq!(
        admin
            .json(
                Method::PUT,
                &format!("/accounts/:acct/tokens/{id}"),
                Some(body)
            )
            .await
            .0,
        200
    );
    let (s, v) = Api::with_token(&emu, &value)
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (403, Some(9109)));

    let (s, v) = admin
        .json(
            Method::POST,
            "/accounts/:acct/tokens",
            Some(json!({
                "name": "old", "expires_on": "2020-01-01T00:00:00Z",
                "policies": [{"effect": "allow", "resources": admin.account_resource(), "permission_groups": [{"id": ADMIN_READ}]}],
            })),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["result"]["status"], "expired");
}

#[tokio::test]
async fn update_replaces_policies_and_condition_and_answers_in_cloudflare_order() {
    let emu = start().await;
    let admin = Api::admin(&emu);
    let (id, _) = admin
        .create_token("t", OBJECT_READ, admin.bucket_resource("default", "a"))
        .await;
    let body = json!({
        "name": "t2",
        "policies": [{"effect": "allow", "resources": admin.bucket_resource("default", "a"),
                      "permission_groups": [{"id": OBJECT_READ}, {"id": OBJECT_WRITE}]}],
        "condition": {"request_ip": {"in": ["203.0.113.0/24"], "not_in": ["203.0.113.7/32"]}},
    });
    let (s, v) = admin
        .json(
            Method::PUT,
            &format!("/accounts/:acct/tokens/{id}"),
            Some(body),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let t = &v["result"];
    assert_eq!(t["id"], id.as_str());
    assert_eq!(t["name"], "t2");
    // Sent read, write; Cloudflare does not keep the order.
    assert_eq!(t["policies"][0]["permission_groups"][0]["id"], OBJECT_WRITE);
    // A GET (and a write's answer) carries `request_ip` (Terraform v5's `account_token` import
    // test).
    assert_eq!(t["condition"]["request_ip"]["in"][0], "203.0.113.0/24");
    assert_eq!(t["condition"]["request_ip"]["not_in"][0], "203.0.113.7/32");
}

#[tokio::test]
async fn quotas_limit_user_tokens_to_50() {
    let emu = start().await;
    let admin = Api::admin(&emu);
    let body = json!({"name": "u", "policies": [{"effect": "allow", "resources": admin.account_resource(), "permission_groups": [{"id": ADMIN_READ}]}]});
    for _ in 0..50 {
        assert_eq!(
            admin
                .json(Method::POST, "/user/tokens", Some(body.clone()))
                .await
                .0,
            200
        );
    }
    let (s, v) = admin.json(Method::POST, "/user/tokens", Some(body)).await;
    assert_eq!(s, 400);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("quota")
    );
}

#[tokio::test]
async fn permission_groups_list_the_four_r2_groups_and_filter_by_name() {
    let emu = start().await;
    let admin = Api::admin(&emu);
    let (_, v) = admin
        .json(
            Method::GET,
            "/accounts/:acct/tokens/permission_groups",
            None,
        )
        .await;
    let ids: BTreeSet<&str> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    for id in [OBJECT_WRITE, OBJECT_READ, ADMIN_WRITE, ADMIN_READ] {
        assert!(ids.contains(id));
    }
    assert!(ids.len() > 4, "unrelated groups are listed too");
    let (_, v) = admin
        .json(
            Method::GET,
            "/user/tokens/permission_groups?name=Workers%20R2%20Storage%20Bucket%20Item%20Read",
            None,
        )
        .await;
    let groups = v["result"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["id"], OBJECT_READ);
    assert_eq!(groups[0]["scopes"][0], "com.cloudflare.edge.r2.bucket");
}
