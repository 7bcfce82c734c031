//! The queue directory and the event-notification routes (issue 15; R2-CONFIG-NOTES §5): the
//! queue list paged with `result_info`; Queues Read needed to list; a PUT that adds rules and
//! refuses one overlapping a rule the queue holds (409) or another rule of the same body
//! (400), both code 11014; the bucket's configuration per queue; DELETE of all of a queue's
//! rules or of `ruleIds`.

mod support;

use cf_emulator::{Emulator, EmulatorConfig};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn with_queues(names: &[&str]) -> Emulator {
    Emulator::start(EmulatorConfig {
        queues: names.iter().map(|s| s.to_string()).collect(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

async fn rules(api: &Api<'_>, method: Method, rest: &str, body: Option<Value>) -> (u16, Value) {
    api.json(
        method,
        &format!("/accounts/:acct/event_notifications/r2/media/configuration{rest}"),
        body,
    )
    .await
}

fn code(v: &Value) -> i64 {
    v["errors"][0]["code"].as_i64().unwrap()
}

#[tokio::test]
async fn queues_are_listed_page_by_page_and_need_queues_read() {
    let names: Vec<String> = (0..7).map(|i| format!("q{i}")).collect();
    let emu = with_queues(&names.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let api = Api::admin(&emu);
    let (s, v) = api
        .json(
            Method::GET,
            "/accounts/:acct/queues?page=2&per_page=5",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["result"].as_array().unwrap().len(), 2);
    assert_eq!(v["result"][0]["queue_name"], "q5");
    assert_eq!(v["result_info"]["total_pages"], 2);
    assert_eq!(v["result"][0]["queue_id"].as_str().unwrap().len(), 32);
    let (_, r2_only) = api
        .create_token("r2", ADMIN_WRITE, api.account_resource())
        .await;
    let (s, v) = Api::with_token(&emu, &r2_only)
        .json(Method::GET, "/accounts/:acct/queues", None)
        .await;
    assert_eq!((s, code(&v)), (403, 10000));
    let (_, reader) = api
        .create_token(
            "queues",
            "51be10a1ad6b4d4ea5bbd7e4e0c5f3c8",
            api.account_resource(),
        )
        .await;
    let (s, _) = Api::with_token(&emu, &reader)
        .json(Method::GET, "/accounts/:acct/queues", None)
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_put_adds_rules_and_refuses_overlaps_and_a_delete_takes_all_or_the_named_ones() {
    let emu = with_queues(&["uploads", "audit"]).await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let uploads = emu.add_queue("uploads");
    let (s, v) = rules(&api, Method::GET, "", None).await;
    assert_eq!(
        (s, &v["result"]),
        (200, &json!({"bucketName": "media", "queues": []}))
    );

    let images = json!({"actions": ["PutObject", "CopyObject"], "prefix": "images/", "description": "thumbs"});
    let (s, v) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{uploads}"),
        Some(json!({"rules": [images]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // The PUT adds: a disjoint rule joins, the same rule again is refused (TF #6007).
    let logs = json!({"actions": ["DeleteObject"], "prefix": "logs/", "suffix": ".gz"});
    let (s, _) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{uploads}"),
        Some(json!({"rules": [logs]})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{uploads}"),
        Some(json!({"rules": [images]})),
    )
    .await;
    assert_eq!((s, code(&v)), (409, 11014), "{v}");
    // The documented example: everything and images/ for one action overlap.
    let (s, v) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{uploads}"),
        Some(json!({"rules": [{"actions": ["PutObject"]}]})),
    )
    .await;
    assert_eq!((s, code(&v)), (409, 11014));
    let (s, v) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{}", emu.add_queue("audit")),
        Some(json!({"rules": [
            {"actions": ["PutObject"], "prefix": "a/"}, {"actions": ["PutObject"], "suffix": ".jpg"}
        ]})),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (400, 11014),
        "two overlapping rules in one body"
    );
    let (s, v) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{}", "9".repeat(32)),
        Some(json!({"rules": [{"actions": ["PutObject"]}]})),
    )
    .await;
    assert_eq!((s, code(&v)), (404, 11000));
    let (s, v) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{uploads}"),
        Some(json!({"rules": [{"actions": ["AbortMultipartUpload"]}]})),
    )
    .await;
    assert_eq!((s, code(&v)), (400, 400));

    let (_, v) = rules(&api, Method::GET, "", None).await;
    let q = &v["result"]["queues"][0];
    assert_eq!(
        (q["queueId"].as_str(), q["queueName"].as_str()),
        (Some(uploads.as_str()), Some("uploads"))
    );
    let held = q["rules"].as_array().unwrap();
    assert_eq!(held.len(), 2);
    assert!(
        held.iter()
            .all(|r| r["ruleId"].is_string() && r["createdAt"].is_string())
    );
    assert_eq!(held[0]["description"], "thumbs");
    let first = held[0]["ruleId"].as_str().unwrap().to_string();

    // DELETE with ruleIds takes those; without a body, the rest.
    let (s, _) = rules(
        &api,
        Method::DELETE,
        &format!("/queues/{uploads}"),
        Some(json!({"ruleIds": [first]})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        emu.notification_rules("default", "media").unwrap()["uploads"].len(),
        1
    );
    let (s, _) = rules(&api, Method::DELETE, &format!("/queues/{uploads}"), None).await;
    assert_eq!(s, 200);
    assert!(
        emu.notification_rules("default", "media")
            .unwrap()
            .is_empty()
    );
    let (s, v) = rules(&api, Method::GET, &format!("/queues/{uploads}"), None).await;
    assert_eq!((s, code(&v)), (404, 11015));
    let (s, v) = api
        .json(
            Method::GET,
            "/accounts/:acct/event_notifications/r2/nope/configuration",
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (404, 10006));
}
