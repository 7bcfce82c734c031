//! The emulator's REST API behaves as Cloudflare's schema, docs and SDKs say Cloudflare does.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use cf_emulator::Faults;
use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn bucket_listing_pages_with_a_cursor_across_2500_buckets_per_jurisdiction() {
    let emu = start().await;
    let api = Api::admin(&emu);
    let mut futures = Vec::new();
    for i in 0..2500 {
        let api = &api;
        futures.push(async move {
            let (s, v) = api
                .create_bucket("default", &format!("bucket-{i:05}"))
                .await;
            assert_eq!(s, 200, "{v}");
        });
    }
    futures::future::join_all(futures).await;
    api.create_bucket("eu", "only-in-eu").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut r = api
            .req(Method::GET, "/accounts/:acct/r2/buckets")
            .query(&[("per_page", "1000")]);
        if let Some(c) = &cursor {
            r = r.query(&[("cursor", c.as_str())]);
        }
        let v: serde_json::Value = r.send().await.unwrap().json().await.unwrap();
        pages += 1;
        for b in v["result"]["buckets"].as_array().unwrap() {
            seen.push(b["name"].as_str().unwrap().to_string());
        }
        match v["result_info"]["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 2500);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 2500);
    assert!(
        !seen.contains(&"only-in-eu".to_string()),
        "eu bucket leaked into default"
    );

    let (_, v) = api
        .json(
            Method::GET,
            "/accounts/:acct/r2/buckets?per_page=5&name_contains=0249&direction=desc",
            None,
        )
        .await;
    let names: Vec<&str> = v["result"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "bucket-02499");
    assert!(names.windows(2).all(|w| w[0] > w[1]));
    let (s, _) = api
        .json(
            Method::GET,
            "/accounts/:acct/r2/buckets?per_page=1001",
            None,
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn buckets_are_invisible_from_another_jurisdiction() {
    let emu = start().await;
    let api = Api::admin(&emu);
    assert_eq!(api.create_bucket("eu", "logs").await.0, 200);
    let get = |j: &'static str| {
        api.req(Method::GET, "/accounts/:acct/r2/buckets/logs")
            .header("cf-r2-jurisdiction", j)
            .send()
    };
    let r = get("default").await.unwrap();
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], 10006);
    assert_eq!(get("eu").await.unwrap().status(), 200);
    // Same name, another jurisdiction: a separate namespace.
    assert_eq!(api.create_bucket("default", "logs").await.0, 200);
}

#[tokio::test]
async fn a_bucket_created_without_a_hint_is_located_where_its_jurisdiction_can_be() {
    let emu = start().await;
    let api = Api::admin(&emu);
    for (j, want) in [
        ("eu", "WEUR"),
        ("default", "ENAM"),
        ("fedramp", "ENAM"),
        ("us", "ENAM"),
    ] {
        let (s, v) = api.create_bucket(j, "placed").await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["result"]["location"], want, "{j}: {v}");
    }
}

#[tokio::test]
async fn bucket_create_conflicts_bad_names_patch_and_delete() {
    let emu = start().await;
    let api = Api::admin(&emu);
    assert_eq!(api.create_bucket("default", "media").await.0, 200);
    let (s, v) = api.create_bucket("default", "media").await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (409, Some(10004)));
    let (s, v) = api.create_bucket("default", "Bad_Name").await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (400, Some(10005)));

    let r = api
        .req(Method::PATCH, "/accounts/:acct/r2/buckets/media")
        .header("cf-r2-storage-class", "InfrequentAccess")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["result"]["storage_class"], "InfrequentAccess");

    let (s, _) = api
        .json(Method::DELETE, "/accounts/:acct/r2/buckets/media", None)
        .await;
    assert_eq!(s, 200);
    let (s, v) = api
        .json(Method::DELETE, "/accounts/:acct/r2/buckets/media", None)
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (404, Some(10006)));
}

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

#[tokio::test]
async fn stats_count_calls_by_route_template_and_reset() {
    let emu = start().await;
    let admin = Api::admin(&emu);
    admin.create_bucket("default", "one").await;
    admin
        .json(Method::GET, "/accounts/:acct/r2/buckets/one", None)
        .await;
    admin
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    let stats: serde_json::Value =
        reqwest::get(emu.api_url().replace("/client/v4", "/__emulator/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["mutating"], 1);
    assert_eq!(stats["by_route"]["GET /accounts/:id/r2/buckets/:name"], 1);
    assert_eq!(stats["by_route"]["POST /accounts/:id/r2/buckets"], 1);
    support::http()
        .post(
            emu.api_url()
                .replace("/client/v4", "/__emulator/reset-stats"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(emu.stats().total, 0);
}

#[tokio::test]
async fn fail_rate_one_answers_500_with_code_10001() {
    let emu = start().await;
    emu.set_faults(Faults {
        fail_rate: 1.0,
        ..Default::default()
    });
    let (s, v) = Api::admin(&emu)
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (500, Some(10001)));
    emu.set_faults(Faults::default());
    assert_eq!(
        Api::admin(&emu)
            .json(Method::GET, "/accounts/:acct/r2/buckets", None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn fail_rate_is_deterministic_for_a_seed() {
    let run = |seed| async move {
        let emu = start().await;
        emu.set_faults(Faults {
            fail_rate: 0.5,
            seed,
            ..Default::default()
        });
        let api = Api::admin(&emu);
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(
                api.json(Method::GET, "/accounts/:acct/r2/buckets", None)
                    .await
                    .0,
            );
        }
        out
    };
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert!(a.contains(&500) && a.contains(&200));
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_ratelimit_headers() {
    let emu = start().await;
    emu.set_faults(Faults {
        rate_limit: Some((3, Duration::from_secs(2))),
        ..Default::default()
    });
    let api = Api::admin(&emu);
    for i in 0..3 {
        let r = api
            .req(Method::GET, "/accounts/:acct/r2/buckets")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rl = r.headers()["ratelimit"].to_str().unwrap().to_string();
        assert!(
            rl.starts_with(&format!("\"default\";r={};t=", 2 - i)),
            "{rl}"
        );
        assert_eq!(r.headers()["ratelimit-policy"], "\"default\";q=3;w=2");
    }
    let r = api
        .req(Method::GET, "/accounts/:acct/r2/buckets")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], 971);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(
        api.req(Method::GET, "/accounts/:acct/r2/buckets")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn latency_delays_every_call() {
    let emu = start().await;
    emu.set_faults(Faults {
        latency_ms: 300,
        ..Default::default()
    });
    let started = std::time::Instant::now();
    Api::admin(&emu)
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    // A lower bound only: the call cannot be faster than the injected latency.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn the_binary_prints_one_startup_line_and_serves() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cf-emulator"))
        .args([
            "--account-id",
            "023e105f4ecef8ad9ca31a8372d0c353",
            "--admin-token",
            "secret-admin",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["account_id"], "023e105f4ecef8ad9ca31a8372d0c353");
    assert_eq!(v["admin_token"], "secret-admin");
    for j in ["default", "eu", "fedramp", "us"] {
        assert!(
            v["s3_urls"][j]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
    }
    let r = support::http()
        .get(format!(
            "{}/accounts/023e105f4ecef8ad9ca31a8372d0c353/tokens/verify",
            v["api_url"].as_str().unwrap()
        ))
        .bearer_auth("secret-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // SIGTERM ends it.
    std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().code().is_some());
}
