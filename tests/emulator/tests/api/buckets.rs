//! Buckets: listing pages with a cursor, jurisdictions, location hints, conflicts, bad names,
//! patch and delete.

use std::collections::BTreeSet;

use reqwest::Method;

use crate::support::*;

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
