//! The switchable live-API behaviours (`Behaviour`, and the multi-item `Ratelimit` header):
//! each switch does exactly what its flag promises, and the defaults are the most likely
//! live behaviour.

mod support;

use std::time::Duration;

use cf_emulator::{Behaviour, ConditionKey, Emulator, EmulatorConfig, Faults, ZoneSeed};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn start_with(behaviour: Behaviour) -> Emulator {
    Emulator::start(EmulatorConfig {
        behaviour,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn token_body(api: &Api<'_>, extra: Value) -> Value {
    let mut body = json!({
        "name": "t",
        "policies": [{"effect": "allow", "resources": api.bucket_resource("default", "a"),
                      "permission_groups": [{"id": OBJECT_READ}]}],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn ip(key: &str, cidr: &str) -> Value {
    json!({ "condition": { key: { "in": [cidr] } } })
}

#[tokio::test]
async fn each_condition_key_mode_keeps_its_key_and_silently_drops_the_other() {
    // (mode, key sent, kept)
    let cases = [
        (ConditionKey::Both, "request_ip", true),
        (ConditionKey::Both, "request.ip", true),
        (ConditionKey::RequestIp, "request_ip", true),
        (ConditionKey::RequestIp, "request.ip", false),
        (ConditionKey::RequestDotIp, "request.ip", true),
        (ConditionKey::RequestDotIp, "request_ip", false),
        (ConditionKey::None, "request_ip", false),
        (ConditionKey::None, "request.ip", false),
    ];
    for (mode, key, kept) in cases {
        let emu = start_with(Behaviour {
            condition_key: mode,
            ..Behaviour::default()
        })
        .await;
        let api = Api::admin(&emu);
        let (s, v) = api
            .json(
                Method::POST,
                "/accounts/:acct/tokens",
                Some(token_body(&api, ip(key, "10.0.0.0/8"))),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let stored = &emu.tokens()[0];
        assert_eq!(
            stored.allow_ips.is_empty(),
            !kept,
            "{mode:?} sending {key}: {stored:?}"
        );
        if kept {
            assert_eq!(
                v["result"]["condition"]["request_ip"]["in"][0], "10.0.0.0/8",
                "answers carry request_ip"
            );
        } else {
            assert!(v["result"].get("condition").is_none(), "{v}");
        }
    }
}

#[tokio::test]
async fn sticky_fields_survive_a_put_that_leaves_them_out_and_are_cleared_otherwise() {
    for sticky in [false, true] {
        let emu = start_with(Behaviour {
            sticky_token_fields: sticky,
            ..Behaviour::default()
        })
        .await;
        let api = Api::admin(&emu);
        let extra = json!({
            "condition": {"request_ip": {"in": ["10.0.0.0/8"]}},
            "expires_on": "2999-01-01T00:00:00Z",
            "not_before": "2020-01-01T00:00:00Z",
        });
        let (_, v) = api
            .json(
                Method::POST,
                "/accounts/:acct/tokens",
                Some(token_body(&api, extra)),
            )
            .await;
        let id = v["result"]["id"].as_str().unwrap().to_string();
        let (s, _) = api
            .json(
                Method::PUT,
                &format!("/accounts/:acct/tokens/{id}"),
                Some(token_body(&api, json!({}))),
            )
            .await;
        assert_eq!(s, 200);
        let t = &emu.tokens()[0];
        assert_eq!(t.allow_ips.is_empty(), !sticky, "sticky={sticky}");
        assert_eq!(t.expires_on.is_none(), !sticky, "sticky={sticky}");
        assert_eq!(t.not_before.is_none(), !sticky, "sticky={sticky}");
        // Sent values always replace, sticky or not.
        api.json(
            Method::PUT,
            &format!("/accounts/:acct/tokens/{id}"),
            Some(token_body(&api, ip("request_ip", "192.0.2.0/24"))),
        )
        .await;
        assert_eq!(emu.tokens()[0].allow_ips, ["192.0.2.0/24"]);
    }
}

#[tokio::test]
async fn expired_tokens_are_listed_only_on_request() {
    let emu = start().await;
    let api = Api::admin(&emu);
    for (name, expires) in [
        ("old", "2020-01-01T00:00:00Z"),
        ("new", "2999-01-01T00:00:00Z"),
    ] {
        let mut body = token_body(&api, json!({ "expires_on": expires }));
        body["name"] = json!(name);
        api.json(Method::POST, "/accounts/:acct/tokens", Some(body))
            .await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v) = api.json(Method::GET, "/accounts/:acct/tokens", None).await;
    assert_eq!(names(&v), ["new"]);
    assert_eq!(v["result_info"]["total_count"], 1);
    let (_, v) = api
        .json(
            Method::GET,
            "/accounts/:acct/tokens?include_expired=true",
            None,
        )
        .await;
    assert_eq!(names(&v), ["old", "new"]);
}

#[tokio::test]
async fn a_token_revoked_as_exposed_stays_revoked_and_stops_working() {
    let emu = start().await;
    let api = Api::admin(&emu);
    let (id, value) = api
        .create_token("t", ADMIN_READ, api.account_resource())
        .await;
    let as_token = Api::with_token(&emu, &value);
    let (s, _) = as_token
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    assert_eq!(s, 200);

    let resp = http()
        .post(format!(
            "{}/__emulator/tokens/{id}/revoke-exposed",
            emu.api_url().trim_end_matches("/client/v4")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, v) = api
        .json(Method::GET, &format!("/accounts/:acct/tokens/{id}"), None)
        .await;
    assert_eq!(v["result"]["status"], "revoked (exposed)");
    let (s, _) = as_token
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    assert_eq!(s, 403, "a revoked value is refused");
    // Re-enabling does not undo it.
    let mut body = token_body(&api, json!({"status": "active"}));
    body["policies"][0]["resources"] = api.account_resource();
    body["policies"][0]["permission_groups"] = json!([{"id": ADMIN_READ}]);
    api.json(
        Method::PUT,
        &format!("/accounts/:acct/tokens/{id}"),
        Some(body),
    )
    .await;
    assert_eq!(emu.tokens()[0].status, "revoked (exposed)");
    assert!(!emu.revoke_exposed("0000"), "unknown ids are refused");
}

#[tokio::test]
async fn a_refused_storage_class_patch_and_global_bucket_names() {
    let emu = start_with(Behaviour {
        storage_class_patch: Some(405),
        global_bucket_names: true,
        ..Behaviour::default()
    })
    .await;
    let api = Api::admin(&emu);
    api.create_bucket("eu", "media").await;
    let (s, v) = api
        .json(Method::PATCH, "/accounts/:acct/r2/buckets/media", None)
        .await;
    assert_eq!((s, v["errors"][0]["code"].clone()), (405, json!(7001)));
    let (s, v) = api.create_bucket("default", "media").await;
    assert_eq!((s, v["errors"][0]["code"].clone()), (409, json!(10073)));
    let (s, v) = api.create_bucket("eu", "media").await;
    assert_eq!(
        (s, v["errors"][0]["code"].clone()),
        (409, json!(10004)),
        "the same jurisdiction says it exists and is yours"
    );

    // Defaults: names per jurisdiction, storage class patchable.
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("eu", "media").await;
    let (s, _) = api.create_bucket("default", "media").await;
    assert_eq!(s, 200);
    let status = api
        .req(Method::PATCH, "/accounts/:acct/r2/buckets/media")
        .header("cf-r2-storage-class", "InfrequentAccess")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_ratelimit_header_lists_every_window_and_the_burst_refuses_too() {
    let emu = start().await;
    emu.set_faults(Faults {
        rate_limit: Some((100, Duration::from_secs(60))),
        burst_limit: Some((2, Duration::from_secs(4))),
        ..Faults::default()
    });
    let api = Api::admin(&emu);
    let mut headers = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = api
            .req(Method::GET, "/accounts/:acct/r2/buckets")
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        headers.push(r.headers()["ratelimit"].to_str().unwrap().to_string());
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(headers[1], "\"default\";r=98;t=60, \"burst\";r=0;t=4");
}

/// A domain route of bucket `media`: (status, envelope).
async fn domain(api: &Api<'_>, method: Method, rest: &str, body: Option<Value>) -> (u16, Value) {
    api.json(
        method,
        &format!("/accounts/:acct/r2/buckets/media/domains/custom{rest}"),
        body,
    )
    .await
}

fn code(v: &Value) -> Option<i64> {
    v["errors"][0]["code"].as_i64()
}

#[tokio::test]
async fn degraded_domain_reads_answer_unknown_status_without_min_tls_zone_name_or_ciphers() {
    let emu = start().await;
    let zone = emu.add_zone(ZoneSeed::parse("example.com").unwrap());
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let (s, _) = domain(
        &api,
        Method::POST,
        "",
        Some(
            json!({"domain": "assets.example.com", "zoneId": zone, "enabled": true,
                    "minTLS": "1.2", "ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"]}),
        ),
    )
    .await;
    assert_eq!(s, 200);
    let healthy = domain(&api, Method::GET, "/assets.example.com", None)
        .await
        .1;
    assert_eq!(healthy["result"]["minTLS"], "1.2");
    emu.set_behaviour(Behaviour {
        degraded_domains: true,
        ..Behaviour::default()
    });
    let degraded = json!({"domain": "assets.example.com", "enabled": true, "zoneId": zone,
                          "status": {"ownership": "unknown", "ssl": "unknown"}});
    let (s, one) = domain(&api, Method::GET, "/assets.example.com", None).await;
    assert_eq!((s, &one["result"]), (200, &degraded));
    let (_, list) = domain(&api, Method::GET, "", None).await;
    assert_eq!(list["result"]["domains"], json!([degraded]));
    assert_eq!(
        emu.custom_domains("default", "media").unwrap()[0]["minTLS"],
        "1.2",
        "only the answer is degraded: what is stored is kept"
    );
}

#[tokio::test]
async fn a_hostname_just_removed_stays_in_use_for_the_release_time() {
    let emu = start_with(Behaviour {
        domain_release: Some(Duration::from_millis(700)),
        ..Behaviour::default()
    })
    .await;
    let zone = emu.add_zone(ZoneSeed::parse("example.com").unwrap());
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let add = json!({"domain": "assets.example.com", "zoneId": zone, "enabled": true});
    assert_eq!(
        domain(&api, Method::POST, "", Some(add.clone())).await.0,
        200
    );
    assert_eq!(
        domain(&api, Method::DELETE, "/assets.example.com", None)
            .await
            .0,
        200
    );
    let (s, v) = domain(&api, Method::POST, "", Some(add.clone())).await;
    assert_eq!((s, code(&v)), (409, Some(10080)), "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Domain already in use"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        domain(&api, Method::POST, "", Some(add)).await.0,
        200,
        "released"
    );
}

#[tokio::test]
async fn a_new_buckets_sub_resources_answer_not_found_until_the_create_reaches_them() {
    let emu = start_with(Behaviour {
        post_create_lag: Some(Duration::from_millis(700)),
        ..Behaviour::default()
    })
    .await;
    let api = Api::admin(&emu);
    assert_eq!(api.create_bucket("default", "fresh").await.0, 200);
    let routes = [
        ("/accounts/:acct/r2/buckets/fresh/cors", 10006),
        ("/accounts/:acct/r2/buckets/fresh/lifecycle", 10006),
        ("/accounts/:acct/r2/buckets/fresh/lock", 10006),
        ("/accounts/:acct/r2/buckets/fresh/domains/managed", 10006),
        ("/accounts/:acct/r2/buckets/fresh/domains/custom", 10006),
        (
            "/accounts/:acct/event_notifications/r2/fresh/configuration",
            10085,
        ),
    ];
    for (path, want) in routes {
        let (s, v) = api.json(Method::GET, path, None).await;
        assert_eq!((s, code(&v)), (404, Some(want)), "{path}");
    }
    let (s, _) = api
        .json(Method::GET, "/accounts/:acct/r2/buckets/fresh", None)
        .await;
    assert_eq!(s, 200, "the bucket itself is there");
    tokio::time::sleep(Duration::from_millis(800)).await;
    for (path, _) in routes {
        let (s, v) = api.json(Method::GET, path, None).await;
        assert_ne!(code(&v), Some(10006), "{path}: {s} {v}");
        assert_ne!(code(&v), Some(10085), "{path}: {s} {v}");
    }
}
