//! Domains and notifications converge: set, then a pass with no mutating call; drift
//! repaired; the daemon's domain status; a new bucket's post-create lag survived.

use std::collections::BTreeSet;
use std::time::Duration;

use r2gitops::cloudflare::WriteApi;
use r2gitops::config::Jurisdiction;
use r2gitops::observed::notification::NotificationRule;
use r2gitops::plan::DomainWrite;
use r2gitops::plan::QueueWrite;
use serde_json::{Value, json};

use crate::common;
use crate::{
    BOTH, DELETE_RULES, GET_DOMAINS, GET_QUEUES, GET_RULES, GET_ZONES, POST_DOMAIN, PUT_RULES,
    World, answered, create, delete, file, has, stderr, stdout,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_and_notifications_are_set_and_a_second_pass_makes_no_mutating_call() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for line in [
        "+ create bucket media (default)",
        "~ update bucket media: custom_domains +assets.example.com (zone example.com, min_tls 1.2)",
        "~ update bucket media: notifications uploads +object-create:images/*",
        "~ update bucket media: notifications audit +object-delete:*",
        "Apply complete: 4 done, 0 failed",
    ] {
        has(&out, line);
    }
    assert_eq!(
        w.domains("media"),
        [(
            "assets.example.com".into(),
            "example.com".into(),
            true,
            Some("1.2".into())
        )]
    );
    assert_eq!(w.emu.dns_records("example.com"), ["assets.example.com"]);
    assert_eq!(
        w.rules("media"),
        [
            ("audit".into(), vec![(delete(), String::new())]),
            ("uploads".into(), vec![(create(), "images/".into())]),
        ]
    );
    assert_eq!(
        w.emu.notification_rules("default", "media").unwrap()["uploads"][0]["description"],
        "thumbnails"
    );

    // Converged: reads only (one zone lookup, one queue list, one GET per block), and the
    // pending status is information, not drift.
    w.emu.reset_stats();
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    has(
        &again,
        "· custom domain assets.example.com (bucket media): ownership pending, ssl initializing",
    );
    has(&again, "No changes. 1 unchanged.");
    let again = w.run(&["reconcile"]).await;
    assert_eq!(again.status.code(), Some(0));
    let stats = w.emu.stats();
    assert_eq!(stats.mutating, 0, "a converged pass makes no mutating call");
    for route in [GET_ZONES, GET_QUEUES, GET_DOMAINS, GET_RULES] {
        assert_eq!(w.calls(route), 2, "{route}: once per pass");
    }
    let json = w.run(&["reconcile", "--dry-run", "--output", "json"]).await;
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["custom_domains"],
        json!([{"bucket": "media", "jurisdiction": "default", "domain": "assets.example.com",
                "enabled": true, "ownership": "pending", "ssl": "initializing"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_and_a_rule_added_out_of_band_to_a_declared_queue_goes() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    // Out of band: a rule added to `uploads` (Cloudflare's PUT adds), the domain disabled.
    let admin = common::admin_client(&w.emu).await.into_writer();
    let uploads = w.emu.add_queue("uploads");
    admin
        .write_notifications(
            Jurisdiction::Default,
            "media",
            &QueueWrite {
                queue_id: uploads.as_str().into(),
                queue_name: "uploads".into(),
                clear_first: false,
                rules: vec![NotificationRule {
                    actions: BTreeSet::from(["PutObject".to_string()]),
                    prefix: "tmp/".into(),
                    suffix: String::new(),
                    description: String::new(),
                }],
                held: Vec::new(),
            },
        )
        .await
        .unwrap();
    admin
        .write_custom_domain(
            Jurisdiction::Default,
            "media",
            &DomainWrite::Update {
                domain: "assets.example.com".into(),
                enabled: false,
                min_tls: None,
            },
        )
        .await
        .unwrap();
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    has(
        &out,
        "~ update bucket media: notifications uploads -PutObject:tmp/* (its rules deleted, then 1 rule put)",
    );
    has(
        &out,
        "~ update bucket media: custom_domains assets.example.com enabled false→true",
    );
    assert_eq!(w.calls(DELETE_RULES), 1, "the queue's rules deleted once");
    assert_eq!(w.calls(PUT_RULES), 1, "then the whole list put once");
    assert_eq!(
        w.rules("media")[1],
        ("uploads".into(), vec![(create(), "images/".into())]),
        "exactly the declared rule"
    );
    assert!(w.domains("media")[0].2, "enabled again");
    w.emu.reset_stats();
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    assert_eq!(w.emu.stats().mutating, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reports_domain_status_and_keeps_its_lookups_for_config_resync() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    let d =
        common::Watch::spawn(w.r2gitops(&["watch", "--interval", "1s", "--listen", "127.0.0.1:0"]));
    common::until(Duration::from_secs(20), "three passes", || async {
        d.successes() >= 3.0
    })
    .await;
    let status: Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(
        status["custom_domains"],
        json!([{"bucket": "media", "jurisdiction": "default", "domain": "assets.example.com",
                "enabled": true, "ownership": "pending", "ssl": "initializing"}])
    );
    // Steady state: passes list buckets, and neither look zones up nor list queues nor read
    // the blocks within config_resync.
    w.emu.reset_stats();
    let start = d.successes();
    common::until(Duration::from_secs(20), "two more passes", || async {
        d.successes() >= start + 2.0
    })
    .await;
    for route in [GET_ZONES, GET_QUEUES, GET_DOMAINS, GET_RULES] {
        assert_eq!(w.calls(route), 0, "{route} within config_resync");
    }
    assert_eq!(w.emu.stats().mutating, 0);
    // Cloudflare finishes with the domain: status only, no step; a file change re-reads.
    assert!(
        w.emu
            .set_domain_status("default", "media", "assets.example.com", "active", "active")
    );
    w.write(&file(
        "",
        &BOTH.replace("min_tls: \"1.2\"", "min_tls: \"1.3\""),
    ));
    common::until(Duration::from_secs(20), "the change applied", || async {
        w.domains("media")[0].3.as_deref() == Some("1.3")
    })
    .await;
    let start = d.successes();
    common::until(Duration::from_secs(20), "one more pass", || async {
        d.successes() >= start + 1.0
    })
    .await;
    let status: Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(status["custom_domains"][0]["ownership"], "active");
    assert_eq!(status["custom_domains"][0]["ssl"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_and_notifications_of_a_bucket_created_this_pass_survive_the_post_create_lag() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    has(&out, "Apply complete: 4 done, 0 failed");
    // The emulator answered 10006 on the domain route and 10085 on the notification route
    // (both 404) before they knew the bucket.
    assert!(
        answered(&w, POST_DOMAIN, 404) >= 1 && answered(&w, PUT_RULES, 404) >= 1,
        "the lag was met: {:?}",
        w.emu.stats().calls
    );
    assert_eq!(w.domains("media").len(), 1);
    assert_eq!(w.rules("media").len(), 2);
    w.emu.reset_stats();
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}
