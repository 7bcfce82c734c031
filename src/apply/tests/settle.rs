//! Cloudflare catching up, against the fake (on a paused clock, so the waits cost nothing):
//! the configuration, domain and notification steps of a bucket this pass created ride out
//! the post-create lag; a bucket this pass did not create is not waited for; a zone change
//! asks its add again while the hostname is in use; a domain left detached fails the step.

use super::*;
use crate::apply::settle::Backoff;
use crate::observed::bucket_config::CorsRule;
use crate::observed::notification::NotificationRule;

fn cors() -> Step {
    Step::ConfigureBucket {
        bucket: bref("media"),
        write: ConfigWrite::Put(ConfigValue::Cors(vec![CorsRule::new(
            Some("web".into()),
            ["https://app.example.com"],
            ["GET"],
            [],
            [],
            None,
        )])),
        changes: vec!["+web".into()],
        loosens: Vec::new(),
        removes_default_rule: false,
        public_url: None,
    }
}

fn add_domain() -> DomainWrite {
    DomainWrite::Add {
        domain: "assets.example.com".into(),
        zone_id: "z2".into(),
        enabled: true,
        min_tls: None,
    }
}

fn domain_step(writes: Vec<DomainWrite>) -> Step {
    Step::ConfigureDomain {
        bucket: bref("media"),
        domain: "assets.example.com".into(),
        writes,
        changes: vec!["+assets.example.com".into()],
    }
}

fn notifications() -> Step {
    Step::ConfigureNotifications {
        bucket: bref("media"),
        write: QueueWrite {
            queue_id: "0123456789abcdef0123456789abcdef".into(),
            queue_name: "uploads".into(),
            clear_first: false,
            held: Vec::new(),
            rules: vec![NotificationRule {
                actions: ["PutObject".to_string()].into(),
                prefix: String::new(),
                suffix: String::new(),
                description: String::new(),
            }],
        },
        changes: vec!["+x".into()],
    }
}

fn lagging(fake: &Fake, key: &str, calls: u32) {
    fake.lagging.lock().unwrap().insert(key.into(), calls);
}

#[tokio::test(start_paused = true)]
async fn configuration_of_a_bucket_created_this_pass_survives_the_post_create_lag() {
    // Each kind of step, its write and then its read-back lagging: "no such bucket" for 7
    // calls, one fewer than a call may make.
    for step in [cors(), domain_step(vec![add_domain()]), notifications()] {
        for key in ["media", "media:reads"] {
            let s = setup(&[]);
            let fake = Fake::default();
            lagging(&fake, key, Backoff::POST_CREATE.retries);
            let p = plan(vec![create_bucket("media"), step.clone()]);
            let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
            assert!(!report.has_errors(), "{key}: {:?}", report.steps);
            assert_eq!(
                outcomes(&report),
                [
                    ("create bucket media".into(), "done"),
                    ("update bucket media".into(), "done"),
                ],
                "{key}"
            );
            assert_eq!(
                fake.lagging.lock().unwrap()[key],
                0,
                "{key}: every lag waited out"
            );
        }
    }
    let s = setup(&[]);
    let fake = Fake::default();
    lagging(&fake, "media", 3);
    let (_, _) = run(
        &fake,
        &s,
        &plan(vec![create_bucket("media"), cors()]),
        &Stop::new(),
    )
    .await;
    assert_eq!(
        fake.calls(),
        [
            "create bucket media",
            "PUT cors media",
            "PUT cors media",
            "PUT cors media",
            "PUT cors media",
            "read cors media",
        ]
    );
    assert!(
        matches!(fake.config(Jurisdiction::Default, "media", ConfigKind::Cors), ConfigValue::Cors(r) if r.len() == 1),
        "stored"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lag_longer_than_the_wait_fails_saying_so_and_an_existing_bucket_is_not_waited_for() {
    let s = setup(&[]);
    let fake = Fake::default();
    lagging(&fake, "media", 1000);
    let (report, _) = run(
        &fake,
        &s,
        &plan(vec![create_bucket("media"), cors()]),
        &Stop::new(),
    )
    .await;
    let Outcome::Failed(why) = &report.steps[1].outcome else {
        panic!("{:?}", report.steps)
    };
    assert!(why.contains("bucket does not exist (code 10006)"), "{why}");
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| *c == "PUT cors media")
            .count(),
        1 + Backoff::POST_CREATE.retries as usize,
        "bounded"
    );

    // Not created by this pass: an unknown bucket is a gone one, asked once.
    let fake = Fake::default();
    holding_buckets(&fake, &["media"]);
    lagging(&fake, "media", 1000);
    let (report, _) = run(&fake, &s, &plan(vec![cors()]), &Stop::new()).await;
    assert_eq!(report.steps[0].outcome.as_str(), "failed");
    assert_eq!(fake.calls(), ["PUT cors media"]);
}

#[tokio::test(start_paused = true)]
async fn a_zone_change_retries_the_add_while_the_hostname_is_in_use_and_converges() {
    let s = setup(&[]);
    let fake = Fake {
        in_use_for: 3,
        ..Fake::default()
    };
    holding_buckets(&fake, &["media"]);
    fake.set(
        Jurisdiction::Default,
        "media",
        ConfigValue::CustomDomains(vec![CustomDomain {
            domain: "assets.example.com".into(),
            zone_id: Some("z1".into()),
            zone_name: Some("example.com".into()),
            enabled: true,
            min_tls: Some(crate::config::MinTls::V10),
            status: None,
        }]),
    );
    let remove = DomainWrite::Remove {
        domain: "assets.example.com".into(),
    };
    let p = plan(vec![domain_step(vec![remove, add_domain()])]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(report.steps[0].outcome, Outcome::Done, "{:?}", report.steps);
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| *c == "POST domain media assets.example.com")
            .count(),
        4,
        "three 409s, then the add"
    );
    assert_eq!(
        fake.domains(Jurisdiction::Default, "media")[0]
            .zone_id
            .as_deref(),
        Some("z2")
    );
}

#[tokio::test(start_paused = true)]
async fn a_domain_left_detached_by_a_failed_step_fails_it_and_is_never_blocked() {
    let s = setup(&[]);
    let fake = Fake {
        in_use_for: 1000,
        ..Fake::default()
    };
    holding_buckets(&fake, &["media"]);
    fake.set(
        Jurisdiction::Default,
        "media",
        ConfigValue::CustomDomains(vec![CustomDomain {
            domain: "assets.example.com".into(),
            zone_id: Some("z1".into()),
            zone_name: Some("example.com".into()),
            enabled: true,
            min_tls: None,
            status: None,
        }]),
    );
    let remove = DomainWrite::Remove {
        domain: "assets.example.com".into(),
    };
    let p = plan(vec![domain_step(vec![remove, add_domain()])]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert!(report.has_errors(), "exit 1");
    let Outcome::Failed(why) = &report.steps[0].outcome else {
        panic!("{:?}", report.steps)
    };
    assert!(
        why.contains("as in use (409)")
            && why.contains(
                "custom domain assets.example.com was removed from bucket media for its zone change and is detached now"
            ),
        "{why}"
    );
    assert!(!why.contains("another bucket"), "{why}");
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| *c == "POST domain media assets.example.com")
            .count(),
        1 + Backoff::RELEASE.retries as usize,
        "bounded"
    );
    assert!(
        fake.domains(Jurisdiction::Default, "media").is_empty(),
        "detached indeed"
    );
}
