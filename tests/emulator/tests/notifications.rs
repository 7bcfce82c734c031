//! The queue directory and the event-notification routes
//! (https://developers.cloudflare.com/r2/buckets/event-notifications/, and the live codes
//! alchemy-run/distilled records):
//! the queue list paged with `result_info`; Queues Read needed to list; a PUT that adds rules
//! and refuses one overlapping a rule the queue holds (409 / 11020) or another rule of the
//! same body (400 / 11014); the bucket's configuration per queue; DELETE of all of a queue's
//! rules or of `ruleIds`; and the live switches: dashed queue ids, generated descriptions,
//! 404s for no rules, and the overlap by key range alone.

mod support;

use cf_emulator::{Behaviour, Emulator, EmulatorConfig};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn with_queues(names: &[&str]) -> Emulator {
    with(names, Behaviour::default()).await
}

async fn with(names: &[&str], behaviour: Behaviour) -> Emulator {
    Emulator::start(EmulatorConfig {
        queues: names.iter().map(|s| s.to_string()).collect(),
        behaviour,
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
    assert_eq!((s, code(&v)), (409, 11020), "{v}");
    // The documented example: everything and images/ for one action overlap.
    let (s, v) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{uploads}"),
        Some(json!({"rules": [{"actions": ["PutObject"]}]})),
    )
    .await;
    assert_eq!((s, code(&v)), (409, 11020));
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
    assert_eq!(
        (s, code(&v)),
        (404, 11015),
        "the bucket has no rules at all"
    );
    let (s, v) = rules(
        &api,
        Method::GET,
        &format!("/queues/{}", "9".repeat(32)),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (404, 11000), "an unknown queue");
    let (s, v) = rules(
        &api,
        Method::DELETE,
        &format!("/queues/{}", "9".repeat(32)),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (404, 11000), "an unknown queue");
    let (s, _) = rules(&api, Method::DELETE, &format!("/queues/{uploads}"), None).await;
    assert_eq!(s, 200, "by default a DELETE of no rules is fine");
    let (s, v) = api
        .json(
            Method::GET,
            "/accounts/:acct/event_notifications/r2/nope/configuration",
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (404, 10006));
}

#[tokio::test]
async fn live_switches_dash_queue_ids_generate_descriptions_and_answer_404_for_no_rules() {
    let emu = with(
        &["uploads", "audit"],
        Behaviour::default().live_notifications(),
    )
    .await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let uploads = emu.add_queue("uploads");
    let audit = emu.add_queue("audit");
    let (s, v) = rules(&api, Method::GET, "", None).await;
    assert_eq!((s, code(&v)), (404, 11015), "a bucket without rules");
    let (s, v) = rules(&api, Method::DELETE, &format!("/queues/{uploads}"), None).await;
    assert_eq!(
        (s, code(&v)),
        (404, 11015),
        "nothing to delete on the bucket"
    );

    let (s, v) = rules(
        &api,
        Method::PUT,
        &format!("/queues/{uploads}"),
        Some(json!({"rules": [
            {"actions": ["PutObject"], "prefix": "images/", "description": "thumbs"},
            {"actions": ["DeleteObject"], "prefix": "logs/"}
        ]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = rules(&api, Method::GET, "", None).await;
    let q = &v["result"]["queues"][0];
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &uploads[..8],
        &uploads[8..12],
        &uploads[12..16],
        &uploads[16..20],
        &uploads[20..]
    );
    assert_eq!(q["queueId"], dashed.as_str(), "a dashed UUID");
    let (_, one) = rules(&api, Method::GET, &format!("/queues/{uploads}"), None).await;
    assert_eq!(one["result"]["queueId"], dashed.as_str());
    let descriptions: Vec<&str> = q["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        descriptions,
        ["thumbs", "DeleteObject on logs/*"],
        "a description sent is kept; one left out is generated"
    );
    // The paths keep 32 hex: a dashed id there names no queue.
    let (s, v) = rules(&api, Method::DELETE, &format!("/queues/{dashed}"), None).await;
    assert_eq!((s, code(&v)), (404, 11000));
    let (s, v) = rules(&api, Method::GET, &format!("/queues/{audit}"), None).await;
    assert_eq!((s, code(&v)), (404, 11011), "a queue without rules");
    let (s, v) = rules(&api, Method::DELETE, &format!("/queues/{audit}"), None).await;
    assert_eq!((s, code(&v)), (404, 11011));
    let (s, _) = rules(&api, Method::DELETE, &format!("/queues/{uploads}"), None).await;
    assert_eq!(s, 200);
    let (s, v) = rules(&api, Method::GET, "", None).await;
    assert_eq!((s, code(&v)), (404, 11015), "no rules again");
}

#[tokio::test]
async fn by_key_range_rules_with_disjoint_actions_clash_and_by_default_they_do_not() {
    for (by_keys, refused) in [(false, false), (true, true)] {
        let emu = with(
            &["uploads"],
            Behaviour {
                overlap_by_keys: by_keys,
                ..Behaviour::default()
            },
        )
        .await;
        let api = Api::admin(&emu);
        api.create_bucket("default", "media").await;
        let uploads = emu.add_queue("uploads");
        let path = format!("/queues/{uploads}");
        let create = json!({"actions": ["PutObject"], "prefix": "images/", "suffix": ".jpg"});
        let delete = json!({"actions": ["DeleteObject"], "prefix": "images/"});
        let (s, v) = rules(
            &api,
            Method::PUT,
            &path,
            Some(json!({"rules": [create, delete]})),
        )
        .await;
        let want = if refused { (400, 11014) } else { (200, 0) };
        assert_eq!((s, if s == 200 { 0 } else { code(&v) }), want, "{v}");
        rules(&api, Method::DELETE, &path, None).await;
        assert_eq!(
            rules(&api, Method::PUT, &path, Some(json!({"rules": [create]})))
                .await
                .0,
            200
        );
        let (s, v) = rules(&api, Method::PUT, &path, Some(json!({"rules": [delete]}))).await;
        let want = if refused { (409, 11020) } else { (200, 0) };
        assert_eq!((s, if s == 200 { 0 } else { code(&v) }), want, "{v}");
        // Disjoint key ranges never clash.
        let (s, _) = rules(
            &api,
            Method::PUT,
            &path,
            Some(json!({"rules": [{"actions": ["DeleteObject"], "prefix": "logs/"}]})),
        )
        .await;
        assert_eq!(s, 200);
    }
}
