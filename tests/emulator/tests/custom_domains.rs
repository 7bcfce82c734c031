//! The zone directory and the custom-domain routes
//! (https://developers.cloudflare.com/r2/buckets/public-buckets/): zones
//! filtered by name and account, with their type and account; Zone Read needed to look;
//! POST, GET, PUT (a patch) and DELETE of a domain with its status and its DNS record; 409
//! for a hostname attached anywhere in the account; "zone_id incorrect" for a partial zone
//! or another account's; every call in the namespace `cf-r2-jurisdiction` names.

mod support;

use cf_emulator::{Emulator, EmulatorConfig, ZoneSeed};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const OTHER: &str = "ffffffffffffffffffffffffffffffff";

async fn with_zones() -> Emulator {
    Emulator::start(EmulatorConfig {
        zones: [
            "example.com",
            "cname.example:partial",
            &format!("theirs.example@{OTHER}"),
        ]
        .iter()
        .map(|z| ZoneSeed::parse(z).unwrap())
        .collect(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

async fn domains(
    api: &Api<'_>,
    method: Method,
    bucket: &str,
    rest: &str,
    j: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = api.req(
        method,
        &format!("/accounts/:acct/r2/buckets/{bucket}/domains/custom{rest}"),
    );
    if let Some(j) = j {
        r = r.header("cf-r2-jurisdiction", j);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn code(v: &Value) -> i64 {
    v["errors"][0]["code"].as_i64().unwrap()
}

#[tokio::test]
async fn zones_are_listed_by_name_and_account_with_their_type_and_need_zone_read() {
    let emu = with_zones().await;
    let api = Api::admin(&emu);
    let acct = emu.account_id().to_string();
    let (s, v) = api
        .json(
            Method::GET,
            &format!("/zones?name=example.com&account.id={acct}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let zone = &v["result"][0];
    assert_eq!(
        (zone["name"].as_str(), zone["type"].as_str()),
        (Some("example.com"), Some("full"))
    );
    assert_eq!(zone["account"]["id"], acct.as_str());
    assert_eq!(v["result_info"]["total_count"], 1);
    let id = zone["id"].as_str().unwrap();
    let (s, by_id) = api.json(Method::GET, &format!("/zones/{id}"), None).await;
    assert_eq!((s, &by_id["result"]["name"]), (200, &json!("example.com")));
    // Another account's zone is not in this account's list, but is seen by name alone.
    let (_, v) = api
        .json(
            Method::GET,
            &format!("/zones?name=theirs.example&account.id={acct}"),
            None,
        )
        .await;
    assert_eq!(v["result"], json!([]));
    let (_, v) = api
        .json(Method::GET, "/zones?name=theirs.example", None)
        .await;
    assert_eq!(v["result"][0]["account"]["id"], OTHER);
    let (_, v) = api
        .json(Method::GET, "/zones?name=cname.example", None)
        .await;
    assert_eq!(v["result"][0]["type"], "partial");
    let (s, v) = api
        .json(Method::GET, &format!("/zones/{}", "0".repeat(32)), None)
        .await;
    assert_eq!((s, code(&v)), (404, 7003));

    // A token with R2 rights only may not look; with Zone Read it may.
    let (_, r2_only) = api
        .create_token("r2", ADMIN_WRITE, api.account_resource())
        .await;
    let (s, v) = Api::with_token(&emu, &r2_only)
        .json(Method::GET, "/zones?name=example.com", None)
        .await;
    assert_eq!((s, code(&v)), (403, 10000));
    let (_, zone_reader) = api
        .create_token("zones", "c8fed203ed3043cba015a93ad1616f1f", json!({
            format!("com.cloudflare.api.account.{acct}"): {"com.cloudflare.api.account.zone.*": "*"}
        }))
        .await;
    let (s, _) = Api::with_token(&emu, &zone_reader)
        .json(Method::GET, "/zones?name=example.com", None)
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_domain_is_added_read_patched_and_removed_with_its_dns_record() {
    let emu = with_zones().await;
    let api = Api::admin(&emu);
    api.create_bucket("eu", "media").await;
    let zone_id = emu.add_zone(ZoneSeed::parse("example.com").unwrap());
    let body = json!({"domain": "assets.example.com", "zoneId": zone_id, "enabled": true, "minTLS": "1.2"});
    // Without the jurisdiction header the EU bucket does not exist.
    let (s, v) = domains(&api, Method::POST, "media", "", None, Some(body.clone())).await;
    assert_eq!((s, code(&v)), (404, 10006));
    let (s, v) = domains(
        &api,
        Method::POST,
        "media",
        "",
        Some("eu"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["result"],
        json!({"domain": "assets.example.com", "enabled": true, "zoneId": zone_id, "minTLS": "1.2"})
    );
    assert_eq!(emu.dns_records("example.com"), ["assets.example.com"]);
    let (_, v) = domains(&api, Method::GET, "media", "", Some("eu"), None).await;
    assert_eq!(
        v["result"]["domains"],
        json!([{"domain": "assets.example.com", "enabled": true, "minTLS": "1.2", "zoneId": zone_id,
                "zoneName": "example.com", "status": {"ownership": "pending", "ssl": "initializing"}}])
    );
    // PUT patches: an absent minTLS keeps the stored one.
    let (s, v) = domains(
        &api,
        Method::PUT,
        "media",
        "/assets.example.com",
        Some("eu"),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(
        (s, &v["result"]),
        (
            200,
            &json!({"domain": "assets.example.com", "enabled": false, "minTLS": "1.2"})
        )
    );
    assert!(emu.set_domain_status("eu", "media", "assets.example.com", "active", "active"));
    let (_, one) = domains(
        &api,
        Method::GET,
        "media",
        "/assets.example.com",
        Some("eu"),
        None,
    )
    .await;
    assert_eq!(
        one["result"]["status"],
        json!({"ownership": "active", "ssl": "active"})
    );
    assert_eq!(one["result"]["enabled"], false);
    let (s, v) = domains(
        &api,
        Method::DELETE,
        "media",
        "/assets.example.com",
        Some("eu"),
        None,
    )
    .await;
    assert_eq!(
        (s, &v["result"]),
        (200, &json!({"domain": "assets.example.com"}))
    );
    assert!(
        emu.dns_records("example.com").is_empty(),
        "the record goes with it"
    );
    let (s, v) = domains(
        &api,
        Method::GET,
        "media",
        "/assets.example.com",
        Some("eu"),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (404, 10053));
}

#[tokio::test]
async fn an_unknown_domain_answers_404_with_code_10053() {
    // alchemy-run/distilled's DomainNotFound (a code its live tests recorded), on GET, PUT
    // and DELETE alike.
    let emu = with_zones().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"enabled": false}))),
        (Method::DELETE, None),
    ] {
        let (s, v) = domains(
            &api,
            method.clone(),
            "media",
            "/nope.example.com",
            None,
            body,
        )
        .await;
        assert_eq!((s, code(&v)), (404, 10053), "{method}");
    }
}

#[tokio::test]
async fn a_hostname_serves_one_bucket_and_needs_a_full_zone_of_the_account() {
    let emu = with_zones().await;
    let api = Api::admin(&emu);
    for b in ["media", "other"] {
        api.create_bucket("default", b).await;
    }
    let id = |name: &str| emu.add_zone(ZoneSeed::parse(name).unwrap());
    let example = id("example.com");
    let add = |domain: &str, zone: &str| json!({"domain": domain, "zoneId": zone, "enabled": true});
    let (s, _) = domains(
        &api,
        Method::POST,
        "other",
        "",
        None,
        Some(add("assets.example.com", &example)),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = domains(
        &api,
        Method::POST,
        "media",
        "",
        None,
        Some(add("assets.example.com", &example)),
    )
    .await;
    assert_eq!((s, code(&v)), (409, 10080), "attached to another bucket");
    let (s, v) = domains(
        &api,
        Method::POST,
        "other",
        "",
        None,
        Some(add("Assets.Example.com", &example)),
    )
    .await;
    assert_eq!((s, code(&v)), (409, 10080), "and to this one");
    for (domain, zone) in [
        ("a.cname.example", id("cname.example:partial")),
        ("a.theirs.example", id(&format!("theirs.example@{OTHER}"))),
        ("a.example.org", example.clone()),
        ("a.example.com", "0".repeat(32)),
    ] {
        let (s, v) = domains(
            &api,
            Method::POST,
            "media",
            "",
            None,
            Some(add(domain, &zone)),
        )
        .await;
        assert_eq!((s, code(&v)), (400, 10082), "{domain}");
        assert_eq!(v["errors"][0]["message"], "zone_id incorrect");
    }
    let (s, v) = domains(
        &api,
        Method::POST,
        "media",
        "",
        None,
        Some(json!({"domain": "b.example.com", "zoneId": example})),
    )
    .await;
    assert_eq!((s, code(&v)), (400, 400), "enabled is required: {v}");
}
